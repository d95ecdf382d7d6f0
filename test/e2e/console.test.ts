import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { type SimulatedRecording, SimulatedTwilio } from '../../lib/simulated-twilio';
import { LocalStack, newAccountSid, newCallSid, stopSuite } from './harness';

/**
 * The console (GET /) in a real headless Chromium against the local stack: recordings put there by
 * signed callbacks and the real transfer from the simulated Twilio (real audio, 1–2 s long). Every
 * step waits on a DOM condition with a deadline; nothing sleeps.
 */

jest.setTimeout(120_000);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');
const UI_TIMEOUT_MS = 20_000;

let twilio: SimulatedTwilio;
let stack: LocalStack;
let browser: Browser;
const recordings: { callId: string; recording: SimulatedRecording }[] = [];
let sibling: SimulatedRecording;
/** A recording of three days before `day`: "Held only" lists holds of every day, not the day shown. */
let earlier: { callId: string; recording: SimulatedRecording };
/** The UTC day the recordings started on (what the console shows first, or is told to show). */
let day: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  twilio = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(twilio);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in a container has no user namespace sandbox; playback must not wait for a gesture.
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--disable-gpu', '--mute-audio'],
  });

  // Three calls, each with one short recording of real audio, stored through the whole pipeline.
  const started = new Date(Date.now() - 60_000);
  day = started.toISOString().slice(0, 10);
  const shapes = [
    { duration: 1, channels: 1 },
    { duration: 2, channels: 2 },
    { duration: 1, channels: 2 },
  ] as const;
  for (const [i, shape] of shapes.entries()) {
    const callId = `console-${i + 1}-${randomBytes(3).toString('hex')}`;
    const callSid = newCallSid();
    await stack.putCall({ callId, twilioCallSid: callSid });
    const recording = twilio.addRecording({ callSid, startTime: new Date(started.getTime() + i * 1000), ...shape });
    expect((await stack.postCallback(twilio.callbackParams(recording))).status).toBe(204);
    recordings.push({ callId, recording });
  }
  // A second recording on the second call: playing one of a call's recordings issues no URL for the other.
  const second = recordings[1] as (typeof recordings)[number];
  sibling = twilio.addRecording({
    callSid: second.recording.callSid,
    startTime: new Date(started.getTime() + 3000),
    duration: 1,
    channels: 1,
  });
  expect((await stack.postCallback(twilio.callbackParams(sibling))).status).toBe(204);
  const earlierCallSid = newCallSid();
  const earlierCallId = `console-earlier-${randomBytes(3).toString('hex')}`;
  await stack.putCall({ callId: earlierCallId, twilioCallSid: earlierCallSid });
  earlier = {
    callId: earlierCallId,
    recording: twilio.addRecording({
      callSid: earlierCallSid,
      startTime: new Date(started.getTime() - 3 * 24 * 3600_000),
      duration: 1,
      channels: 1,
    }),
  };
  expect((await stack.postCallback(twilio.callbackParams(earlier.recording))).status).toBe(204);
  for (const { callId, recording } of [...recordings, { callId: second.callId, recording: sibling }, earlier]) {
    await stack.waitForEntry(callId, recording.sid, 'stored');
  }
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stopSuite(stack, twilio);
}, 60_000);

/** A fresh browser context (its own sessionStorage) on the console, with CSP violations collected. */
async function openConsole(fragment: string): Promise<{ page: Page; cspViolations: string[] }> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const cspViolations: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  await page.setViewport({ width: 1360, height: 700 });
  await page.goto(`${stack.baseUrl}/${fragment}`, { waitUntil: 'domcontentloaded' });
  return { page, cspViolations };
}

/** Shows `day` (the recordings' UTC day) if the page opened on another one (a test run across midnight). */
async function showDay(page: Page): Promise<void> {
  await page.waitForSelector('#list[aria-busy="false"]', { timeout: UI_TIMEOUT_MS });
  const shown = await page.$eval('#list', (list) => list.getAttribute('data-day'));
  if (shown !== day) {
    await page.$eval(
      '#day',
      (input, value) => {
        (input as unknown as { value: string }).value = value;
        input.dispatchEvent(new Event('change'));
      },
      day,
    );
    await page.waitForSelector(`#list[data-day="${day}"][aria-busy="false"]`, { timeout: UI_TIMEOUT_MS });
  }
  // The first listing probes the hold and audit routes once and may render its rows again: wait for that.
  await page.waitForSelector('#list[data-extras="probed"]', { timeout: UI_TIMEOUT_MS });
}

const row = (sid: string) => `#rows tr[data-sid="${sid}"]`;

function signedIn(): Promise<{ page: Page; cspViolations: string[] }> {
  return openConsole(`#token=${encodeURIComponent(stack.config.apiToken)}`);
}

test('GET / serves the console without a token, with a strict CSP and nosniff', async () => {
  const page = await fetch(`${stack.baseUrl}/`);
  const script = await fetch(`${stack.baseUrl}/console.js`);
  const config = await fetch(`${stack.baseUrl}/config.json`);

  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const csp = page.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain(`media-src 'self' http://127.0.0.1:${stack.config.ports.s3}`);
  expect(csp).not.toContain('unsafe-inline');
  expect(page.headers.get('x-content-type-options')).toBe('nosniff');
  expect(await page.text()).not.toMatch(/<script>|<style>|\sstyle=|\son\w+=/i);
  expect([script.status, script.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
  expect(await config.json()).toEqual({ auth: 'local' });
});

test('lists the stored recordings of the day with their facts, signed in from the banner link', async () => {
  const { page, cspViolations } = await signedIn();
  try {
    await showDay(page);
    for (const { recording } of recordings) {
      await page.waitForSelector(`${row(recording.sid)}[data-status="stored"]`, { timeout: UI_TIMEOUT_MS });
    }

    // The token left the address bar for this tab's sessionStorage.
    expect(new URL(page.url()).hash).toBe('');
    expect(await page.evaluate(() => sessionStorage.getItem('recording-vault.token'))).toContain(stack.config.apiToken);
    const { callId, recording } = recordings[1] as (typeof recordings)[number];
    const ledger = await stack.ddb.send(
      new GetCommand({ TableName: 'recordings', Key: { recordingSid: recording.sid }, ConsistentRead: true }),
    );
    const cells = await page.$$eval(`${row(recording.sid)} td`, (tds) => tds.map((td) => td.textContent ?? ''));
    expect(cells.join(' | ')).toContain(callId);
    expect(cells.join(' | ')).toContain(recording.callSid);
    expect(cells.join(' | ')).toContain('0:02');
    expect(cells.join(' | ')).toContain('DialVerb');
    expect(cells[3]).toBe('2');
    expect(cells.join(' | ')).toContain(String(ledger.Item?.sha256).slice(0, 12));
    expect(await page.$eval(`${row(recording.sid)} .sha code`, (code) => code.getAttribute('title'))).toBe(
      ledger.Item?.sha256,
    );
    expect(cspViolations).toEqual([]);
  } finally {
    await page.browserContext().close();
  }
});

/** The actions in the recording's audit trail, read through the API (a read the trail does not enter). */
async function auditActions(recordingSid: string): Promise<string[]> {
  const response = await fetch(`${stack.baseUrl}/recordings/${recordingSid}/audit`, {
    headers: { authorization: `Bearer ${stack.config.apiToken}` },
  });
  expect(response.status).toBe(200);
  const { entries } = (await response.json()) as { entries: { action: string }[] };
  return entries.map((entry) => entry.action);
}

test('listing, reading and toggling a hold issue no playback URL; playing one recording issues its URL alone', async () => {
  const { page, cspViolations } = await signedIn();
  try {
    await showDay(page);
    const { recording } = recordings[1] as (typeof recordings)[number];
    const hold = `${row(recording.sid)} button.hold`;
    await page.waitForSelector(hold, { timeout: UI_TIMEOUT_MS });
    const everyone = [...recordings.map((r) => r.recording.sid), sibling.sid];
    for (const sid of everyone) expect(await auditActions(sid)).not.toContain('playback.url');

    // Hold, with a reason: the row says so (from the listing), and nothing was played.
    await page.click(hold);
    await page.waitForSelector('#hold-dialog[open]', { timeout: UI_TIMEOUT_MS });
    await page.type('#hold-reason', 'Case 2026-118: customer complaint');
    await page.click('#hold-confirm');
    await page.waitForSelector(`${row(recording.sid)}[data-hold="held"]`, { timeout: UI_TIMEOUT_MS });
    expect(await page.$eval(`${row(recording.sid)} .held`, (badge) => badge.getAttribute('title'))).toContain(
      'Case 2026-118: customer complaint',
    );
    expect(await page.$(`${row(recording.sid)} button.audit`)).not.toBeNull();

    // "Held only" lists every recording on hold now (hold=true, no range), whatever the day shown:
    // this one and one held three days earlier, oldest first, each row naming its day.
    const other = await fetch(`${stack.baseUrl}/recordings/${earlier.recording.sid}/hold`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${stack.config.apiToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'Case 2026-117: earlier call' }),
    });
    expect(other.status).toBe(200);
    await page.click('#held-only');
    await page.waitForSelector('#list[data-count="2"][data-held="all"][aria-busy="false"]', {
      timeout: UI_TIMEOUT_MS,
    });
    expect(await page.$$eval('#rows tr', (trs) => trs.map((tr) => tr.getAttribute('data-sid')))).toEqual([
      earlier.recording.sid,
      recording.sid,
    ]);
    const earlierDay = new Date(Date.parse(`${day}T00:00:00Z`) - 3 * 24 * 3600_000).toISOString().slice(0, 10);
    expect(await page.$eval(`${row(earlier.recording.sid)} td.time`, (td) => td.textContent)).toContain(earlierDay);
    expect(await page.$eval('#summary', (p) => p.textContent)).toMatch(/^2 recordings on legal hold, every day/);
    // The day does not apply while "Held only" is ticked.
    expect(await page.$eval('#prev-day', (button) => (button as unknown as { disabled: boolean }).disabled)).toBe(true);
    await page.click('#held-only');
    await page.waitForSelector(`#list[data-count="${everyone.length}"]:not([data-held])[aria-busy="false"]`, {
      timeout: UI_TIMEOUT_MS,
    });
    const released = await fetch(`${stack.baseUrl}/recordings/${earlier.recording.sid}/hold`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${stack.config.apiToken}` },
    });
    expect(released.status).toBe(204);

    // Release, once confirmed.
    await page.click(hold);
    await page.waitForSelector('#hold-dialog[open]', { timeout: UI_TIMEOUT_MS });
    await page.click('#hold-confirm');
    await page.waitForSelector(`${row(recording.sid)}:not([data-hold])`, { timeout: UI_TIMEOUT_MS });
    await page.waitForSelector(`${row(recording.sid)} button.hold`, { timeout: UI_TIMEOUT_MS });

    expect(await auditActions(recording.sid)).toEqual(['recording.hold', 'recording.release']);
    for (const sid of everyone) expect(await auditActions(sid)).not.toContain('playback.url');

    // A real playback is audited: this recording's URL, and no other of its call.
    await page.click(`${row(recording.sid)} button.play`);
    await page.waitForSelector(`#audio[data-sid="${recording.sid}"][data-state="ended"]`, { timeout: UI_TIMEOUT_MS });
    expect(await auditActions(recording.sid)).toEqual(['recording.hold', 'recording.release', 'playback.url']);
    for (const sid of everyone.filter((sid) => sid !== recording.sid)) {
      expect(await auditActions(sid)).not.toContain('playback.url');
    }
    expect(cspViolations).toEqual([]);
  } finally {
    await page.browserContext().close();
  }
});

test('plays a recording in the page to its end', async () => {
  const { page, cspViolations } = await signedIn();
  try {
    await showDay(page);
    const { recording } = recordings[0] as (typeof recordings)[number];
    await page.waitForSelector(`${row(recording.sid)} button.play`, { timeout: UI_TIMEOUT_MS });

    await page.click(`${row(recording.sid)} button.play`);

    await page.waitForSelector(`#audio[data-sid="${recording.sid}"][data-state="ended"]`, { timeout: UI_TIMEOUT_MS });
    const played = await page.$eval('#audio', (element) => {
      const audio = element as unknown as { duration: number; error: { code: number } | null };
      return { duration: audio.duration, error: audio.error?.code ?? null };
    });
    expect(played.error).toBeNull();
    expect(played.duration).toBeGreaterThan(0.8);
    expect(played.duration).toBeLessThan(1.5);
    expect(cspViolations).toEqual([]);
  } finally {
    await page.browserContext().close();
  }
});

test('erases a recording once confirmed, and it leaves the list', async () => {
  const { page } = await signedIn();
  try {
    await showDay(page);
    const { recording } = recordings[2] as (typeof recordings)[number];
    const erase = `${row(recording.sid)} button.erase`;
    await page.waitForSelector(erase, { timeout: UI_TIMEOUT_MS });

    // Cancel keeps it.
    await page.click(erase);
    await page.waitForSelector('#confirm-erase[open]', { timeout: UI_TIMEOUT_MS });
    await page.click('#erase-cancel');
    await page.waitForSelector('#confirm-erase:not([open])', { timeout: UI_TIMEOUT_MS });
    expect(await page.$(row(recording.sid))).not.toBeNull();

    await page.click(erase);
    await page.waitForSelector('#confirm-erase[open]', { timeout: UI_TIMEOUT_MS });
    await page.click('#erase-confirm');

    await page.waitForFunction(`!document.querySelector('${row(recording.sid)}')`, { timeout: UI_TIMEOUT_MS });
    await page.waitForFunction(`/Erased/.test(document.querySelector('#message')?.textContent ?? '')`, {
      timeout: UI_TIMEOUT_MS,
    });
    const ledger = await stack.ddb.send(
      new GetCommand({ TableName: 'recordings', Key: { recordingSid: recording.sid }, ConsistentRead: true }),
    );
    expect(ledger.Item?.status).toBe('erased');
    // The others stay; "Show erased" brings it back, marked erased.
    expect(await page.$(row((recordings[0] as (typeof recordings)[number]).recording.sid))).not.toBeNull();
    await page.click('#show-erased');
    await page.waitForSelector(`${row(recording.sid)}[data-status="erased"]`, { timeout: UI_TIMEOUT_MS });
  } finally {
    await page.browserContext().close();
  }
});

test('a bad token gets a clear message and the sign-in form', async () => {
  const { page } = await openConsole('#token=not-the-token');
  try {
    await page.waitForSelector('#message[data-kind="error"]', { timeout: UI_TIMEOUT_MS });

    const message = await page.$eval('#message', (m) => m.textContent ?? '');
    expect(message).toMatch(/refused the token \(401 Unauthorized\)/);
    expect(message).toMatch(/LOCAL_API_TOKEN/);
    expect(await page.$eval('#token-form', (form) => form.hasAttribute('hidden'))).toBe(false);
    expect(await page.$eval('#recordings', (section) => section.hasAttribute('hidden'))).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('recording-vault.token'))).toBeNull();

    // Pasting the right one signs in.
    await page.type('#token', stack.config.apiToken);
    await page.click('#token-form button[type="submit"]');
    await page.waitForSelector('#recordings:not([hidden])', { timeout: UI_TIMEOUT_MS });
  } finally {
    await page.browserContext().close();
  }
});

test('erases a conference recording that names no call, by its RecordingSid', async () => {
  const conference = twilio.addRecording({
    callSid: null,
    conferenceSid: `CF${randomBytes(16).toString('hex')}`,
    source: 'Conference',
    startTime: new Date(Date.parse(`${day}T00:00:30.000Z`)),
    duration: 1,
    channels: 1,
  });
  expect((await stack.postCallback(twilio.callbackParams(conference))).status).toBe(204);
  await stack.storedInLedger(conference.sid);
  const { page } = await signedIn();
  try {
    await showDay(page);
    const erase = `${row(conference.sid)} button.erase`;
    await page.waitForSelector(erase, { timeout: UI_TIMEOUT_MS });

    await page.click(erase);
    await page.waitForSelector('#confirm-erase[open]', { timeout: UI_TIMEOUT_MS });
    expect(await page.$eval('#erase-what', (p) => p.textContent ?? '')).toMatch(/of conference CF/);
    await page.click('#erase-confirm');

    await page.waitForFunction(`!document.querySelector('${row(conference.sid)}')`, { timeout: UI_TIMEOUT_MS });
    expect((await stack.ledger(conference.sid))?.status).toBe('erased');
  } finally {
    await page.browserContext().close();
  }
});
