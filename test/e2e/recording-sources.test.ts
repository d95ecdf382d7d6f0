import { createHash, randomBytes } from 'node:crypto';
import { type RecordingSource, type SimulatedRecording, SimulatedTwilio } from '../../lib/simulated-twilio';
import { download, LocalStack, newAccountSid, stopSuite, waitFor } from './harness';

/**
 * Every recording source Twilio reports, end to end on the local stack with the simulated Twilio:
 * for each, a recording whose callback comes and one whose callback never comes (the reconciler,
 * every second here, catches it) are each stored once, byte for byte, and played back by their
 * RecordingSid alone. Conference recordings name no call and have two channels; the vault keeps
 * the two-channel media, not the mono mix Twilio serves by default.
 */

const ACCOUNT_SID = newAccountSid();
const AUTH_TOKEN = randomBytes(16).toString('hex');
const MINUTE = 60_000;

const SOURCES: readonly RecordingSource[] = [
  'Conference',
  'DialVerb',
  'RecordVerb',
  'OutboundAPI',
  'Trunking',
  'StartCallRecordingAPI',
  'StartConferenceRecordingAPI',
];
const isConference = (source: RecordingSource) => source === 'Conference' || source === 'StartConferenceRecordingAPI';

interface Batch {
  readonly called: SimulatedRecording;
  readonly missed: SimulatedRecording;
  readonly callId: string | null;
}

let twilio: SimulatedTwilio;
let stack: LocalStack;
const batches = new Map<RecordingSource, Batch>();
const callbackAnswers: number[] = [];

beforeAll(async () => {
  twilio = await SimulatedTwilio.start({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
  stack = await LocalStack.startFor(twilio, {
    env: {
      RECONCILE_INTERVAL_SECONDS: '1',
      RECONCILE_LOOKBACK_SECONDS: '3600',
      RECONCILE_SETTLE_SECONDS: '0',
    },
  });
  // All sources in one batch: every recording is added first, then every callback is sent.
  for (const [index, source] of SOURCES.entries()) {
    const call = isConference(source) ? undefined : await stack.knownCall();
    const fields = {
      source,
      channels: 2 as const,
      ...(call ? { callSid: call.callSid } : {}),
    };
    batches.set(source, {
      callId: call?.callId ?? null,
      called: twilio.addRecording({ ...fields, size: 20_000 + index, dateCreated: new Date(Date.now() - 2 * MINUTE) }),
      missed: twilio.addRecording({ ...fields, size: 21_000 + index, dateCreated: new Date(Date.now() - 10 * MINUTE) }),
    });
  }
  for (const { called } of batches.values()) {
    callbackAnswers.push(await twilio.sendCallback(stack.webhookUrl, twilio.callbackParams(called)));
  }
}, 120_000);

afterAll(() => stopSuite(stack, twilio), 60_000);

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

test('the webhook accepted the callback of every source', () => {
  expect(callbackAnswers).toEqual(SOURCES.map(() => 204));
});

describe.each(SOURCES)('a %s recording', (source) => {
  const batch = () => batches.get(source) as Batch;

  test.each(['called', 'missed'] as const)(
    '(%s) is stored once, byte for byte, and played by its RecordingSid',
    async (which) => {
      const { callId } = batch();
      const recording = batch()[which];

      const stored = await stack.storedInLedger(recording.sid, 30_000);

      expect(stored.sha256).toBe(sha256(recording.media));
      if (which === 'missed') expect(stored.origin).toBe('reconciler');
      if (isConference(source)) {
        expect(recording.callSid).toBeNull();
        expect(stored).toMatchObject({ conferenceSid: recording.conferenceSid });
        expect(stored.callSid).toBeUndefined();
        // The two-channel media, not the mono mix served without RequestedChannels=2.
        expect(stored.sha256).not.toBe(sha256(twilio.monoMixFor(recording.sid, 'mp3')));
      } else {
        expect(stored).toMatchObject({ callId, callSid: recording.callSid });
      }
      const objects = (await stack.listKeys('recordings/')).filter((o) => o.key.includes(recording.sid));
      expect(objects).toEqual([{ key: stored.key, size: recording.media.length }]);
      expect(sha256(await stack.objectBytes(stored.key ?? ''))).toBe(sha256(recording.media));

      const found = await stack.request('GET', `/recordings/${recording.sid}`, {
        headers: { authorization: `Bearer ${stack.config.apiToken}` },
      });
      expect(found.status).toBe(200);
      expect(found.json).toMatchObject({
        recordingSid: recording.sid,
        source,
        status: 'stored',
        sha256: stored.sha256,
        conferenceSid: recording.conferenceSid,
      });
      const played = await download((found.json as { url: string }).url);
      expect(played.bytes.equals(recording.media)).toBe(true);
    },
    40_000,
  );
});

test('no recording was fetched twice, and every request to Twilio was authorized', async () => {
  const all = [...batches.values()].flatMap((b) => [b.called, b.missed]);
  await waitFor('every recording stored', async () => {
    for (const r of all) if ((await stack.ledger(r.sid))?.status !== 'stored') return undefined;
    return true;
  });
  await stack.waitForQueueDrained();

  expect(all.filter((r) => twilio.mediaRequests(r.sid).length !== 1).map((r) => r.sid)).toEqual([]);
  expect(twilio.unauthorizedRequests()).toEqual([]);
});
