// Real-browser checks of the home page, run with plain `node` (no test runner):
//
//   BASE_URL=http://127.0.0.1:8080 node tests/e2e/home.spec.mjs
//
// Drives the system Chromium (/usr/bin/chromium, or CHROMIUM) through
// playwright-core with a fresh profile, prints one line per check and, last,
// exactly one line "N passed, M failed". Exit status 1 if any check failed.
// A screenshot goes to tests/out/e2e/home.png (E2E_OUT_DIR overrides the
// directory).

import { mkdtempSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { BASE_URL, check, launchOptions, main, note } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const OUT_DIR = process.env.E2E_OUT_DIR || join(REPO, 'tests', 'out', 'e2e');
const DEMO_SLUGS = ['consult', 'intensive-2day', 'intensive-3day', 'checkin'];
const WATCHDOG_MS = 90_000;

async function run() {
  if (!check(BASE_URL !== '', 'BASE_URL is set', 'set BASE_URL=http://127.0.0.1:PORT')) return;

  const profile = mkdtempSync(join(tmpdir(), 'tandem-e2e-profile-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, launchOptions({ viewport: { width: 1280, height: 900 } }));
    await checkHome(context);
    await checkBookingWithScript(context);
    await checkBookingWithoutScript(context.browser());
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

async function checkHome(context) {
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(10_000);

  const consoleErrors = [];
  const badResponses = [];
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // Chromium's own favicon probe is not the page's doing.
    if (/\/favicon\.ico$/.test(msg.location()?.url || '')) {
      note(`favicon: ${msg.text()}`);
      return;
    }
    consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) =>
    badResponses.push(`${req.url()} failed: ${req.failure()?.errorText}`),
  );
  page.on('response', (res) => {
    if (res.status() >= 400) badResponses.push(`${res.url()} -> ${res.status()}`);
  });

  const res = await page.goto(`${BASE_URL}/`, { waitUntil: 'load', timeout: 15_000 });
  check(res && res.status() === 200, 'GET / answers 200', res ? `status ${res.status()}` : 'no response');
  const ctype = ((res && res.headers()['content-type']) || '').replace(/\s+/g, '').toLowerCase();
  check(ctype === 'text/html;charset=utf-8', 'GET / is text/html; charset=utf-8', ctype);

  const lang = await page.getAttribute('html', 'lang');
  check(Boolean(lang && lang.trim()), '<html> has a lang attribute', `lang=${lang}`);

  const mains = await page.locator('main, [role="main"]').count();
  check(mains === 1, 'exactly one <main> landmark', `found ${mains}`);

  const h1s = await page.locator('h1').allInnerTexts();
  check(h1s.length >= 1 && h1s[0].trim() !== '', 'an <h1> with text', `found ${JSON.stringify(h1s)}`);

  const offerings = page.locator('article.offering[data-slug]');
  const count = await offerings.count();
  check(count === DEMO_SLUGS.length, `${DEMO_SLUGS.length} offerings listed`, `found ${count}`);

  for (const slug of DEMO_SLUGS) {
    const art = page.locator(`article.offering[data-slug="${slug}"]`);
    const n = await art.count();
    if (n !== 1) {
      check(false, `offering ${slug} is listed once`, `found ${n}`);
      continue;
    }
    const names = await art.locator('h2').allInnerTexts();
    const name = (names[0] || '').trim();
    const links = await art.locator(`a[href="/offerings/${slug}"]`).count();
    const visible = await art.isVisible();
    check(
      names.length === 1 && name !== '' && links >= 1 && visible,
      `offering ${slug} shows its name${name ? ` "${name}"` : ''} and links to /offerings/${slug}`,
      `h2=${JSON.stringify(names)} links=${links} visible=${visible}`,
    );
  }

  // Keyboard: the first Tab lands on a visible link (ideally "Skip to content").
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return null;
    const r = el.getBoundingClientRect();
    return {
      tag: el.tagName.toLowerCase(),
      href: el.getAttribute('href'),
      text: (el.innerText || el.textContent || '').trim(),
      visible: r.width > 0 && r.height > 0,
    };
  });
  check(
    focused && focused.tag === 'a' && focused.href && focused.visible,
    'Tab moves focus to a visible link',
    JSON.stringify(focused),
  );
  if (focused && /skip/i.test(focused.text)) {
    const target = (focused.href || '').startsWith('#') ? focused.href.slice(1) : null;
    const exists = target
      ? await page.evaluate((id) => document.getElementById(id) !== null, target)
      : false;
    check(exists, `skip link "${focused.text}" points at an element on the page`, focused.href);
  } else {
    note('the first focusable element is not a "Skip to content" link');
  }

  check(
    consoleErrors.length === 0,
    'no console errors or CSP violations',
    consoleErrors.slice(0, 5).join(' | '),
  );
  check(badResponses.length === 0, 'every request of the page succeeded', badResponses.slice(0, 5).join(' | '));

  mkdirSync(OUT_DIR, { recursive: true });
  const shot = join(OUT_DIR, 'home.png');
  rmSync(shot, { force: true });
  await page.screenshot({ path: shot, fullPage: true, timeout: 15_000 });
  let size = 0;
  try {
    size = statSync(shot).size;
  } catch {
    size = 0;
  }
  check(size > 0, `screenshot saved to ${shot}`, `size ${size}`);
}

// First available date link in the month calendar, moving to later months
// (at most 4) until one is found.
async function firstOpenDate(page) {
  for (let i = 0; i < 4; i++) {
    const open = page.locator('table.month td.open a');
    if ((await open.count()) > 0) return open.first();
    const later = page.locator('a.cal-next');
    if ((await later.count()) === 0) return null;
    await Promise.all([page.waitForLoadState('load'), later.click()]);
  }
  return null;
}

async function fillPartners(page, partnerEmail) {
  await page.fill('#c0_name', 'Zoë <Ana> "Ruiz"');
  await page.fill('#c0_email', 'ana.e2e@example.com');
  await page.fill('#c1_name', 'Ben Ode');
  await page.fill('#c1_email', partnerEmail);
}

// With JavaScript, in a browser set to Berlin time: an intensive from the
// month calendar; a first submit with a bad email keeps what was typed and
// shows the message by the field; the second lands on the confirmation.
async function checkBookingWithScript(browserContext) {
  const context = await browserContext.browser()?.newContext?.({ timezoneId: 'Europe/Berlin' }).catch(() => null);
  const page = context ? await context.newPage() : await browserContext.newPage();
  if (!context) await page.emulateTimezone?.('Europe/Berlin');
  page.setDefaultTimeout(10_000);
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    // The form answers 422 on purpose below; the browser logs any 4xx.
    if (msg.type() === 'error' && !/favicon/.test(msg.location()?.url || '') && !/status of 422/.test(msg.text()))
      errors.push(msg.text());
  });
  await page.goto(`${BASE_URL}/offerings/intensive-2day`, { waitUntil: 'load' });
  check((await page.locator('table.month').count()) === 1, 'the offering page shows a month calendar');
  const date = await firstOpenDate(page);
  if (!check(date !== null, 'an open start date is offered within four months')) return;
  await Promise.all([page.waitForLoadState('load'), date.click()]);
  check(/\/offerings\/intensive-2day\/book\?start=/.test(page.url()), 'a date leads to the booking form', page.url());
  const days = await page.locator('.summary .blocks li').count();
  check(days === 2, 'the form shows both days of the intensive', `found ${days}`);
  const tz = await page.inputValue('input[name=client_timezone]');
  check(tz === 'Europe/Berlin', 'the script fills in the browser time zone', tz);

  await fillPartners(page, 'not-an-email');
  await Promise.all([page.waitForLoadState('load'), page.click('form.booking-form button[type=submit]')]);
  const err = await page.locator('#c1_email-error').innerText().catch(() => '');
  check(/email/i.test(err), 'a bad email is named next to its field', err);
  check((await page.getAttribute('#c1_email', 'aria-invalid')) === 'true', 'the bad field is marked aria-invalid');
  const kept = await page.inputValue('#c0_name');
  check(kept === 'Zoë <Ana> "Ruiz"', 'what was typed is kept (and escaped)', kept);
  const consentErr = await page.locator('#consent-error').count();
  check(consentErr === 1, 'missing consent is named next to the checkbox');
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  check(focused === 'form-errors', 'focus moves to the error summary', focused);

  await page.fill('#c1_email', 'ben.e2e@example.com');
  await page.check('#consent');
  await Promise.all([page.waitForURL(/\/b\/[A-Za-z0-9_-]{20,}\?created=1$/), page.click('form.booking-form button[type=submit]')]);
  const ref = (await page.locator('.reference').innerText()).trim();
  check(/^TND-[2-9A-HJ-NP-Z]{4,8}$/.test(ref), 'the confirmation shows the reference', ref);
  const status = await page.getAttribute('.status', 'data-status');
  check(status === 'held', 'an intensive request holds the dates', status);
  const yourTime = await page.locator('.blocks li .muted').count();
  check(yourTime === 2, 'times are also shown in the booker\'s zone', `found ${yourTime}`);
  const manage = await page.locator('a.manage-link').innerText();
  check(page.url().startsWith(manage.trim()), 'the manage link is this page', manage);
  check(errors.length === 0, 'no script errors while booking', errors.slice(0, 3).join(' | '));
  mkdirSync(OUT_DIR, { recursive: true });
  await page.screenshot({ path: join(OUT_DIR, 'booking.png'), fullPage: true, timeout: 15_000 });
  if (context) await context.close();
  else await page.close();
}

// Without JavaScript: a consult, through date → time → form → confirmation.
async function checkBookingWithoutScript(browser) {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${BASE_URL}/offerings/consult`, { waitUntil: 'load' });
  const date = await firstOpenDate(page);
  if (!check(date !== null, 'no script: an open consult date is offered')) return;
  await Promise.all([page.waitForLoadState('load'), date.click()]);
  const times = page.locator('#times .time-list a');
  if (!check((await times.count()) > 0, 'no script: a date lists its times')) return;
  await Promise.all([page.waitForLoadState('load'), times.first().click()]);
  await fillPartners(page, 'ana.e2e@example.com'); // one shared inbox is fine
  await page.check('#consent');
  await Promise.all([page.waitForURL(/\/b\/[A-Za-z0-9_-]{20,}\?created=1$/), page.click('form.booking-form button[type=submit]')]);
  const status = await page.getAttribute('.status', 'data-status');
  check(status === 'confirmed', 'no script: a consult is confirmed at once', status);
  await context.close();
}

await main(run, WATCHDOG_MS);
