// Real-browser checks of the clinician area, keyboard only, run with plain
// `node` (no test runner):
//
//   BASE_URL=http://127.0.0.1:8080 node tests/e2e/admin.spec.mjs
//
// The server must run with insecure_dev_cookies (plain http) and the demo
// practice (tests/e2e/run.sh does both). Signs in with the keyboard alone,
// checks the Tab order and that focus is visible at every stop, moves
// around the dashboard, the audit log and the account page, and signs out;
// then the same pages at phone width. Prints one line per check and, last,
// "N passed, M failed"; exit status 1 if any check failed.

import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { BASE_URL, EMAIL, PASSWORD, check, launchOptions, main } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const OUT_DIR = process.env.E2E_OUT_DIR || join(REPO, 'tests', 'out', 'e2e');
const WATCHDOG_MS = 90_000;

// What has focus: a short name for the element and whether the focus is
// visible (:focus-visible with a real outline).
async function focusInfo(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return { name: 'body', visible: false };
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    const label = (el.id && `#${el.id}`) || (el.className && `.${String(el.className).split(' ')[0]}`) || '';
    const text = (el.innerText || el.value || '').trim().slice(0, 30);
    return {
      name: `${el.tagName.toLowerCase()}${label}${el.tagName === 'A' || el.tagName === 'BUTTON' ? `(${text})` : ''}`,
      visible:
        el.matches(':focus-visible') &&
        cs.outlineStyle !== 'none' &&
        parseFloat(cs.outlineWidth) >= 2 &&
        r.width > 0 &&
        r.height > 0,
    };
  });
}

// Presses Tab n times from the top of the page, recording each stop.
async function tabStops(page, n) {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.evaluate(() => window.scrollTo(0, 0));
  const stops = [];
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    stops.push(await focusInfo(page));
  }
  return stops;
}

async function tabTo(page, predicate, max = 25) {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const info = await focusInfo(page);
    if (predicate(info)) return info;
  }
  return null;
}

async function run() {
  if (!check(BASE_URL !== '', 'BASE_URL is set', 'set BASE_URL=http://127.0.0.1:PORT')) return;
  const profile = mkdtempSync(join(tmpdir(), 'tandem-e2e-admin-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, launchOptions({ viewport: { width: 1280, height: 900 } }));
    await keyboardOnly(context);
    await phoneWidth(context.browser());
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

async function keyboardOnly(context) {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(10_000);
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/favicon/.test(msg.location()?.url || '')) errors.push(msg.text());
  });

  await page.goto(`${BASE_URL}/admin`, { waitUntil: 'load' });
  check(page.url() === `${BASE_URL}/admin/login?next=%2Fadmin`, 'the dashboard sends a stranger to sign in', page.url());

  // Tab order: skip link, brand, email, password, the button; focus visible at each.
  const stops = await tabStops(page, 5);
  const names = stops.map((s) => s.name);
  check(
    /^a\.skip-link/.test(names[0]) && /^a\.brand/.test(names[1]) && names[2] === 'input#email' &&
      names[3] === 'input#password' && /^button.*\(Sign in\)$/.test(names[4]),
    'Tab reaches skip link, brand, email, password and the submit button in order',
    names.join(' → '),
  );
  check(stops.every((s) => s.visible), 'focus is visible at every stop', JSON.stringify(stops));

  // Sign in with the keyboard alone.
  await tabTo(page, (i) => i.name === 'input#email');
  await page.keyboard.type(EMAIL);
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Tab');
  const onButton = await focusInfo(page);
  check(/^button.*\(Sign in\)$/.test(onButton.name), 'Tab from the password lands on Sign in', onButton.name);
  await Promise.all([page.waitForURL(`${BASE_URL}/admin`), page.keyboard.press('Enter')]);
  check((await page.locator('h1').innerText()).trim() === 'Dashboard', 'Enter signs in and shows the dashboard');

  // Dashboard navigation: skip link, brand, the eight areas (Practice for
  // the owner, which the demo clinician is), sign out.
  const areas = ['Dashboard', 'Calendar', 'Calendars', 'Availability', 'Offerings', 'Practice', 'Audit log',
    'Account', 'Sign out'];
  const nav = (await tabStops(page, 2 + areas.length)).map((s) => s);
  const navNames = nav.map((s) => s.name);
  check(
    /^a\.skip-link/.test(navNames[0]) && /^a\.brand/.test(navNames[1]) &&
      areas.every((label, i) => navNames[2 + i].endsWith(`(${label})`)),
    'Tab walks the navigation in reading order',
    navNames.join(' → '),
  );
  check(nav.every((s) => s.visible), 'focus is visible in the navigation', JSON.stringify(nav));

  // The skip link moves focus to the content.
  await tabTo(page, (i) => /skip-link/.test(i.name));
  await page.keyboard.press('Enter');
  const afterSkip = await page.evaluate(() => document.activeElement && document.activeElement.id);
  check(afterSkip === 'main', 'the skip link moves focus to the main content', afterSkip);

  // The week calendar by keyboard: seven days, each under its own heading.
  await tabTo(page, (i) => /\(Calendar\)$/.test(i.name));
  await Promise.all([page.waitForURL(`${BASE_URL}/admin/calendar`), page.keyboard.press('Enter')]);
  const calTitle = (await page.locator('h1').innerText()).trim();
  check(/^Week of Monday, /.test(calTitle), 'Enter on Calendar opens this week, from Monday', calTitle);
  const dayHeads = await page.locator('.cal-day h2').allInnerTexts();
  check(dayHeads.length === 7 && /^Monday/.test(dayHeads[0]) && /^Sunday/.test(dayHeads[6]),
    'the week has a heading per day', dayHeads.join(' | '));
  const nextWeek = await tabTo(page, (i) => /\(Next week\)$/.test(i.name));
  check(nextWeek !== null && nextWeek.visible, 'the next-week link is reachable with visible focus');

  // Audit log, then account, by keyboard.
  await tabTo(page, (i) => /\(Audit log\)$/.test(i.name));
  await Promise.all([page.waitForURL(`${BASE_URL}/admin/audit`), page.keyboard.press('Enter')]);
  const rows = await page.locator('table.audit tbody tr').allInnerTexts();
  check(rows.some((r) => /login\.success/.test(r)), 'the audit log shows this sign-in', rows.slice(0, 3).join(' | '));
  const who = await tabTo(page, (i) => i.name === 'select#actor');
  check(who !== null && who.visible, 'the audit filters are reachable with visible focus');

  await tabTo(page, (i) => /\(Account\)$/.test(i.name));
  await Promise.all([page.waitForURL(`${BASE_URL}/admin/account`), page.keyboard.press('Enter')]);
  check((await page.locator('h1').innerText()).trim() === 'Your account', 'Enter on Account opens the account page');
  const current = await tabTo(page, (i) => i.name === 'input#current');
  check(current !== null && current.visible, 'the password form is reachable with visible focus');
  const labels = await page.evaluate(() =>
    [...document.querySelectorAll('main input:not([type=hidden]), main select')].every(
      (el) => el.id && document.querySelector(`label[for="${el.id}"]`),
    ),
  );
  check(labels, 'every field of the account page has a label');

  // Sign out with the keyboard (Space on the button).
  await tabTo(page, (i) => /\(Sign out\)$/.test(i.name));
  await Promise.all([page.waitForURL(/\/admin\/login\?out=1$/), page.keyboard.press('Space')]);
  const notice = await page.locator('[role=status]').innerText().catch(() => '');
  check(/signed out/i.test(notice), 'signing out says so', notice);
  await page.goto(`${BASE_URL}/admin`, { waitUntil: 'load' });
  check(/\/admin\/login/.test(page.url()), 'after signing out the dashboard asks to sign in again', page.url());

  check(errors.length === 0, 'no console errors or CSP violations', errors.slice(0, 3).join(' | '));
}

async function phoneWidth(browser) {
  const context = await browser.newContext({ viewport: { width: 360, height: 740 }, javaScriptEnabled: false });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${BASE_URL}/admin/login`, { waitUntil: 'load' });
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${BASE_URL}/admin`), page.click('button[type=submit]')]);
  check(true, 'signing in works without JavaScript');
  for (const path of ['/admin', '/admin/audit', '/admin/account', '/admin/calendar', '/admin/calendar?view=month']) {
    await page.goto(`${BASE_URL}${path}`, { waitUntil: 'load' });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `${path} fits a 360 px wide phone`, `overflows by ${overflow} px`);
  }
  // On a phone the week is a list of days, one under the other.
  await page.goto(`${BASE_URL}/admin/calendar`, { waitUntil: 'load' });
  const columns = await page.evaluate(
    () => new Set([...document.querySelectorAll('.cal-day')].map((e) => Math.round(e.getBoundingClientRect().left))).size,
  );
  check(columns === 1, 'on a phone the week is a list of days', `${columns} columns`);
  mkdirSync(OUT_DIR, { recursive: true });
  await page.screenshot({ path: join(OUT_DIR, 'calendar-phone.png'), fullPage: true, timeout: 15_000 });
  await page.goto(`${BASE_URL}/admin`, { waitUntil: 'load' });
  await page.screenshot({ path: join(OUT_DIR, 'admin-phone.png'), fullPage: true, timeout: 15_000 });
  await context.close();
}

await main(run, WATCHDOG_MS);
