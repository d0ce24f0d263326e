// What every browser spec shares: the check lines and the closing
// "N passed, M failed" that tests/e2e/run.sh adds up, a watchdog, how
// Debian's chromium is launched, and booking through the API.

export const BASE_URL = (process.env.BASE_URL || '').replace(/\/+$/, '');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const EMAIL = 'clinician@riverbend.example'; // the demo clinician
export const PASSWORD = 'tandem-demo-2026';

// chromium.launch / launchPersistentContext options: Debian's chromium,
// headless, nothing fetched from the network; extra adds or overrides.
export function launchOptions(extra = {}) {
  return {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
    ...extra,
  };
}

let passed = 0;
let failed = 0;
let finished = false;

export function check(ok, what, detail) {
  const n = passed + failed + 1;
  if (ok) {
    passed++;
    console.log(`ok ${n} - ${what}`);
  } else {
    failed++;
    console.log(`not ok ${n} - ${what}${detail ? `: ${detail}` : ''}`);
  }
  return ok;
}

export function note(text) {
  console.log(`# ${text}`);
}

function finish() {
  if (finished) return;
  finished = true;
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
}

// Runs the spec under a watchdog; an exception is a failed check; the
// summary line is printed whatever happens.
export async function main(run, watchdogMs) {
  const watchdog = setTimeout(() => {
    check(false, `finished within ${watchdogMs / 1000} s`);
    finish();
    process.exit(1);
  }, watchdogMs);
  try {
    await run();
  } catch (err) {
    check(false, 'ran without an exception', String((err && err.stack) || err).split('\n').slice(0, 4).join(' / '));
  } finally {
    clearTimeout(watchdog);
    finish();
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const tag = () => Math.random().toString(36).slice(2, 10);
export const day = (offset) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

// Books a two-day intensive for two new people from the skip-th free start
// between 8 and toDays days ahead, taking the next start when one was just
// taken. Returns the API's answer, the slot and both people.
export async function bookIntensive(skip, [bookerName, partnerName], toDays = 170) {
  const r = await fetch(`${BASE_URL}/api/v1/availability?offering=intensive-2day&from=${day(8)}&to=${day(toDays)}`);
  const slots = (await r.json()).slots || [];
  for (const slot of slots.slice(skip)) {
    const t = tag();
    const person = (name, domain) => ({ name: `${name} ${t}`, email: `${name.split(' ')[0].toLowerCase()}.${t}@${domain}` });
    const booker = person(bookerName, 'example.com');
    const partner = person(partnerName, 'example.org');
    const res = await fetch(`${BASE_URL}/api/v1/bookings`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ offering: 'intensive-2day', start: slot.start, clients: [booker, partner], consent: true }),
    });
    if (res.status === 201) return { doc: await res.json(), slot, booker, partner };
    if (res.status !== 409 && res.status !== 422) throw new Error(`booking: ${res.status} ${await res.text()}`);
  }
  throw new Error('no intensive start could be booked');
}
