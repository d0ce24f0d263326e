// Real-browser checks of the clinician's daily work (issue 7 §9), run with
// plain `node` (no test runner):
//
//   BASE_URL=http://127.0.0.1:8080 TANDEM_MAIL_DIR=var/mail node tests/e2e/clinician.spec.mjs
//
// tests/e2e/run.sh starts the server with the demo practice, plain http
// (insecure_dev_cookies) and the file mail transport, and exports
// TANDEM_MAIL_DIR. Books two intensives through the API (they need
// approval) and has both partners of each send their intakes through
// /api/v1/intake/{token}, one partner of the second raising screening
// flags. Then, signed in as the demo clinician: the request on the
// dashboard, both intakes side by side, Approve with the keyboard alone
// (focus visible on the action buttons), the confirmations with the invite
// in both clients' mail; the flagged booking refused without the
// acknowledgement, then approved; the week view with the booking's days
// linking to it; a feed token created, fetched, revoked, fetched again.
// Prints one line per check and, last, "N passed, M failed".

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { BASE_URL, EMAIL, PASSWORD, bookIntensive, check, day, launchOptions, main, sleep, tag } from './lib.mjs';

const MAIL_DIR = process.env.TANDEM_MAIL_DIR || '';
const WATCHDOG_MS = 120_000;

// Every required question of the intensive intake, answered without a flag.
const CALM = {
  history: 'We met at a choir rehearsal.',
  satisfaction: 6,
  stay_together: 'committed',
  conflict_pattern: 'withdraw',
  hopes: 'Talking without shutting down.',
  prior_therapy: 'no',
  substance_concern: 'no',
  afraid_of_partner: 'no',
  physical_harm: 'no',
  threats: 'no',
  safe_at_home: 'yes',
  outside_relationship: 'no',
  self_harm_thoughts: 'no',
};

const book = (skip) => bookIntensive(skip, ['Robin Calloway', 'Sasha Ferreira'], 170);

// The messages to `address` (the file transport's .eml), decoded: the
// subject, the text (quoted-printable undone) and the calendar parts
// (base64 undone).
function mailsTo(address) {
  const out = [];
  for (const f of readdirSync(MAIL_DIR).filter((n) => n.endsWith('.eml'))) {
    const raw = readFileSync(join(MAIL_DIR, f), 'utf8');
    const head = raw.split(/\r?\n\r?\n/, 1)[0].replace(/\r?\n[ \t]+/g, ' ');
    const to = head.match(/^To:.*$/im);
    if (!to || !to[0].includes(address)) continue;
    const subject = (head.match(/^Subject: (.*)$/im) || ['', ''])[1].replace(
      /=\?UTF-8\?B\?([^?]*)\?=\s*/gi, (_, b) => Buffer.from(b, 'base64').toString('utf8'));
    const text = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    const calendars = [];
    const re = /Content-Type: text\/calendar;[^\r\n]*method=([A-Z]+)\r?\n(?:[^\r\n]+\r?\n)*\r?\n([A-Za-z0-9+/=\r\n]+)/g;
    for (const m of raw.matchAll(re)) {
      calendars.push({ method: m[1], body: Buffer.from(m[2].replace(/\s+/g, ''), 'base64').toString('utf8') });
    }
    out.push({ file: f, subject, text, calendars });
  }
  return out;
}

// Waits (the mail worker polls) for a message to `address` that `pred` likes.
async function waitMail(address, pred) {
  for (let i = 0; i < 150; i++) {
    const m = mailsTo(address).find(pred);
    if (m) return m;
    await sleep(100);
  }
  return null;
}

async function intakeLinkToken(address) {
  const m = await waitMail(address, (x) => /\/intake\/[A-Za-z0-9_-]{16,64}/.test(x.text));
  return m ? m.text.match(/\/intake\/([A-Za-z0-9_-]{16,64})/)[1] : null;
}

async function intakeApi(method, token, body, path = '') {
  const res = await fetch(`${BASE_URL}/api/v1/intake/${token}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  return res.status;
}

// Both partners accept the policy and send their answers.
async function sendIntakes(b, answersA, answersB) {
  const bt = b.doc.intake_url.split('/intake/')[1];
  const pt = await intakeLinkToken(b.partner.email);
  if (!pt) throw new Error(`no intake invitation reached ${b.partner.email}`);
  const st = [
    await intakeApi('PUT', bt, { accept_policy: true }),
    await intakeApi('PUT', pt, { accept_policy: true }),
    await intakeApi('POST', bt, { answers: answersA, signature: b.booker.name }, '/submit'),
    await intakeApi('POST', pt, { answers: answersB, signature: b.partner.name }, '/submit'),
  ];
  return st;
}

// What has focus and whether the focus is visible (:focus-visible with a
// real outline), as in admin.spec.mjs.
async function focusInfo(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { name: 'body', visible: false };
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    const text = (el.innerText || el.value || '').trim().slice(0, 40);
    return {
      name: `${el.tagName.toLowerCase()}${el.tagName === 'A' || el.tagName === 'BUTTON' ? `(${text})` : ''}`,
      form: el.form ? el.form.getAttribute('action') : '',
      visible:
        el.matches(':focus-visible') &&
        cs.outlineStyle !== 'none' &&
        parseFloat(cs.outlineWidth) >= 2 &&
        r.width > 0 &&
        r.height > 0,
    };
  });
}

async function tabTo(page, predicate, max = 60) {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.evaluate(() => window.scrollTo(0, 0));
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const info = await focusInfo(page);
    if (predicate(info)) return info;
  }
  return null;
}

async function status(page) {
  return (await page.locator('dd.status').getAttribute('data-status').catch(() => '')) || '';
}

async function pendingRefs(page) {
  await page.goto(`${BASE_URL}/admin`, { waitUntil: 'load' });
  return page.locator('section[aria-labelledby=pending-h] a.reference').allInnerTexts();
}

async function signIn(page) {
  await page.goto(`${BASE_URL}/admin/login`, { waitUntil: 'load' });
  await tabTo(page, (i) => i.name === 'input');
  await page.keyboard.type(EMAIL);
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await Promise.all([page.waitForURL(`${BASE_URL}/admin`), page.keyboard.press('Enter')]);
  check((await page.locator('h1').innerText()).trim() === 'Dashboard', 'signing in with the keyboard shows the dashboard');
}

// Step 2: the request on the dashboard, both intakes, Approve by keyboard.
async function approvePlain(page, b, marks) {
  const { id, reference } = b.doc;
  const item = page.locator('section[aria-labelledby=pending-h] li', { has: page.locator(`a.reference:text-is("${reference}")`) });
  check((await item.count()) === 1, 'the request is listed under "Awaiting approval"', reference);
  const itemText = await item.innerText().catch(() => '');
  check(/Two-day intensive/.test(itemText) && /Held/.test(itemText), 'the entry names the offering and that it is held', itemText);
  await Promise.all([page.waitForURL(`${BASE_URL}/admin/bookings/${id}`), item.locator('a.reference').click()]);
  check((await page.locator('h1 .reference').innerText()) === reference, 'its link opens the booking', page.url());
  check((await status(page)) === 'held', 'the booking is held, awaiting approval', await status(page));
  check((await page.locator('form[action$="/approve"] input[name=reviewed]').count()) === 0,
    'a booking without flags asks for no acknowledgement');

  await Promise.all([page.waitForURL(`${BASE_URL}/admin/bookings/${id}/intake`),
    page.getByRole('link', { name: 'Read the intake forms' }).click()]);
  check((await page.locator('.no-flags').count()) === 1, 'the intakes show no screening flag');
  const heads = await page.locator('table.side-by-side').first().locator('thead th').allInnerTexts();
  check(heads.join('|') === 'Question|Partner 1 (booked)|Partner 2', 'the table has one column per partner', heads.join('|'));
  for (const [label, a, bb] of marks) {
    const row = page.locator('table.side-by-side tbody tr', { has: page.locator(`th:has-text("${label}")`) });
    const cells = (await row.count()) === 1 ? await row.locator('td').allInnerTexts() : [];
    check(cells.length === 2 && cells[0].trim() === a && cells[1].trim() === bb,
      `"${label}": partner 1's answer left, partner 2's right`, JSON.stringify(cells));
  }
  const people = await page.locator('dl.facts').innerText();
  check(people.includes(`signed “${b.booker.name}”`) && people.includes(`signed “${b.partner.name}”`),
    'both signatures are shown', people.replace(/\s+/g, ' '));

  await Promise.all([page.waitForURL(`${BASE_URL}/admin/bookings/${id}`),
    page.getByRole('link', { name: `Back to booking ${reference}` }).click()]);
  // Keyboard only: Tab to Approve (and past it, to Decline), focus visible.
  const decline = await tabTo(page, (i) => /^button\(Decline\)$/.test(i.name));
  check(decline !== null && decline.visible, 'Tab reaches Decline with visible focus', JSON.stringify(decline));
  const approve = await tabTo(page, (i) => /^button\(Approve\)$/.test(i.name));
  check(approve !== null && approve.visible, 'Tab reaches Approve with visible focus', JSON.stringify(approve));
  await Promise.all([page.waitForURL(`${BASE_URL}/admin/bookings/${id}?done=approved`), page.keyboard.press('Enter')]);
  const done = await page.locator('[role=status]').innerText().catch(() => '');
  check(/^Approved/.test(done.trim()), 'Enter on Approve approves, and the page says so', done);
  check((await status(page)) === 'confirmed' && (await page.locator('dd.status').innerText()) === 'Confirmed',
    'the booking is confirmed', await status(page));
  const hist = await page.locator('ol.history').first().innerText();
  check(/Confirmed/.test(hist), 'the history records the confirmation', hist.replace(/\s+/g, ' '));
  check(!(await pendingRefs(page)).includes(reference), 'the dashboard no longer lists it as awaiting approval');
  const up = await page.locator('section[aria-labelledby=upcoming-h] a.reference').allInnerTexts();
  check(up.includes(reference), 'it is listed under "Upcoming"', up.join(' '));

  for (const [who, addr] of [['booker', b.booker.email], ['partner', b.partner.email]]) {
    const m = await waitMail(addr, (x) => /: confirmed for /.test(x.subject));
    check(m !== null, `the ${who} was sent the confirmation`, addr);
    const cal = m && m.calendars.find((c) => c.method === 'REQUEST');
    check(cal !== undefined && /^METHOD:REQUEST\r?$/m.test(cal.body) && /^STATUS:CONFIRMED\r?$/m.test(cal.body),
      `the ${who}'s confirmation carries the invite with METHOD:REQUEST`, m ? JSON.stringify(m.calendars.map((c) => c.method)) : '');
  }
}

// Step 2, flagged: the flags shown; Approve refused until acknowledged.
async function approveFlagged(page, b) {
  const { id, reference } = b.doc;
  const refs = await pendingRefs(page);
  check(refs.includes(reference), 'the flagged request is awaiting approval too', refs.join(' '));
  const flagged = await page.locator('section[aria-labelledby=flags-h] a.reference').allInnerTexts();
  check(flagged.includes(reference), 'the dashboard lists it under "Screening flags"', flagged.join(' '));
  await page.goto(`${BASE_URL}/admin/bookings/${id}`, { waitUntil: 'load' });
  const flags = await page.locator('section.flags').innerText().catch(() => '');
  check(/Partner 2/.test(flags) && !/Partner 1/.test(flags), 'the booking shows the flags and whose answers raised them',
    flags.replace(/\s+/g, ' '));
  check(/Intimate partner violence/.test(flags) && /Affair/.test(flags), 'each flag is named', flags.replace(/\s+/g, ' '));
  check(/Needs review/.test(await page.locator('dl.facts').innerText()), 'the facts say it needs review');

  // Approve without ticking: the browser's validation keeps the page.
  const box = page.locator('form[action$="/approve"] input[name=reviewed]');
  check((await box.count()) === 1 && (await box.getAttribute('required')) !== null, 'Approve asks for the acknowledgement');
  await page.locator('form[action$="/approve"] button').click();
  await sleep(500);
  const v = await box.evaluate((el) => ({ missing: el.validity.valueMissing, msg: el.validationMessage, focused: document.activeElement === el }));
  check(page.url() === `${BASE_URL}/admin/bookings/${id}`, 'Approve without the tick does not leave the page', page.url());
  check(v.missing && v.msg.length > 0 && v.focused, 'the browser names the unticked box and puts focus on it', JSON.stringify(v));
  await page.reload({ waitUntil: 'load' });
  check((await status(page)) === 'held', 'the booking is still held');

  // A browser that skips validation: the server refuses with a message.
  await page.evaluate(() => document.querySelector('form[action$="/approve"]').setAttribute('novalidate', ''));
  const [resp] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/admin/bookings/${id}/approve`)),
    page.locator('form[action$="/approve"] button').click()]);
  await page.waitForLoadState('load');
  const why = await page.locator('main').innerText().catch(() => '');
  check(resp.status() === 422 && /intake|flag|review/i.test(why),
    'without the tick the server refuses too, with a visible message', `${resp.status()} ${why.replace(/\s+/g, ' ').slice(0, 200)}`);
  await page.goto(`${BASE_URL}/admin/bookings/${id}`, { waitUntil: 'load' });
  check((await status(page)) === 'held', 'the refused approval changed nothing');

  // Ticked with the keyboard (Space), then Enter on Approve.
  const onBox = await tabTo(page, (i) => i.form && i.form.endsWith('/approve') && i.name === 'input');
  check(onBox !== null && onBox.visible, 'Tab reaches the acknowledgement with visible focus', JSON.stringify(onBox));
  await page.keyboard.press('Space');
  check(await box.isChecked(), 'Space ticks it');
  await page.keyboard.press('Tab');
  const btn = await focusInfo(page);
  check(/^button\(Approve\)$/.test(btn.name) && btn.visible, 'Tab moves on to Approve, focus visible', JSON.stringify(btn));
  await Promise.all([page.waitForURL(`${BASE_URL}/admin/bookings/${id}?done=approved`), page.keyboard.press('Enter')]);
  check((await status(page)) === 'confirmed', 'ticked, Approve confirms the flagged booking', await status(page));
  check(!(await pendingRefs(page)).includes(reference), 'the dashboard no longer lists it as awaiting approval');
}

// Step 3: the week of the booking's first day.
async function weekView(page, b) {
  const { id, reference } = b.doc;
  const first = b.days[0];
  await page.goto(`${BASE_URL}/admin/calendar?view=week&date=${first}`, { waitUntil: 'load' });
  const title = (await page.locator('h1').innerText()).trim();
  check(/^Week of Monday, /.test(title), 'the week view opens', title);
  const where = await page.locator('.cal-day').evaluateAll((days, ref) =>
    days.filter((d) => [...d.querySelectorAll('.cal-item a')].some((a) => a.innerText.startsWith(ref)))
      .map((d) => d.dataset.date), reference);
  // An intensive starts Monday to Wednesday, so both its days are in this week.
  check(JSON.stringify(where) === JSON.stringify(b.days), 'the booking appears on its own days, and only there',
    `${where.join(',')} vs ${b.days.join(',')}`);
  const second = page.locator(`.cal-day[data-date="${b.days[1]}"] .cal-item a`, { hasText: reference });
  check(/\(day 2 of 2\)/.test(await second.innerText().catch(() => '')), 'the second day is marked as such');
  const link = page.locator(`.cal-day[data-date="${first}"] .cal-item a`, { hasText: reference });
  const text = await link.innerText().catch(() => '');
  check(/Two-day intensive/.test(text) && /\(day 1 of 2\)/.test(text), 'the entry names the offering and the day', text);
  check((await link.getAttribute('href')) === `/admin/bookings/${id}`, 'it links to the booking');
  await Promise.all([page.waitForURL(`${BASE_URL}/admin/bookings/${id}`), link.click()]);
  check((await page.locator('h1 .reference').innerText()) === reference, 'following the link opens the booking');
}

// Step 4: a feed token created, fetched, revoked, fetched again.
async function feeds(page, approvedId) {
  const name = `Tablet ${tag()}`;
  await page.goto(`${BASE_URL}/admin/calendars`, { waitUntil: 'load' });
  await page.fill('#feed_name', name);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('button', { name: 'Create a feed' }).click()]);
  const webcal = await page.getByRole('link', { name: /Subscribe on this device/ }).getAttribute('href').catch(() => '');
  const url = await page.inputValue('#feed-url').catch(() => '');
  const host = BASE_URL.replace(/^https?:\/\//, '');
  check(/^https?:\/\//.test(url) && url.startsWith(`${BASE_URL}/feeds/`) && /\.ics$/.test(url), 'the new feed\'s address is shown', url);
  check(webcal === url.replace(/^https?:/, 'webcal:') && webcal.startsWith(`webcal://${host}/feeds/`),
    'with its webcal:// link', webcal);
  const listed = await page.locator('section[aria-labelledby=feeds-h] li', { hasText: name }).count();
  check(listed === 1, 'the feed is listed under its name');

  const res = await fetch(url);
  const body = await res.text();
  check(res.status === 200 && /^text\/calendar/.test(res.headers.get('content-type') || ''),
    'fetching it answers 200 text/calendar', `${res.status} ${res.headers.get('content-type')}`);
  check(body.startsWith('BEGIN:VCALENDAR') && body.includes(`/admin/bookings/${approvedId}`),
    'it holds the approved booking, linking back', body.slice(0, 80));

  await page.goto(`${BASE_URL}/admin/calendars`, { waitUntil: 'load' });
  check((await page.locator('#feed-url').count()) === 0 && !(await page.content()).includes(url.split('/feeds/')[1]),
    'the address is shown only once');
  const item = page.locator('section[aria-labelledby=feeds-h] li', { hasText: name });
  const seen = await item.innerText();
  check(/1 fetch/.test(seen), 'the list counts the fetch', seen.replace(/\s+/g, ' '));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }),
    page.getByRole('button', { name: `Revoke the feed ${name}` }).click()]);
  const notice = await page.locator('[role=status]').innerText().catch(() => '');
  check(/^Revoked/.test(notice.trim()), 'revoking says so', notice);
  check((await page.locator('section[aria-labelledby=feeds-h] li', { hasText: name }).count()) === 0,
    'the revoked feed leaves the list');
  const again = await fetch(url);
  const gone = await again.text();
  check(again.status === 404 && !gone.includes('VCALENDAR'), 'the revoked address answers 404', `${again.status} ${gone.slice(0, 60)}`);
}

// The booking's local dates, from the API's answer (offsets are local).
function daysOf(doc) {
  return (doc.blocks || []).map((bl) => bl.start.slice(0, 10));
}

async function run() {
  if (!check(BASE_URL !== '', 'BASE_URL is set', 'set BASE_URL=http://127.0.0.1:PORT')) return;
  if (!check(MAIL_DIR !== '', 'TANDEM_MAIL_DIR is set (the file mail transport)')) return;

  // Step 1: two requests, both intakes of each sent through the API.
  const one = await book(0);
  const two = await book(4);
  check(one.doc.status === 'held' && two.doc.status === 'held', 'an intensive request is held for approval',
    `${one.doc.status} ${two.doc.status}`);
  const t = tag();
  const marks = [
    ['Tell us a little about your story', `Booker story ${t}`, `Partner story ${t}`],
    ['What do you hope will be different', `Booker hopes ${t}`, `Partner hopes ${t}`],
  ];
  let st = await sendIntakes(one, { ...CALM, history: marks[0][1], hopes: marks[1][1] },
    { ...CALM, history: marks[0][2], hopes: marks[1][2] });
  check(st.join() === '200,200,200,200', 'both partners send their intakes', st.join());
  st = await sendIntakes(two, CALM, { ...CALM, afraid_of_partner: 'yes', outside_relationship: 'yes' });
  check(st.join() === '200,200,200,200', 'both partners of the second request send theirs, one raising flags', st.join());
  one.days = daysOf(one.doc);
  check(one.days.length === 2, 'the API answers with both days of the intensive', one.days.join(','));

  const profile = mkdtempSync(join(tmpdir(), 'tandem-e2e-clinician-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, launchOptions({ viewport: { width: 1280, height: 900 } }));
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(10_000);
    const errors = [];
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() !== 'error' || /favicon/.test(msg.location()?.url || '')) return;
      if (/status of 422/.test(msg.text())) return; // the refusal provoked on purpose
      errors.push(msg.text());
    });
    await signIn(page);
    await approvePlain(page, one, marks);
    await approveFlagged(page, two);
    await weekView(page, one);
    await feeds(page, one.doc.id);
    check(errors.length === 0, 'no console errors or CSP violations', errors.slice(0, 3).join(' | '));
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

await main(run, WATCHDOG_MS);
