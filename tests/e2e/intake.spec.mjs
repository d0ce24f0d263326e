// Real-browser checks of the private intake pages (issue 6), run with plain
// `node` (no test runner):
//
//   BASE_URL=http://127.0.0.1:8080 TANDEM_MAIL_DIR=var/mail node tests/e2e/intake.spec.mjs
//
// tests/e2e/run.sh starts the server with the file mail transport and
// exports TANDEM_MAIL_DIR. Books two intensives through the API, takes the
// booker's intake link from the API's answer and the partner's from the
// partner's .eml invitation, then: with JavaScript, the policy first, the
// draft saved by the script within a few seconds and restored in a fresh
// browser, a field error next to its field with focus on the summary, the
// signature required, then the answers read-only; the same flow without
// JavaScript (saved on every page, an unanswered required question named
// with a link to its page); the policy page with the keyboard alone; and
// the clinician's side-by-side view as printed (@media print).
// Prints one line per check and, last, "N passed, M failed".

import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { BASE_URL, EMAIL, PASSWORD, bookIntensive, check, day, launchOptions, main, sleep, tag } from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const OUT_DIR = process.env.E2E_OUT_DIR || join(REPO, 'tests', 'out', 'e2e');
const MAIL_DIR = process.env.TANDEM_MAIL_DIR || '';
const WATCHDOG_MS = 140_000;

// Every required question of the intensive intake, answered without a flag.
const CALM = {
  history: ['text', 'We met at a choir rehearsal.'],
  satisfaction: ['radio', '6'],
  stay_together: ['radio', 'committed'],
  conflict_pattern: ['radio', 'withdraw'],
  hopes: ['text', 'Talking without shutting down.'],
  prior_therapy: ['radio', 'no'],
  substance_concern: ['radio', 'no'],
  afraid_of_partner: ['radio', 'no'],
  physical_harm: ['radio', 'no'],
  threats: ['radio', 'no'],
  safe_at_home: ['radio', 'yes'],
  outside_relationship: ['radio', 'no'],
  self_harm_thoughts: ['radio', 'no'],
};

const book = (skip) => bookIntensive(skip, ['Avery Quill', 'Jordan Marsh'], 120);

// The intake link in the message to `address` (the file transport's .eml,
// quoted-printable text), waiting for the mail worker.
async function linkFromMail(address) {
  for (let i = 0; i < 200; i++) {
    for (const f of readdirSync(MAIL_DIR).filter((n) => n.endsWith('.eml'))) {
      const raw = readFileSync(join(MAIL_DIR, f), 'utf8');
      const head = raw.split(/\r?\n\r?\n/, 1)[0].replace(/\r?\n[ \t]+/g, ' ');
      if (!/^To:.*$/im.test(head) || !head.match(/^To:.*$/im)[0].includes(address)) continue;
      const text = raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
      const m = text.match(/https?:\/\/[^\s"<>]*\/intake\/([A-Za-z0-9_-]{16,64})/);
      if (m) return `${BASE_URL}/intake/${m[1]}`;
    }
    await sleep(100);
  }
  return null;
}

// Fills the questions of CALM that are on this page (overrides first).
async function fillPage(page, overrides = {}, skip = []) {
  const all = { ...CALM, ...overrides };
  for (const [id, [kind, value]] of Object.entries(all)) {
    if (skip.includes(id)) continue;
    if (kind === 'text') {
      const el = page.locator(`#q-${id}`);
      if (await el.count()) await el.fill(value);
    } else {
      const el = page.locator(`input[name="q.${id}"][value="${value}"]`);
      if (await el.count()) await el.check();
    }
  }
}

async function submitAndLoad(page, selector) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

// From a question page, every page filled and continued up to the signing step.
async function throughPages(page, overrides = {}, skip = []) {
  for (let i = 0; i < 10 && (await page.locator('form[data-autosave]').count()); i++) {
    await fillPage(page, overrides, skip);
    await submitAndLoad(page, 'button[value=next]');
  }
  return (await page.locator('#signature').count()) === 1;
}

// Script errors and CSP violations; the 422 answers this spec provokes on
// purpose (the bad date, the missing signature) are not errors.
function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() !== 'error' || /favicon/.test(msg.location()?.url || '')) return;
    if (/status of 422/.test(msg.text())) return;
    errors.push(msg.text());
  });
  return errors;
}

async function focusedId(page) {
  return page.evaluate(() => document.activeElement && document.activeElement.id);
}

async function readOnly(page, marker, who) {
  const thanks = await page.locator('[role=status] h2').innerText().catch(() => '');
  check(/your answers have been sent/i.test(thanks), `${who}: the sent page says so`, thanks);
  const summary = await page.locator('.intake-summary').allInnerTexts();
  check(summary.join(' ').includes(marker), `${who}: the summary shows the answers`, summary.join(' ').slice(0, 80));
  const fields = await page.locator('main input:not([type=hidden]), main textarea, main form').count();
  check(fields === 0, `${who}: no field or form is left to change them`, `found ${fields}`);
  await page.goto(`${page.url().split('?')[0]}?page=1`, { waitUntil: 'load' });
  const again = await page.locator('main textarea, form[data-autosave]').count();
  check(again === 0 && (await page.locator('.intake-summary').count()) > 0,
    `${who}: page 1 of the link is read-only too`);
}

async function withJavaScript(browser, link) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors = watchErrors(page);
  await page.goto(link, { waitUntil: 'load' });
  check((await page.locator('#policy-h').count()) === 1 && (await page.locator('form[data-autosave]').count()) === 0,
    'JS: the policy comes first, without questions');
  await page.goto(`${link}?page=2`, { waitUntil: 'load' });
  check((await page.locator('#policy-h').count()) === 1, 'JS: a question page is not reachable before the policy is accepted');
  await page.click('button[type=submit]');
  await sleep(300);
  check((await page.locator('#policy-h').count()) === 1 && !page.url().includes('page=1'),
    'JS: Continue without ticking the box stays on the policy', page.url());
  await page.check('#accept');
  await submitAndLoad(page, 'button[type=submit]');
  check(/\?page=1$/.test(page.url()) && (await page.locator('form[data-autosave]').count()) === 1,
    'JS: accepting the policy opens the first page', page.url());

  // Autosave: type, wait, and find the answers from a fresh browser.
  const marker = `Autosaved story ${tag()} <b>&amp;</b>`;
  await page.fill('#q-history', marker);
  await page.check('input[name="q.satisfaction"][value="6"]');
  const t0 = Date.now();
  let saved = '';
  for (let i = 0; i < 120 && saved !== 'Saved.'; i++) {
    await sleep(100);
    saved = (await page.locator('[data-autosave-status]').innerText()).trim();
  }
  check(saved === 'Saved.', 'JS: the draft saves itself within a few seconds', `${saved} after ${Date.now() - t0} ms`);
  const other = await browser.newContext();
  const p2 = await other.newPage();
  await p2.goto(`${link}?page=1`, { waitUntil: 'load' });
  const restored = await p2.inputValue('#q-history');
  check(restored === marker, 'JS: the same link in a fresh browser shows the saved draft (escaped text intact)', restored);
  check(await p2.isChecked('input[name="q.satisfaction"][value="6"]'), 'JS: the chosen scale point is restored');
  await other.close();

  // A field error: a date typed by hand where the browser has no date picker.
  await page.evaluate(() => { document.getElementById('q-together_since').type = 'text'; });
  await page.fill('#q-together_since', '2019-02-30');
  let early = '';
  for (let i = 0; i < 120 && !/YYYY-MM-DD/.test(early); i++) {
    await sleep(100);
    early = await page.locator('#field-together_since .field-error').innerText().catch(() => '');
  }
  check(/YYYY-MM-DD/.test(early) && /Not saved yet/.test(await page.locator('[data-autosave-status]').innerText()),
    'JS: the autosave names a refused answer next to its field before the page is sent', early);
  await submitAndLoad(page, 'button[value=next]');
  const msg = await page.locator('#error-together_since').innerText().catch(() => '');
  check(/YYYY-MM-DD/.test(msg), 'JS: the bad date is named next to its field', msg);
  const box = await page.locator('#field-together_since #error-together_since').count();
  check(box === 1, 'JS: the message sits inside the field');
  check((await page.getAttribute('#q-together_since', 'aria-invalid')) === 'true' &&
    (await page.getAttribute('#q-together_since', 'aria-describedby')) === 'error-together_since',
  'JS: the field is marked invalid and points at its message');
  check((await focusedId(page)) === 'form-errors', 'JS: focus moves to the error summary', await focusedId(page));
  const href = await page.getAttribute('#form-errors a', 'href').catch(() => null);
  check(href === '#q-together_since', 'JS: the summary links to the field', href);
  check((await page.inputValue('#q-history')) === marker, 'JS: what was typed is kept');
  await page.click('#form-errors a');
  check((await focusedId(page)) === 'q-together_since', 'JS: the summary link moves focus to the field', await focusedId(page));
  await page.fill('#q-together_since', '2015-06-01');

  // The rest of the pages, then the signature.
  check(await throughPages(page, { history: ['text', marker] }), 'JS: every page continues to the signing step');
  await submitAndLoad(page, 'button[value=submit]');
  const sigErr = await page.locator('#signature-error').innerText().catch(() => '');
  check(sigErr.length > 0 && (await page.getAttribute('#signature', 'aria-invalid')) === 'true',
    'JS: the signature is required, with a message next to it', sigErr);
  check((await focusedId(page)) === 'form-errors', 'JS: focus moves to the summary on the signing step too', await focusedId(page));
  await page.fill('#signature', 'Avery Quill');
  await submitAndLoad(page, 'button[value=submit]');
  check(/\?sent=1$/.test(page.url()), 'JS: signing sends the answers', page.url());
  await readOnly(page, marker.replace(/<b>&amp;<\/b>/, '<b>&amp;</b>'), 'JS');
  check(errors.length === 0, 'JS: no console errors or CSP violations', errors.slice(0, 3).join(' | '));
  mkdirSync(OUT_DIR, { recursive: true });
  await page.screenshot({ path: join(OUT_DIR, 'intake-sent.png'), fullPage: true, timeout: 15_000 });
  await context.close();
}

async function withoutJavaScript(browser, link) {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(link, { waitUntil: 'load' });
  check((await page.locator('#policy-h').count()) === 1, 'no JS: the policy comes first');
  await page.check('#accept');
  await submitAndLoad(page, 'button[type=submit]');
  const marker = `Saved by the page ${tag()}`;
  // Page 1 without its required scale answer: it saves anyway (drafts may be partial).
  await page.fill('#q-history', marker);
  await page.check('input[name="q.stay_together"][value="unsure"]');
  await submitAndLoad(page, 'button[value=next]');
  check(/\?page=2$/.test(page.url()), 'no JS: Save and continue moves to page 2', page.url());
  const fresh = await browser.newContext({ javaScriptEnabled: false });
  const p2 = await fresh.newPage();
  await p2.goto(`${link}?page=1`, { waitUntil: 'load' });
  check((await p2.inputValue('#q-history')) === marker && (await p2.isChecked('input[name="q.stay_together"][value="unsure"]')),
    'no JS: the page was saved when continuing (seen from a fresh browser)');
  await fresh.close();
  await submitAndLoad(page, 'button[value=back]');
  check(/\?page=1$/.test(page.url()) && (await page.inputValue('#q-history')) === marker, 'no JS: Back returns with the answers');
  await submitAndLoad(page, 'button[value=next]');
  const answers = { stay_together: ['radio', 'unsure'], history: ['text', marker], outside_relationship: ['radio', 'yes'] };
  check(await throughPages(page, answers, ['satisfaction']),
    'no JS: every page continues to the signing step');
  await page.fill('#signature', 'Jordan Marsh');
  await submitAndLoad(page, 'button[value=submit]');
  const summary = await page.locator('#form-errors').innerText().catch(() => '');
  check(/not answered yet/.test(summary), 'no JS: sending with a required answer missing says so', summary);
  const link1 = await page.getAttribute('#form-errors a', 'href').catch(() => '');
  check(/\?page=1#field-satisfaction$/.test(link1 || ''), 'no JS: the summary links to the missing question\'s page', link1);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('#form-errors a')]);
  await page.check('input[name="q.satisfaction"][value="3"]');
  await submitAndLoad(page, 'button[value=next]');
  await page.goto(`${link}?page=99`, { waitUntil: 'load' });
  check((await page.locator('#signature').count()) === 1, 'no JS: a page number past the end is the signing step');
  await page.fill('#signature', 'Jordan Marsh');
  await submitAndLoad(page, 'button[value=submit]');
  check(/\?sent=1$/.test(page.url()), 'no JS: signing sends the answers', page.url());
  await readOnly(page, marker, 'no JS');
  await context.close();
}

async function keyboardOnly(browser, link) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(link, { waitUntil: 'load' });
  let onBox = null;
  for (let i = 0; i < 15 && !onBox; i++) {
    await page.keyboard.press('Tab');
    const info = await page.evaluate(() => {
      const el = document.activeElement;
      const cs = getComputedStyle(el);
      return { id: el.id, visible: el.matches(':focus-visible') && cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2 };
    });
    if (info.id === 'accept') onBox = info;
  }
  check(onBox !== null, 'keyboard: Tab reaches the policy checkbox');
  check(onBox && onBox.visible, 'keyboard: focus on the checkbox is visible', JSON.stringify(onBox));
  await page.keyboard.press('Space');
  check(await page.isChecked('#accept'), 'keyboard: Space ticks the box');
  await page.keyboard.press('Tab');
  const btn = await page.evaluate(() => document.activeElement.tagName + ':' + document.activeElement.innerText.trim());
  check(btn === 'BUTTON:Continue', 'keyboard: Tab moves on to Continue', btn);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.keyboard.press('Enter')]);
  check(/\?page=1$/.test(page.url()), 'keyboard: Enter accepts and opens the first page', page.url());
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  const first = await focusedId(page);
  check(typeof first === 'string', 'keyboard: the first page is reachable with Tab', first);
  await context.close();
}

// The clinician's side-by-side view as printed: content only, flags
// first, both partners' columns, and a PDF of it for people to look at.
async function printView(browser, bookingId) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`${BASE_URL}/admin/login`, { waitUntil: 'load' });
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(`${BASE_URL}/admin`), page.click('button[type=submit]')]);
  await page.goto(`${BASE_URL}/admin/bookings/${bookingId}/intake`, { waitUntil: 'load' });
  check((await page.locator('table.side-by-side').count()) > 0, 'print: the side-by-side view is there');
  await page.emulateMedia({ media: 'print' });
  const hidden = await page.evaluate(() =>
    ['.site-header', '.site-footer', '.admin-nav', '.breadcrumb', 'a.button', 'button']
      .filter((sel) => [...document.querySelectorAll(sel)].some((el) => el.offsetParent !== null || getComputedStyle(el).display !== 'none')));
  check(hidden.length === 0, 'print: no header, navigation, footer or buttons', hidden.join(', '));
  const first = await page.evaluate(() => {
    const h1 = document.querySelector('main h1');
    let el = h1 && h1.nextElementSibling;
    while (el && getComputedStyle(el).display === 'none') el = el.nextElementSibling;
    return el ? `${el.tagName.toLowerCase()}.${el.className}` : '';
  });
  check(/flags/.test(first), 'print: the flags come first, right after the title', first);
  const cols = await page.evaluate(() => {
    const row = document.querySelector('table.side-by-side tbody tr');
    const page = document.documentElement.clientWidth;
    return [...row.children].map((c) => Math.round(c.getBoundingClientRect().width)).concat([page]);
  });
  const [q, a, b, width] = cols;
  check(a > 150 && b > 150 && q + a + b <= width + 2, 'print: both partners\' columns fit the page side by side', cols.join(' / '));
  mkdirSync(OUT_DIR, { recursive: true });
  await page.setViewportSize({ width: 794, height: 1123 }); // A4 at 96 dpi
  await page.screenshot({ path: join(OUT_DIR, 'intake-print.png'), fullPage: true, timeout: 15_000 });
  const pdf = await page.pdf({ path: join(OUT_DIR, 'intake-print.pdf'), format: 'A4', printBackground: true });
  check(pdf.length > 1000, 'print: the page prints to a PDF', `${pdf.length} bytes`);
  await context.close();
}

async function run() {
  if (!check(BASE_URL !== '', 'BASE_URL is set', 'set BASE_URL=http://127.0.0.1:PORT')) return;
  if (!check(MAIL_DIR !== '', 'TANDEM_MAIL_DIR is set (the file mail transport)')) return;
  const one = await book(0);
  const two = await book(3);
  check(typeof one.doc.intake_url === 'string', 'the API answers with the booker\'s intake link');
  const partnerLink = await linkFromMail(one.partner.email);
  check(partnerLink !== null, 'the partner\'s invitation (.eml) holds their own intake link');
  check(partnerLink !== one.doc.intake_url, 'the partner\'s link is not the booker\'s');
  const browser = await chromium.launch(launchOptions());
  try {
    await withJavaScript(browser, one.doc.intake_url);
    if (partnerLink) await withoutJavaScript(browser, partnerLink);
    await keyboardOnly(browser, two.doc.intake_url);
    await printView(browser, one.doc.id);
  } finally {
    await browser.close().catch(() => {});
  }
}

await main(run, WATCHDOG_MS);
