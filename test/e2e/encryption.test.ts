/**
 * A recording made with Twilio's Voice Recording Encryption through `npm start`'s local stack:
 * the simulated Twilio encrypts it with a key pair made here (as a customer makes one), posts
 * the signed callback with its EncryptionDetails; the vault stores the ciphertext, and
 * `npm run decrypt` (bin/decrypt.ts, a child process as an operator runs it) turns the stored
 * copy back into the original audio with the private key, and refuses a wrong key in one line.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRecordingKeyPair, SimulatedTwilio } from '../../lib/simulated-twilio';
import { type CliRun, LocalStack, newAccountSid, newCallSid, type PlaybackBody, runCli } from './harness';

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');
const keys = generateRecordingKeyPair();

let twilio: SimulatedTwilio;
let stack: LocalStack;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rv-e2e-decrypt-'));
  await writeFile(join(dir, 'private_key.pem'), keys.privateKeyPem, { mode: 0o600 });
  await writeFile(join(dir, 'wrong_key.pem'), generateRecordingKeyPair().privateKeyPem, { mode: 0o600 });
  twilio = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(twilio);
}, 120_000);

afterAll(async () => {
  if (stack) {
    await stack.stop();
    await stack.removeData();
  }
  await twilio?.close();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

/** `npm run decrypt -- …` against this stack, from an operator's shell with its emulator ports. */
function decrypt(args: readonly string[]): Promise<CliRun> {
  return runCli('decrypt', args, stack.operatorEnv());
}

describe('an encrypted recording', () => {
  let recordingSid: string;
  let callId: string;

  beforeAll(async () => {
    const callSid = newCallSid();
    callId = `call-${randomBytes(6).toString('hex')}`;
    await stack.putCall({ callId, twilioCallSid: callSid });
    const recording = twilio.addRecording({ callSid, duration: 4, channels: 1, encryption: keys });
    recordingSid = recording.sid;

    const accepted = await stack.postCallback(twilio.callbackParams(recording));

    expect(accepted.status).toBe(204);
    await stack.waitForEntry(callId, recordingSid, 'stored');
  }, 60_000);

  test('is stored as Twilio encrypted it, and the API hands out its EncryptionDetails', async () => {
    const recording = twilio.recording(recordingSid);
    const answer = await stack.playback(callId);
    const body = answer.json as PlaybackBody & { sha256?: string; encryption?: unknown };

    expect(answer.status).toBe(200);
    expect(body.sha256).toBe(createHash('sha256').update(recording.media).digest('hex'));
    expect(body.encryption).toEqual(recording.encryptionDetails);
    const channels = recording.channels === 2 ? '?RequestedChannels=2' : '';
    expect(twilio.requestsTo(recordingSid).map((r) => r.path)).toEqual([
      `${twilio.recordingPath(recordingSid, 'wav')}${channels}`,
    ]);
  });

  test('npm run decrypt with the private key writes the original audio', async () => {
    const out = join(dir, 'call.wav');

    const run = await decrypt([
      '--recording',
      recordingSid,
      '--private-key',
      join(dir, 'private_key.pem'),
      '--out',
      out,
    ]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^decrypt: wrote .*call\\.wav \\(\\d+ bytes of audio\\) from ${recordingSid};`),
    );
    const audio = await readFile(out);
    expect(audio.equals(twilio.plaintextFor(recordingSid))).toBe(true);
    expect(audio.subarray(0, 4).toString('latin1')).toBe('RIFF');
  });

  test('a wrong key is one clear line and exit 1, and no file is written', async () => {
    const out = join(dir, 'wrong.wav');

    const run = await decrypt(['--recording', recordingSid, '--private-key', join(dir, 'wrong_key.pem'), '--out', out]);

    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      `decrypt: wrong key: ${join(dir, 'wrong_key.pem')} does not open ${recordingSid} (Twilio encrypted it for public key ${keys.publicKeySid})`,
    ]);
    await expect(stat(out)).rejects.toThrow();
  });

  test('the playback URL and every decrypt are in the audit trail (GET /recordings/{recordingSid}/audit)', async () => {
    const answer = await stack.request('GET', `/recordings/${recordingSid}/audit`, {
      headers: { authorization: `Bearer ${stack.config.apiToken}` },
    });

    expect(answer.status).toBe(200);
    const entries = (answer.json as { entries: Array<{ action: string; outcome: string; actorKind: string }> }).entries;
    expect(entries.map((e) => `${e.action} ${e.outcome}`)).toEqual([
      'playback.url issued',
      'ops.decrypt requested',
      'ops.decrypt decrypted',
      'ops.decrypt requested',
      'ops.decrypt failed',
    ]);
    expect(entries[0]?.actorKind).toBe('local');
  });

  test('missing arguments are one line and exit 1', async () => {
    const run = await decrypt(['--recording', recordingSid]);

    expect(run.code).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      expect.stringMatching(/^decrypt: required option '--private-key/),
    ]);
  });
});
