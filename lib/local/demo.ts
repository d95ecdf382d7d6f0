/**
 * `npm run demo`: the whole flow with no Twilio account. A simulated Twilio (the module the tests
 * use) serves media and the recording list and sends signed callbacks to the local stack, which
 * runs exactly as `npm start` does. A few calls go through it: one plain, one whose media answers
 * 404 first (Twilio still finishing the file), one absent, one whose callback never comes and
 * that the reconciler finds, one recorded with Voice Recording Encryption (its key pair
 * written under the data directory), and a two-channel conference recording that names no call
 * (played by its RecordingSid). The demo prints what was stored, with a working playback URL each, and for the encrypted one the `npm run decrypt` command that turns it back into audio.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';
import { generateRecordingKeyPair, type RecordingKeyPair, SimulatedTwilio, status } from '../simulated-twilio';
import { type Env, EVENTS_FILE, LEDGER_TABLE_NAME, TABLE_NAME } from './config';
import { type EmulatorPlaces, emulatorVariables, nextSteps } from './next-steps';
import { type LocalStack, startLocalStack } from './stack';

export interface DemoOptions {
  /** Where the demo's variables come from (ports, LOCAL_API_TOKEN…); its Twilio settings are its own. */
  readonly env: Env;
  readonly print: (line: string) => void;
  /** Give up waiting for the recordings after this long. Default 120 s. */
  readonly timeoutMs?: number;
}

export interface Demo {
  readonly stack: LocalStack;
  readonly twilio: SimulatedTwilio;
  stop(): Promise<void>;
}

interface DemoCall {
  /** Null for the conference recording: it names no call, the vault finds it by its RecordingSid. */
  readonly callId: string | null;
  readonly story: string;
  readonly recordingSid: string;
  /** What the demo expects the ledger to say in the end. */
  readonly expected: 'stored' | 'absent';
}

export async function runDemo(options: DemoOptions): Promise<Demo> {
  const { print } = options;
  const accountSid = `AC${randomBytes(16).toString('hex')}`;
  const authToken = randomBytes(16).toString('hex');
  const twilio = await SimulatedTwilio.start({ accountSid, authToken });
  // A data directory of its own, fresh each run: the demo never touches `npm start`'s data.
  const dataDir = resolve(options.env.LOCAL_DATA_DIR ?? join('.local', 'demo'));
  await rm(dataDir, { recursive: true, force: true });

  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      env: {
        ...options.env,
        TWILIO_ACCOUNT_SID: accountSid,
        TWILIO_AUTH_TOKEN: authToken,
        TWILIO_API_BASE_URL: twilio.baseUrl,
        LOCAL_DATA_DIR: dataDir,
        // Retries and the reconciler on a demo's time scale, not production's.
        TRANSFER_RETRY_BASE_SECONDS: '1',
        RECONCILE_INTERVAL_SECONDS: options.env.RECONCILE_INTERVAL_SECONDS ?? '5',
        RECONCILE_SETTLE_SECONDS: '0',
        RECONCILE_LOOKBACK_SECONDS: '3600',
      },
      print,
      // The demo says what to do next at its end, with the simulated Twilio's settings.
      nextSteps: false,
    });
  } catch (error) {
    await twilio.close();
    throw error;
  }
  print(`Simulated Twilio: ${twilio.baseUrl} (account ${accountSid})`);
  const demo: Demo = {
    stack,
    twilio,
    async stop() {
      await stack.stop();
      await twilio.close();
    },
  };
  try {
    await driveCalls(stack, twilio, dataDir, options);
  } catch (error) {
    await demo.stop();
    throw error;
  }
  return demo;
}

/** Seeds the calls, plays Twilio's part, waits for the vault, and prints what it holds. */
async function driveCalls(stack: LocalStack, twilio: SimulatedTwilio, dataDir: string, options: DemoOptions) {
  const { print } = options;

  const ddb = DynamoDBDocumentClient.from(stack.clients.ddb);
  const started = new Date(Date.now() - 2 * 60_000);
  const calls: DemoCall[] = [];
  const addCall = async (
    story: string,
    expected: DemoCall['expected'],
    recording: Parameters<SimulatedTwilio['addRecording']>[0],
  ) => {
    const call = twilio.addCall({ startTime: started });
    const callId = `demo-${calls.length + 1}`;
    await ddb.send(
      new PutCommand({ TableName: TABLE_NAME, Item: { callId, twilioCallSid: call.sid, origin: 'demo' } }),
    );
    const made = twilio.addRecording({
      callSid: call.sid,
      startTime: started,
      // Real audio (tones) of a few seconds, a different length for each call.
      duration: 6 + 3 * calls.length,
      ...recording,
    });
    calls.push({ callId, story, recordingSid: made.sid, expected });
    return made;
  };

  const plain = await addCall('called back', 'stored', {});
  const late = await addCall('called back; the media answered 404 first', 'stored', {
    responses: [status(404)],
    channels: 1,
  });
  const absent = await addCall('called back absent (silent)', 'absent', { status: 'absent', errorCode: 16102 });
  await addCall('never called back: found by the reconciler', 'stored', {});
  const keys = await writeDemoKeyPair(dataDir);
  const encrypted = await addCall('called back; recorded with Voice Recording Encryption', 'stored', {
    encryption: keys.pair,
  });

  // A conference recorded with <Conference record="record-from-start">: no CallSid, two channels.
  const conference = twilio.addRecording({ source: 'Conference', channels: 2, startTime: started, duration: 8 });
  calls.push({
    callId: null,
    story: `called back; conference ${conference.conferenceSid}, two channels, no CallSid`,
    recordingSid: conference.sid,
    expected: 'stored',
  });

  for (const recording of [plain, late, absent, encrypted, conference]) {
    const answer = await twilio.sendCallback(stack.webhookUrl, twilio.callbackParams(recording));
    print(`Twilio → POST ${stack.webhookUrl} for ${recording.sid}: ${answer}`);
  }

  print('Waiting for the transfers and the reconciler…');
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  const ledger = async (recordingSid: string) =>
    (await ddb.send(new GetCommand({ TableName: LEDGER_TABLE_NAME, Key: { recordingSid }, ConsistentRead: true })))
      .Item as LedgerItem | undefined;
  for (const call of calls) {
    for (;;) {
      const item = await ledger(call.recordingSid);
      if (item?.status === call.expected) break;
      if (Date.now() > deadline) {
        throw new Error(`${call.recordingSid} (${call.story}) is ${item?.status ?? 'unknown'} after the demo's wait`);
      }
      await new Promise((done) => setTimeout(done, 250));
    }
  }

  print('');
  print('What the vault holds:');
  for (const call of calls) {
    const item = await ledger(call.recordingSid);
    const head = `  ${call.callId ?? 'conference'}  ${call.recordingSid}  ${call.story}`;
    if (item?.status !== 'stored') {
      print(`${head}\n      ${item?.status}: ${item?.error ?? ''}`);
      continue;
    }
    print(`${head}`);
    print(
      `      stored ${item.sizeBytes} B, sha256 ${item.sha256}, origin ${item.origin}, s3://${item.bucket}/${item.key}`,
    );
    if (item.encryption) {
      // Its copy is ciphertext: a playback URL would serve bytes no player reads.
      print(`      encrypted by Twilio for public key ${item.encryption.publicKeySid}; decrypt it with:`);
      print(`        ${decryptCommand(call.recordingSid, keys.privateKeyPath, dataDir, stack.config)}`);
      continue;
    }
    const path = call.callId
      ? `/calls/${encodeURIComponent(call.callId)}/recording`
      : `/recordings/${encodeURIComponent(call.recordingSid)}`;
    const playback = await fetch(`${stack.apiUrl}${path}`, {
      headers: { authorization: `Bearer ${stack.apiToken}` },
    });
    const body = (await playback.json()) as { url?: string };
    print(`      play: ${body.url ?? `(playback answered ${playback.status})`}`);
  }
  print('');
  print(`Data: ${dataDir} (events in ${EVENTS_FILE}; deleted at the next npm run demo)`);
  for (const line of nextSteps(stack.apiUrl, stack.apiToken, new Date(), stack.config)) print(line);
  print('  Backfill from the simulated Twilio (another terminal, while the demo runs):');
  print(`    ${backfillCommand(stack, twilio)}`);
  print('');
  print('demo ready: the stack keeps serving; Ctrl-C stops it');
}

/** The demo's key pair, as a customer keeps one: PEM files under the data directory, private key owner-only. */
async function writeDemoKeyPair(dataDir: string): Promise<{ pair: RecordingKeyPair; privateKeyPath: string }> {
  const pair = generateRecordingKeyPair();
  const keysDir = join(dataDir, 'keys');
  await mkdir(keysDir, { recursive: true, mode: 0o700 });
  const privateKeyPath = join(keysDir, 'private_key.pem');
  await writeFile(privateKeyPath, pair.privateKeyPem, { mode: 0o600 });
  await writeFile(join(keysDir, 'public_key.pem'), pair.publicKeyPem, { mode: 0o644 });
  return { pair, privateKeyPath };
}

/** `npm run decrypt` of the demo's encrypted recording, paths relative to where the demo runs. */
function decryptCommand(recordingSid: string, privateKeyPath: string, dataDir: string, places: EmulatorPlaces): string {
  const shown = (path: string) => {
    const near = relative(process.cwd(), path);
    return near && !near.startsWith('..') ? near : path;
  };
  const args = `--recording ${recordingSid} --private-key ${shown(privateKeyPath)} --out ${shown(join(dataDir, `${recordingSid}.wav`))}`;
  return [...emulatorVariables(places), `npm run decrypt -- ${args}`].join(' ');
}

/** `npm run backfill` against this demo: the simulated Twilio's settings and the demo's emulator ports. */
function backfillCommand(stack: LocalStack, twilio: SimulatedTwilio): string {
  const today = new Date().toISOString().slice(0, 10);
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000).toISOString().slice(0, 10);
  const vars = [
    `TWILIO_ACCOUNT_SID=${stack.config.accountSid}`,
    `TWILIO_AUTH_TOKEN=${stack.config.authToken}`,
    `TWILIO_API_BASE_URL=${twilio.baseUrl}`,
    ...emulatorVariables(stack.config),
  ];
  return `${vars.join(' ')} npm run backfill -- --from ${today} --to ${tomorrow}`;
}
