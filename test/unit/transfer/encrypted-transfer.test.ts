/**
 * Recordings made with Twilio's Voice Recording Encryption through the real transfer handler:
 * dynalite and s3rver, the simulated Twilio encrypting as Twilio does, SQS mocked
 * (ChangeMessageVisibility only). The copy is the ciphertext, fetched as .wav whatever the
 * stage's format, and Twilio's EncryptionDetails travel with it everywhere the vault keeps it.
 */
import '../../helpers/setup-env';
import { createHash, randomUUID } from 'node:crypto';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { toJob } from '../../../lambda/shared/job/reconcile';
import type { RecordingJob } from '../../../lambda/shared/job/recording-job';
import type { VaultEvent } from '../../../lambda/shared/ledger/events';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { parseEncryptionDetailsField } from '../../../lambda/shared/twilio/encryption-details';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { createTransferHandler } from '../../../lambda/transfer/handler';
import { parseRecordingCallback } from '../../../lambda/webhook/recording-callback';
import { generateRecordingKeyPair, type SimulatedRecording, type SimulatedTwilio } from '../../../lib/simulated-twilio';
import type { Emulators } from '../../helpers/emulators';
import { sqsEvent, sqsRecord } from '../../helpers/events';
import { resetTransferSqs, startTransferDoubles, transferTestConfig } from '../../helpers/transfer-suite';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../helpers/twilio-fixtures';

const RECEIVED_AT = new Date('2024-07-22T17:05:00.000Z');
const STARTED = new Date('2024-07-22T17:00:00.000Z');
const keys = generateRecordingKeyPair();

const sqs = mockClient(SQSClient);
const published: VaultEvent[] = [];
let aws: Emulators;
let twilio: SimulatedTwilio;

beforeAll(async () => {
  [aws, twilio] = await startTransferDoubles();
});

afterAll(async () => {
  sqs.restore();
  await Promise.all([aws.stop(), twilio.close()]);
});

beforeEach(() => {
  published.length = 0;
  twilio.reset();
  resetTransferSqs(sqs);
});

/** A stage that prefers mp3, as most do. */
function transferHandler() {
  return createTransferHandler({
    config: transferTestConfig(twilio.baseUrl),
    tokens: staticTokens(TEST_AUTH_TOKEN),
    s3: aws.s3,
    ddb: aws.ddb,
    sqs: new SQSClient({ region: 'us-east-1' }),
    events: { publish: async (event) => void published.push(event) },
    obs: createObservability('recording-transfer-test'),
  });
}

async function givenEncryptedRecording(): Promise<{ recording: SimulatedRecording; callId: string }> {
  const recording = twilio.addRecording({ startTime: STARTED, duration: 3, encryption: keys });
  const callSid = recording.callSid as string;
  const callId = `call-${callSid.slice(2, 14)}`;
  await aws.putItem({ callId, twilioCallSid: callSid });
  return { recording, callId };
}

function callbackJob(recording: SimulatedRecording, overrides: Record<string, string> = {}): RecordingJob {
  return parseRecordingCallback(twilio.callbackParams(recording, overrides), RECEIVED_AT, randomUUID());
}

describe('an encrypted recording', () => {
  it('is fetched as .wav and stored as Twilio encrypted it, its SHA-256 over the ciphertext', async () => {
    const { recording, callId } = await givenEncryptedRecording();
    const job = callbackJob(recording);

    const result = await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(result).toEqual({ batchItemFailures: [] });
    // Both channels asked of a two-channel recording, encrypted or not.
    expect(twilio.requests.map((r) => r.path)).toEqual([
      `${twilio.recordingPath(recording.sid, 'wav')}?RequestedChannels=2`,
    ]);
    const key = `recordings/2024/07/${callId}/${recording.sid}.wav`;
    const object = await aws.getObject(key);
    const sha256 = createHash('sha256').update(recording.media).digest('hex');
    expect(object?.bytes.equals(recording.media)).toBe(true);
    expect(object?.bytes.equals(twilio.plaintextFor(recording.sid))).toBe(false);
    expect(object?.contentType).toBe('audio/wav');
    expect(object?.metadata).toMatchObject({
      sha256,
      'encryption-type': 'rsa-aes',
      'encryption-public-key-sid': keys.publicKeySid,
      'encryption-encrypted-cek': recording.encryptionDetails?.encryptedCek,
      'encryption-iv': recording.encryptionDetails?.iv,
    });
    expect(await aws.getLedger(recording.sid)).toMatchObject({
      status: 'stored',
      key,
      sha256,
      encryption: recording.encryptionDetails,
    });
    const entry = ((await aws.getItem(callId)) as { recordings: Record<string, unknown> }).recordings[recording.sid];
    expect(entry).toMatchObject({ status: 'stored', sha256, encryption: recording.encryptionDetails });
    expect(published).toEqual([
      {
        detailType: 'Recording Stored',
        detail: expect.objectContaining({
          recordingSid: recording.sid,
          sha256,
          encryption: recording.encryptionDetails,
        }),
      },
    ]);
  });

  it('is still stored, as .wav, when its EncryptionDetails are unusable; the ledger notes why', async () => {
    const { recording, callId } = await givenEncryptedRecording();
    const job = callbackJob(recording, { EncryptionDetails: '{"type":"rsa-aes","iv":"AAAA"}' });

    const result = await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(result).toEqual({ batchItemFailures: [] });
    const ledger = (await aws.getLedger(recording.sid)) as { status: string; encryption?: unknown; notes?: string[] };
    expect(ledger.status).toBe('stored');
    expect(ledger.encryption).toBeUndefined();
    expect(ledger.notes).toEqual([expect.stringMatching(/EncryptionDetails unusable \(.*iv is not/)]);
    const object = await aws.getObject(`recordings/2024/07/${callId}/${recording.sid}.wav`);
    expect(object?.bytes.equals(recording.media)).toBe(true);
    expect(published.map((e) => e.detailType)).toEqual(['Recording Stored']);
  });

  it('found by the reconciler carries the details the list shows, as the callback would have', async () => {
    const { recording, callId } = await givenEncryptedRecording();
    const listed = {
      sid: recording.sid,
      accountSid: TEST_ACCOUNT_SID,
      callSid: recording.callSid ?? undefined,
      status: 'completed',
      dateCreated: STARTED.toISOString(),
      startTime: undefined,
      duration: '3',
      channels: 2,
      source: 'DialVerb',
      encryption: parseEncryptionDetailsField(twilio.callbackParams(recording).EncryptionDetails),
    };
    const job = toJob(listed, { accountSid: TEST_ACCOUNT_SID, origin: 'reconciler', jobId: 'j', now: RECEIVED_AT });

    await transferHandler()(sqsEvent(sqsRecord(job)));

    expect(job.encryption).toEqual(recording.encryptionDetails);
    expect(await aws.getLedger(recording.sid)).toMatchObject({
      status: 'stored',
      key: `recordings/2024/07/${callId}/${recording.sid}.wav`,
      encryption: recording.encryptionDetails,
    });
  });

  it('is stored when Twilio serves it as application/octet-stream rather than audio', async () => {
    const { recording, callId } = await givenEncryptedRecording();
    twilio.respond('GET', twilio.recordingPath(recording.sid, 'wav'), {
      headers: { 'content-type': 'application/octet-stream' },
      body: recording.media,
    });

    const result = await transferHandler()(sqsEvent(sqsRecord(callbackJob(recording))));

    expect(result).toEqual({ batchItemFailures: [] });
    const object = await aws.getObject(`recordings/2024/07/${callId}/${recording.sid}.wav`);
    expect(object?.bytes.equals(recording.media)).toBe(true);
  });
});

describe('the simulated Twilio, as Twilio answers for encrypted recordings', () => {
  it('refuses .mp3 with error 16109 and serves the ciphertext as .wav', async () => {
    const { recording } = await givenEncryptedRecording();
    const auth = { authorization: `Basic ${Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64')}` };

    const mp3 = await fetch(`${twilio.baseUrl}${twilio.recordingPath(recording.sid, 'mp3')}`, { headers: auth });
    const wav = await fetch(`${twilio.baseUrl}${twilio.recordingPath(recording.sid, 'wav')}`, { headers: auth });
    const json = await fetch(`${twilio.baseUrl}${twilio.recordingPath(recording.sid, 'json')}`, { headers: auth });

    expect(mp3.status).toBe(400);
    expect(await mp3.json()).toMatchObject({ code: 16109, status: 400 });
    expect(Buffer.from(await wav.arrayBuffer()).equals(recording.media)).toBe(true);
    expect(((await json.json()) as { encryption_details: unknown }).encryption_details).toEqual({
      type: 'rsa-aes',
      public_key_sid: keys.publicKeySid,
      encrypted_cek: recording.encryptionDetails?.encryptedCek,
      iv: recording.encryptionDetails?.iv,
    });
  });
});
