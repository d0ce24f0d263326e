// Real-browser checks of the clinician's editors (issue 7 §5), run with
// plain `node` (no test runner):
//
//   BASE_URL=http://127.0.0.1:8080 node tests/e2e/editors.spec.mjs
//
// tests/e2e/run.sh starts the server with the demo practice (Dr. Maya
// Lindqvist, the owner, America/Chicago, weekly hours Mon-Thu 09:00-17:00
// and Fri 09:00-13:00) over plain http. With JavaScript off, signed in as
// the owner: Wednesday's hours changed and Thursday closed through the
// weekly form (fields found by their labels), the saved week on reload and
// in /api/v1/availability; an end before its start refused with a 422 that
// keeps what was typed, marks the field and links to it from a summary that
// has focus; a closed date and time off added, listed, seen in the API and
// removed; an offering's description and price changed and seen on the
// public pages. Then the weekly form by keyboard alone (every control in
// order, focus visible at every stop, Enter saves), the editors at phone
// width, and a second clinician, added with `tandem clinician-add`, kept
// out of the owner-only pages. Everything changed is put back, since the
// specs after this one use the same practice. Prints one line per check
// and, last, "N passed, M failed".

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { BASE_URL, EMAIL, PASSWORD, check, day, launchOptions, main, note, tag } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const TANDEM_BIN = process.env.E2E_TANDEM_BIN || resolve(HERE, '..', '..', 'build', 'tandem');
const WATCHDOG_MS = 120_000;
const AVAIL = `${BASE_URL}/admin/availability`;
const SAVED_WEEK = 'Weekly hours saved. Clients see the new times now; existing bookings keep theirs.';
const ORDER_MSG = 'Tuesday, range 1: The end must be after the start.';

// ---- helpers ---------------------------------------------------------------

// The weekday (0 Sunday … 6 Saturday) of a YYYY-MM-DD date.
const weekdayOf = (d) => new Date(`${d}T12:00:00Z`).getUTCDay();

// The first date from offset days ahead that falls on weekday.
function nextWeekday(weekday, offset) {
  for (let i = offset; i < offset + 7; i++) if (weekdayOf(day(i)) === weekday) return day(i);
  throw new Error('unreachable');
}

const addDays = (d, n) => new Date(Date.parse(`${d}T12:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

// A date as the server writes it (core/humantime.c): "Monday, November 30, 2026".
const longDate = (d) =>
  new Date(`${d}T12:00:00Z`).toLocaleDateString('en-US', {
    weekday: 'long', month: 'long', day: 'numeric', year: 'numeric', timeZone: 'UTC',
  });

// The consult's open starts from..to, grouped by local date: {date: ["09:00", …]}.
// (Starts carry the practice's offset, so their first 16 characters are local.)
async function consultStarts(from, to) {
  const r = await fetch(`${BASE_URL}/api/v1/availability?offering=consult&from=${from}&to=${to}`);
  if (r.status !== 200) throw new Error(`availability: ${r.status} ${await r.text()}`);
  const out = {};
  for (const s of (await r.json()).slots) {
    const d = s.start.slice(0, 10);
    (out[d] ||= []).push(`${s.start.slice(11, 16)}-${s.end.slice(11, 16)}`);
  }
  return out;
}

// The starts on one weekday across the window, one list per date that has any.
const onWeekday = (byDate, weekday) =>
  Object.entries(byDate).filter(([d]) => weekdayOf(d) === weekday).map(([, v]) => v);

// What has focus: a short name, and whether a real outline shows (the
// product's 3px ring; date and time inputs keep it on their picker too).
async function focusInfo(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { name: 'body', visible: false };
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    const text = (el.innerText || '').trim().slice(0, 30);
    return {
      name: el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}(${text})`,
      visible: cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2 && r.width > 0 && r.height > 0,
    };
  });
}

// Submits with a click and waits for the answer and the page it leads to.
async function submit(page, button, urlPart) {
  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().includes(urlPart)),
    button.click(),
  ]);
  await page.waitForLoadState('load');
  return resp.status();
}

const notice = async (page) => (await page.locator('[role=status]').innerText().catch(() => '')).trim();

async function signIn(page, email, password) {
  await page.goto(`${BASE_URL}/admin/login`, { waitUntil: 'load' });
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForURL(`${BASE_URL}/admin`), page.getByRole('button', { name: 'Sign in' }).click()]);
  return (await page.locator('h1').innerText()).trim() === 'Dashboard';
}

// The weekly form's row fields, by their labels ("From (Wednesday range 1)").
const from = (page, dayName, n = 1) => page.getByLabel(`From (${dayName} range ${n})`, { exact: true });
const to = (page, dayName, n = 1) => page.getByLabel(`To (${dayName} range ${n})`, { exact: true });
const saveWeek = (page) => page.getByRole('button', { name: 'Save weekly hours' });

// Puts the demo week back as seeded (Wednesday 09:00-17:00, Thursday too,
// Tuesday as well in case a refused form was left half-typed).
async function restoreWeek(page) {
  await page.goto(AVAIL, { waitUntil: 'load' });
  for (const d of ['Tuesday', 'Wednesday', 'Thursday']) {
    await from(page, d).fill('09:00');
    await to(page, d).fill('17:00');
  }
  return submit(page, saveWeek(page), '/admin/availability/weekly');
}

// ---- 1. weekly hours, JavaScript off ------------------------------------

async function weeklyHours(page, win) {
  const before = await consultStarts(win.from, win.to);
  const wedBefore = onWeekday(before, 3);
  const thuBefore = onWeekday(before, 4);
  check(wedBefore.some((v) => v[0] === '09:00-09:20') && thuBefore.length > 0,
    'before: the API offers Wednesday consults from 09:00, and Thursday ones',
    JSON.stringify({ wed: wedBefore.map((v) => v[0]), thu: thuBefore.length }));

  await page.goto(AVAIL, { waitUntil: 'load' });
  check((await page.locator('h1').innerText()).trim() === 'Availability', 'the availability editor opens');
  check((await from(page, 'Wednesday').inputValue()) === '09:00' && (await to(page, 'Wednesday').inputValue()) === '17:00',
    'the form shows the stored Wednesday hours under their labels');
  await from(page, 'Wednesday').fill('10:30');
  await to(page, 'Wednesday').fill('15:00');
  await from(page, 'Thursday').fill('');
  await to(page, 'Thursday').fill('');
  const st = await submit(page, saveWeek(page), '/admin/availability/weekly');
  check(st === 303 && page.url() === `${AVAIL}?done=weekly`, 'saving answers 303 back to the editor', `${st} ${page.url()}`);
  check((await notice(page)) === SAVED_WEEK, 'the page says the hours were saved', await notice(page));

  await page.reload({ waitUntil: 'load' });
  const seen = {
    wed: [await from(page, 'Wednesday').inputValue(), await to(page, 'Wednesday').inputValue()],
    thu: [await from(page, 'Thursday').inputValue(), await to(page, 'Thursday').inputValue()],
    mon: [await from(page, 'Monday').inputValue(), await to(page, 'Monday').inputValue()],
  };
  check(JSON.stringify(seen) === JSON.stringify({ wed: ['10:30', '15:00'], thu: ['', ''], mon: ['09:00', '17:00'] }),
    'on reload: Wednesday 10:30-15:00, Thursday empty, Monday as it was', JSON.stringify(seen));

  const after = await consultStarts(win.from, win.to);
  const wed = onWeekday(after, 3);
  const inside = wed.flat().every((s) => s.slice(0, 5) >= '10:30' && s.slice(6) <= '15:00');
  check(wed.length > 0 && inside && wed.some((v) => v[0] === '10:30-10:50' && v[v.length - 1] === '14:30-14:50'),
    'the API now offers Wednesday consults from 10:30, the last at 14:30 (20 min + 10 min buffer)',
    JSON.stringify(wed.map((v) => [v[0], v[v.length - 1]])));
  check(onWeekday(after, 4).length === 0, 'the API offers nothing on Thursdays any more',
    JSON.stringify(onWeekday(after, 4)));
  check(JSON.stringify(onWeekday(after, 1)) === JSON.stringify(onWeekday(before, 1)), 'Mondays are untouched');
}

// ---- 2. a refused form --------------------------------------------------

async function weeklyRefused(page) {
  await page.goto(AVAIL, { waitUntil: 'load' });
  await from(page, 'Tuesday').fill('17:00');
  await to(page, 'Tuesday').fill('09:00');
  const st = await submit(page, saveWeek(page), '/admin/availability/weekly');
  check(st === 422, 'an end before the start is refused with 422', String(st));

  const field = from(page, 'Tuesday');
  const wiring = await field.evaluate((el) => {
    const ids = (el.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
    const msgs = ids.map((id) => document.getElementById(id)).filter(Boolean);
    return {
      invalid: el.getAttribute('aria-invalid'),
      described: msgs.map((m) => m.textContent.trim()),
      visible: msgs.every((m) => m.getBoundingClientRect().height > 0),
      nextToIt: msgs.every((m) => m.closest('.range-row') === el.closest('.range-row')),
    };
  });
  check(wiring.invalid === 'true', 'the field is marked aria-invalid', JSON.stringify(wiring));
  check(JSON.stringify(wiring.described) === JSON.stringify([ORDER_MSG]) && wiring.visible && wiring.nextToIt,
    'aria-describedby points at the visible message next to the field', JSON.stringify(wiring));
  const toWired = await to(page, 'Tuesday').evaluate((el) => [el.getAttribute('aria-invalid'), el.getAttribute('aria-describedby')]);
  check(toWired.join() === 'true,r2_0-error', 'its "To" is marked and described too', toWired.join());
  const typed = [await from(page, 'Tuesday').inputValue(), await to(page, 'Tuesday').inputValue(),
    await from(page, 'Wednesday').inputValue(), await to(page, 'Wednesday').inputValue()];
  check(typed.join() === '17:00,09:00,10:30,15:00', 'the refused page keeps what was typed, on every day', typed.join());
  const others = await page.locator('[aria-invalid=true]').count();
  check(others === 2, 'only the wrong row is marked', String(others));

  const summary = page.locator('#form-errors');
  const items = await summary.locator('li a').evaluateAll((as) => as.map((a) => [a.textContent.trim(), a.getAttribute('href')]));
  check(JSON.stringify(items) === JSON.stringify([[ORDER_MSG, '#r2_0_start']]),
    'a summary at the top lists the problem, linking to the field', JSON.stringify(items));
  const top = await page.evaluate(() => {
    const s = document.getElementById('form-errors');
    const form = document.querySelector('form[action$="/weekly"]');
    return { alert: s.getAttribute('role'), first: !!(s.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING) };
  });
  check(top.alert === 'alert' && top.first, 'the summary is an alert placed before the form', JSON.stringify(top));
  const focused = await focusInfo(page);
  check(focused.name === '#form-errors' && focused.visible, 'without JavaScript the summary has focus on load (visibly)',
    JSON.stringify(focused));
  await summary.getByRole('link', { name: ORDER_MSG }).click();
  const onField = await focusInfo(page);
  check(onField.name === '#r2_0_start' && onField.visible, 'its link puts focus on Tuesday\'s "From"', JSON.stringify(onField));

  await page.goto(AVAIL, { waitUntil: 'load' });
  const kept = [await from(page, 'Tuesday').inputValue(), await to(page, 'Tuesday').inputValue(),
    await from(page, 'Wednesday').inputValue()];
  check(kept.join() === '09:00,17:00,10:30', 'nothing of the refused form was saved', kept.join());
}

// ---- 3. a closed date and time off --------------------------------------

async function datesAndTimeOff(page) {
  // 3 to 9 days ahead: a Friday (never inside an intensive: they need
  // 09:00-16:00 and Fridays end at 13:00), a Monday and the Tuesday after
  // (consults at 16:00 stay open even beside an intensive booked earlier).
  const closedDay = nextWeekday(5, 3);
  const offFirst = nextWeekday(1, 3);
  const offLast = addDays(offFirst, 1);
  const win = [closedDay, offFirst, offLast].sort();
  const before = await consultStarts(win[0], win[2]);
  check([closedDay, offFirst, offLast].every((d) => (before[d] || []).length > 0),
    'before: the API offers consults on the Friday, Monday and Tuesday chosen', JSON.stringify(Object.keys(before)));

  const t = tag();
  await page.goto(AVAIL, { waitUntil: 'load' });
  const dateForm = page.getByRole('form', { name: 'Different hours or closed on one date' });
  await dateForm.getByLabel('Date', { exact: true }).fill(closedDay);
  check(await dateForm.getByLabel('Closed all day').isChecked(), '"Closed all day" is the default choice');
  await dateForm.getByLabel(/^Note/).fill(`Training ${t}`);
  let st = await submit(page, dateForm.getByRole('button', { name: 'Save this date' }), '/admin/availability/dates');
  check(st === 303 && (await notice(page)) === 'Date saved. Clients see the new times now.', 'a closed date is saved',
    `${st} ${await notice(page)}`);
  const closedText = `${longDate(closedDay)}: closed`;
  const closedItem = page.locator('section[aria-labelledby=dates-h] li', { hasText: `Training ${t}` });
  check((await closedItem.innerText().catch(() => '')).startsWith(closedText), 'it is listed by its date',
    await closedItem.innerText().catch(() => ''));

  const offForm = page.getByRole('form', { name: 'Time off' });
  await offForm.getByLabel('First day off').fill(offFirst);
  await offForm.getByLabel(/^Last day off/).fill(offLast);
  await offForm.getByLabel(/^Note/).fill(`Conference ${t}`);
  st = await submit(page, offForm.getByRole('button', { name: 'Save time off' }), '/admin/availability/time-off');
  check(st === 303 && (await notice(page)).startsWith('Time off saved.'), 'time off is saved', `${st} ${await notice(page)}`);
  const offText = `Time off from ${longDate(offFirst)} to ${longDate(offLast)}`;
  const offItem = page.locator('section[aria-labelledby=dates-h] li', { hasText: `Conference ${t}` });
  check((await offItem.innerText().catch(() => '')).startsWith(offText), 'it is listed with its first and last day',
    await offItem.innerText().catch(() => ''));

  const during = await consultStarts(win[0], win[2]);
  check([closedDay, offFirst, offLast].every((d) => !during[d]), 'the API offers nothing on those three days',
    JSON.stringify(Object.keys(during)));

  for (const [text, item] of [[closedText, closedItem], [offText, offItem]]) {
    st = await submit(page, page.getByRole('button', { name: `Remove: ${text}` }), '/remove');
    check(st === 303 && (await notice(page)) === 'Entry removed. Clients see the new times now.' && (await item.count()) === 0,
      `"Remove" takes "${text}" off the list`, `${st} ${await notice(page)}`);
  }
  const again = await consultStarts(win[0], win[2]);
  check([closedDay, offFirst, offLast].every((d) => JSON.stringify(again[d]) === JSON.stringify(before[d])),
    'the API offers those days\' consults again, as before');
}

// ---- 4. an offering -----------------------------------------------------

async function offering(page) {
  await page.goto(`${BASE_URL}/admin/offerings`, { waitUntil: 'load' });
  await Promise.all([page.waitForURL(/\/admin\/offerings\/\d+$/), page.getByRole('link', { name: 'Edit Follow-up check-in' }).click()]);
  const editUrl = page.url();
  check((await page.locator('h1').innerText()).trim() === 'Edit Follow-up check-in', 'the check-in\'s editor opens');
  const desc = page.getByLabel(/^Description/);
  const price = page.getByLabel('Price', { exact: true });
  const was = { desc: await desc.inputValue(), price: await price.inputValue() };
  check(was.price === '175.00' && was.desc.startsWith('A 50-minute video session'), 'it shows the stored description and price',
    JSON.stringify(was));
  const t = tag();
  const newDesc = `Fifty minutes by video to keep the changes going (${t}).`;
  try {
    await desc.fill(newDesc);
    await price.fill('182.50');
    const st = await submit(page, page.getByRole('button', { name: 'Save offering' }), '/admin/offerings/');
    check(st === 303 && page.url() === `${BASE_URL}/admin/offerings?done=updated`, 'saving the offering answers 303 to the list',
      `${st} ${page.url()}`);
    check((await notice(page)).startsWith('Offering saved.'), 'the list says it was saved', await notice(page));

    await page.goto(`${BASE_URL}/`, { waitUntil: 'load' });
    const card = page.locator('article.offering[data-slug=checkin]');
    const cardText = await card.innerText().catch(() => '');
    check(cardText.includes(newDesc) && cardText.includes('$182.50') && !cardText.includes('$175'),
      'the home page shows the new description and price', cardText.replace(/\s+/g, ' '));
    await page.goto(`${BASE_URL}/offerings/checkin`, { waitUntil: 'load' });
    const lede = await page.locator('.offering-detail .lede').innerText().catch(() => '');
    const dd = await page.locator('.offering-detail dt:text-is("Price") + dd').innerText().catch(() => '');
    check(lede.trim() === newDesc && dd.trim() === '$182.50', 'so does the offering\'s own page', `${lede} | ${dd}`);
  } finally {
    await page.goto(editUrl, { waitUntil: 'load' });
    await desc.fill(was.desc);
    await price.fill(was.price);
    const st = await submit(page, page.getByRole('button', { name: 'Save offering' }), '/admin/offerings/');
    check(st === 303, 'the offering is put back as it was', String(st));
  }
}

// ---- 5. keyboard only ---------------------------------------------------

async function keyboard(page) {
  await page.goto(AVAIL, { waitUntil: 'load' });
  // The weekly form's controls in document order: what Tab must reach.
  const controls = await page.evaluate(() =>
    [...document.querySelector('form[action$="/weekly"]').elements]
      .filter((el) => el.type !== 'hidden' && el.tagName !== 'FIELDSET')
      .map((el) => (el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}(${el.innerText.trim()})`)));
  check(controls.length > 40 && controls[controls.length - 1] === 'button(Save weekly hours)',
    'the weekly form ends with its submit button', `${controls.length} ${controls.slice(-1)}`);

  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.evaluate(() => window.scrollTo(0, 0));
  const stops = []; // distinct stops (a time input has several inner ones)
  let hidden = null;
  for (let i = 0; i < 400; i++) {
    await page.keyboard.press('Tab');
    const f = await focusInfo(page);
    if (!f.visible && !hidden) hidden = `${f.name} after ${i + 1} Tabs`;
    if (stops[stops.length - 1] !== f.name) stops.push(f.name);
    if (f.name === 'button(Save weekly hours)') break;
  }
  // (The owner picks whose week once the practice has a second clinician:
  // not in a fresh run, where this comes before nonOwner() adds one.)
  const picker = (await page.getByLabel('Whose availability').count()) > 0 ? ['#clinician-pick', 'button(Show)'] : [];
  const want = ['a(Skip to content)', 'a(Riverbend Practice)', 'a(Dashboard)', 'a(Calendar)', 'a(Calendars)',
    'a(Availability)', 'a(Offerings)', 'a(Practice)', 'a(Audit log)', 'a(Account)', 'button(Sign out)', ...picker,
    '#r1_0_start', '#r1_0_end', '#r1_0_offering', '#r1_1_start', '#r1_1_end', '#r1_1_offering'];
  const head = stops.slice(0, want.length);
  check(JSON.stringify(head) === JSON.stringify(want), 'Tab goes skip link, header, navigation, then Monday\'s From, To, For',
    head.join(' '));
  const inForm = stops.slice(stops.indexOf('#r1_0_start'));
  check(JSON.stringify(inForm) === JSON.stringify(controls), 'Tab reaches every control of the weekly form in order, then Save',
    `${inForm.length} stops vs ${controls.length} controls; first difference at ${inForm.findIndex((s, i) => s !== controls[i])}`);
  check(hidden === null, 'focus is visible at every stop, the time inputs\' picker buttons too', hidden || '');

  const [resp] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/admin/availability/weekly')),
    page.keyboard.press('Enter'),
  ]);
  await page.waitForURL(`${AVAIL}?done=weekly`);
  check(resp.status() === 303 && (await notice(page)) === SAVED_WEEK, 'Enter on "Save weekly hours" saves the week',
    `${resp.status()} ${await notice(page)}`);
  check((await from(page, 'Wednesday').inputValue()) === '10:30', 'the week saved by keyboard is the one shown');

  // Enter inside a field submits the form as well (implicit submission).
  await from(page, 'Friday').focus();
  const [resp2] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/admin/availability/weekly')),
    page.keyboard.press('Enter'),
  ]);
  await page.waitForURL(`${AVAIL}?done=weekly`);
  check(resp2.status() === 303, 'Enter in a time field submits the form too', String(resp2.status()));
}

// ---- 6. phone width -----------------------------------------------------

async function phone(browser, storageState) {
  const ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 }, storageState });
  try {
    const page = await ctx.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`${BASE_URL}/admin/offerings`, { waitUntil: 'load' });
    const edit = await page.getByRole('link', { name: 'Edit Two-day intensive' }).getAttribute('href');
    for (const path of ['/admin/availability', '/admin/offerings', edit, '/admin/offerings/new', '/admin/practice']) {
      const r = await page.goto(`${BASE_URL}${path}`, { waitUntil: 'load' });
      const w = await page.evaluate(() => document.documentElement.scrollWidth);
      check(r.status() === 200 && w <= 390, `${path} at 390 px: no horizontal scroll`, `${r.status()} scrollWidth ${w}`);
    }
    // A refused form, with its summary and messages, fits too.
    await page.goto(AVAIL, { waitUntil: 'load' });
    await from(page, 'Tuesday').fill('17:00');
    await to(page, 'Tuesday').fill('09:00');
    const st = await submit(page, saveWeek(page), '/admin/availability/weekly');
    const w = await page.evaluate(() => document.documentElement.scrollWidth);
    check(st === 422 && w <= 390, 'the refused availability form at 390 px: no horizontal scroll', `${st} scrollWidth ${w}`);
  } finally {
    await ctx.close();
  }
}

// ---- 7. a clinician who is not the owner --------------------------------

async function nonOwner(browser) {
  if (!process.env.TANDEM_DATABASE_URL || !existsSync(TANDEM_BIN)) {
    note(`skipped the non-owner checks: no TANDEM_DATABASE_URL or no ${TANDEM_BIN} (run through tests/e2e/run.sh)`);
    return;
  }
  const t = tag();
  const email = `sam.${t}@riverbend.example`;
  const password = `sam-password-${t}`;
  const dir = mkdtempSync(join(tmpdir(), 'tandem-e2e-editors-'));
  let ctx;
  try {
    const pw = join(dir, 'pw');
    writeFileSync(pw, `${password}\n`, { mode: 0o600 });
    const r = spawnSync(TANDEM_BIN, ['clinician-add', '--email', email, '--name', `Sam Okafor ${t}`, '--password-file', pw],
      { encoding: 'utf8', timeout: 20_000 });
    if (!check(r.status === 0, '`tandem clinician-add` adds a second clinician', (r.stderr || '').trim().slice(0, 200))) return;

    ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(10_000);
    check(await signIn(page, email, password), 'the second clinician signs in');
    const nav = await page.locator('nav.admin-nav').innerText();
    check(!/Practice/.test(nav) && /Availability/.test(nav), 'their navigation has no "Practice"', nav.replace(/\s+/g, ' '));
    const res = await page.goto(`${BASE_URL}/admin/practice`, { waitUntil: 'load' });
    const body = await page.locator('main').innerText();
    check(res.status() === 403 && body.includes('Only the practice owner can change this.'),
      'the practice settings answer them 403 with the reason', `${res.status()} ${body.replace(/\s+/g, ' ').slice(0, 120)}`);
    await page.goto(`${BASE_URL}/admin/offerings`, { waitUntil: 'load' });
    const list = await page.locator('main').innerText();
    check(list.includes('Only the practice owner can change offerings.') &&
      (await page.getByRole('link', { name: /^Edit / }).count()) === 0 &&
      (await page.getByRole('link', { name: 'New offering' }).count()) === 0,
    'they see the offerings but no way to change them', list.replace(/\s+/g, ' ').slice(0, 160));
    const av = await page.goto(AVAIL, { waitUntil: 'load' });
    check(av.status() === 200 && (await from(page, 'Monday').inputValue()) === '' &&
      (await page.getByLabel('Whose availability').count()) === 0,
    'their own availability editor opens with their own (empty) week and no clinician picker', String(av.status()));
  } finally {
    if (ctx) await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the run --------------------------------------------------------------

async function run() {
  if (!check(BASE_URL !== '', 'BASE_URL is set', 'set BASE_URL=http://127.0.0.1:PORT')) return;
  // Consult starts over the next two weeks (from two days ahead: past its notice).
  const win = { from: day(2), to: day(15) };
  const browser = await chromium.launch(launchOptions());
  let ctx;
  let changed = false;
  try {
    ctx = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(10_000);
    const errors = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/status of 422/.test(msg.text())) errors.push(msg.text());
    });
    check(await signIn(page, EMAIL, PASSWORD), 'signed in as the owner, JavaScript off');
    try {
      changed = true;
      await weeklyHours(page, win);
      await weeklyRefused(page);
      await datesAndTimeOff(page);
      await offering(page);
      await keyboard(page);
      await phone(browser, await ctx.storageState());
    } finally {
      if (changed) {
        const st = await restoreWeek(page);
        const back = await consultStarts(win.from, win.to);
        check(st === 303 && onWeekday(back, 3).some((v) => v[0] === '09:00-09:20') && onWeekday(back, 4).length > 0,
          'the demo week is put back (Wednesday from 09:00, Thursday open)', String(st));
      }
    }
    await nonOwner(browser);
    check(errors.length === 0, 'no console errors or CSP violations', errors.slice(0, 3).join(' | '));
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    await browser.close().catch(() => {});
  }
}

await main(run, WATCHDOG_MS);
