import '../../../helpers/setup-env';
import { text } from 'node:stream/consumers';
import {
  createTwilioApi,
  isRetryableStatus,
  type TwilioApi,
  TwilioApiError,
} from '../../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../../lambda/shared/twilio/signature';
import { mediaBytes, SimulatedTwilio } from '../../../../lib/simulated-twilio';
import { newCallSid, newRecordingSid, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../../../helpers/twilio-fixtures';

const BASIC_AUTH = `Basic ${Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64')}`;

const ACCOUNT = { accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN };

let stub: SimulatedTwilio;
/** Another host: Twilio's media CDN in the redirect tests. */
let other: SimulatedTwilio;
let api: TwilioApi;

beforeAll(async () => {
  [stub, other] = await Promise.all([SimulatedTwilio.start(ACCOUNT), SimulatedTwilio.start(ACCOUNT)]);
});

afterAll(async () => {
  await Promise.all([stub.close(), other.close()]);
});

beforeEach(() => {
  stub.reset();
  other.reset();
  api = createTwilioApi({
    baseUrl: `${stub.baseUrl}/`,
    accountSid: TEST_ACCOUNT_SID,
    tokens: staticTokens(TEST_AUTH_TOKEN, 'secondary-never-used-for-api'),
    idleTimeoutMs: 200,
  });
});

/** The rejection of `promise`, which must be a TwilioApiError. */
async function twilioError(promise: Promise<unknown>): Promise<TwilioApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof TwilioApiError)) throw new Error(`expected a TwilioApiError, got ${String(error)}`);
  return error;
}

describe('fetchRecordingAudio', () => {
  it('streams the media from the configured base with Basic auth and the announced length', async () => {
    const recordingSid = newRecordingSid();
    const audio = stub.addRecording({ sid: recordingSid, size: 5000 }).media;

    const media = await api.fetchRecordingAudio(recordingSid, 'mp3');
    const chunks: Buffer[] = [];
    for await (const chunk of media.body) chunks.push(chunk as Buffer);

    expect(Buffer.concat(chunks)).toEqual(audio);
    expect(media.contentType).toBe('audio/mpeg');
    expect(media.receivedContentType).toBe('audio/mpeg');
    expect(media.contentLength).toBe(5000);
    expect(stub.requests).toEqual([
      {
        method: 'GET',
        path: `/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Recordings/${recordingSid}.mp3`,
        headers: expect.objectContaining({ authorization: BASIC_AUTH, 'user-agent': 'recording-vault' }),
      },
    ]);
  });

  it('stores .wav media as audio/wav and keeps the type Twilio sent', async () => {
    const recordingSid = newRecordingSid();
    stub.addRecording({ sid: recordingSid, size: 10 });

    const media = await api.fetchRecordingAudio(recordingSid, 'wav');
    media.body.resume();

    expect(media.contentType).toBe('audio/wav');
    expect(media.receivedContentType).toBe('audio/x-wav');
    expect(stub.requests[0]?.path).toBe(`/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Recordings/${recordingSid}.wav`);
  });

  it('keeps a base path of the configured API base', async () => {
    const recordingSid = newRecordingSid();
    stub.addRecording({ sid: recordingSid, size: 10 });
    stub.route('GET', `/proxy/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Recordings/${recordingSid}.mp3`, () => ({
      headers: { 'content-type': 'audio/mpeg' },
      body: 'via proxy',
    }));
    const proxied = createTwilioApi({
      baseUrl: `${stub.baseUrl}/proxy`,
      accountSid: TEST_ACCOUNT_SID,
      tokens: staticTokens(TEST_AUTH_TOKEN),
    });

    const media = await proxied.fetchRecordingAudio(recordingSid, 'mp3');

    expect(await text(media.body)).toBe('via proxy');
  });

  it('leaves the length unknown when Twilio sends no Content-Length', async () => {
    const recordingSid = newRecordingSid();
    const path = stub.recordingPath(recordingSid, 'mp3');
    stub.respond('GET', path, { headers: { 'content-type': 'audio/mpeg' }, body: 'abc', chunked: true });

    const media = await api.fetchRecordingAudio(recordingSid, 'mp3');

    expect(await text(media.body)).toBe('abc');
    expect(media.contentLength).toBeUndefined();
  });

  it.each([
    ['an HTML error page', 'text/html; charset=utf-8', '<html>502 Bad Gateway</html>'],
    ["Twilio's JSON error", 'application/json', '{"code":20404,"message":"not found","status":404}'],
  ])('refuses %s answered with 200 as not audio, retryably', async (_case, type, body) => {
    const recordingSid = newRecordingSid();
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), {
      headers: { 'content-type': type },
      body,
    });

    const error = await twilioError(api.fetchRecordingAudio(recordingSid, 'mp3'));

    expect(error).toMatchObject({ status: 200, retryable: true, code: 'twilio-not-audio' });
    expect(error.message).toBe(`Twilio answered 200 with ${type.split(';')[0]} instead of audio`);
  });

  it('refuses a 200 without a Content-Type as not audio', async () => {
    const recordingSid = newRecordingSid();
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), { body: 'bytes' });

    const error = await twilioError(api.fetchRecordingAudio(recordingSid, 'mp3'));

    expect(error).toMatchObject({ retryable: true, code: 'twilio-not-audio' });
    expect(error.message).toBe('Twilio answered 200 without a Content-Type instead of audio');
  });

  it('accepts any audio type whatever its case and parameters', async () => {
    const recordingSid = newRecordingSid();
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), {
      headers: { 'content-type': 'Audio/MPEG; rate=8000' },
      body: 'abc',
    });

    const media = await api.fetchRecordingAudio(recordingSid, 'mp3');

    expect(await text(media.body)).toBe('abc');
    expect(media).toMatchObject({ contentType: 'audio/mpeg', receivedContentType: 'Audio/MPEG; rate=8000' });
  });

  it.each([
    [404, true],
    [408, true],
    [429, true],
    [500, true],
    [503, true],
    [400, false],
    [401, false],
    [403, false],
  ])('classifies HTTP %i as retryable=%p', async (status, retryable) => {
    const recordingSid = newRecordingSid();
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), {
      status,
      body: '{"message":"nope"}',
    });

    const error = await twilioError(api.fetchRecordingAudio(recordingSid, 'mp3'));

    expect(error).toMatchObject({ status, retryable, code: `twilio-${status}` });
    expect(error.message).toBe(`Twilio answered ${status} to GET Recordings/${recordingSid}.mp3`);
  });

  it('refuses a SID that is not a RecordingSid without calling Twilio', async () => {
    const error = await twilioError(api.fetchRecordingAudio('../../Calls/CA1', 'mp3'));

    expect(error).toMatchObject({ retryable: false, code: 'bad-sid' });
    expect(stub.requests).toHaveLength(0);
  });

  it('follows a redirect to another origin without sending the credentials there', async () => {
    const recordingSid = newRecordingSid();
    const cdnPath = `/media/${recordingSid}`;
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), {
      status: 302,
      headers: { location: `${other.baseUrl}${cdnPath}?sig=abc` },
    });
    other.route('GET', `${cdnPath}?sig=abc`, () => ({
      headers: { 'content-type': 'audio/mpeg' },
      body: 'from the CDN',
    }));

    const media = await api.fetchRecordingAudio(recordingSid, 'mp3');

    expect(await text(media.body)).toBe('from the CDN');
    expect(stub.requests[0]?.headers.authorization).toBe(BASIC_AUTH);
    expect(other.requests).toHaveLength(1);
    expect(other.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('keeps the credentials on a redirect within the same origin', async () => {
    const recordingSid = newRecordingSid();
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), {
      status: 307,
      headers: { location: '/moved' },
    });
    stub.route('GET', '/moved', () => ({ headers: { 'content-type': 'audio/mpeg' }, body: 'moved' }));

    const media = await api.fetchRecordingAudio(recordingSid, 'mp3');

    expect(await text(media.body)).toBe('moved');
    expect(stub.requests.map((r) => r.headers.authorization)).toEqual([BASIC_AUTH, BASIC_AUTH]);
  });

  it('gives up after three redirects', async () => {
    const recordingSid = newRecordingSid();
    stub.route('GET', stub.recordingPath(recordingSid, 'mp3'), () => ({
      status: 302,
      headers: { location: '/loop' },
    }));
    stub.route('GET', '/loop', () => ({ status: 302, headers: { location: '/loop' } }));

    const error = await twilioError(api.fetchRecordingAudio(recordingSid, 'mp3'));

    expect(error.status).toBe(302);
    expect(stub.requests).toHaveLength(4);
  });

  it('fails a stalled body as retryable instead of hanging', async () => {
    const recordingSid = newRecordingSid();
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), {
      headers: { 'content-type': 'audio/mpeg' },
      body: mediaBytes('stalled', 1000),
      stallAfterBytes: 100,
    });

    const media = await api.fetchRecordingAudio(recordingSid, 'mp3');
    const error = await twilioError(text(media.body));

    expect(error).toMatchObject({ retryable: true, code: 'twilio-timeout', message: 'Twilio media stream stalled' });
  });

  it('reports a body cut short after Twilio answered as truncated, not as unreachable', async () => {
    const recordingSid = newRecordingSid();
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), {
      headers: { 'content-type': 'audio/mpeg' },
      body: mediaBytes('truncated', 10_000),
      cutAfterBytes: 1000,
    });

    const media = await api.fetchRecordingAudio(recordingSid, 'mp3');
    const error = await twilioError(text(media.body));

    expect(error).toMatchObject({
      retryable: true,
      code: 'twilio-truncated',
      message: "Twilio's answer ended before its Content-Length",
    });
  });

  it('reports a chunked body cut short as truncated', async () => {
    const recordingSid = newRecordingSid();
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), {
      headers: { 'content-type': 'audio/mpeg' },
      body: mediaBytes('truncated', 10_000),
      chunked: true,
      cutAfterBytes: 1000,
    });

    const media = await api.fetchRecordingAudio(recordingSid, 'mp3');
    const error = await twilioError(text(media.body));

    expect(error).toMatchObject({ retryable: true, code: 'twilio-truncated', message: "Twilio's answer ended early" });
  });

  it('fails as retryable when Twilio does not answer at all', async () => {
    const recordingSid = newRecordingSid();
    stub.respond('GET', stub.recordingPath(recordingSid, 'mp3'), {
      waitFor: new Promise(() => undefined),
    });

    const error = await twilioError(api.fetchRecordingAudio(recordingSid, 'mp3'));

    expect(error).toMatchObject({ retryable: true, code: 'twilio-timeout' });
  });

  it('fails as retryable when Twilio cannot be reached', async () => {
    const unreachable = await SimulatedTwilio.start(ACCOUNT);
    const baseUrl = unreachable.baseUrl;
    await unreachable.close();
    const offline = createTwilioApi({ baseUrl, accountSid: TEST_ACCOUNT_SID, tokens: staticTokens(TEST_AUTH_TOKEN) });

    const error = await twilioError(offline.fetchRecordingAudio(newRecordingSid(), 'mp3'));

    expect(error).toMatchObject({ retryable: true, code: 'twilio-network', status: undefined });
    expect(error.message).toBe('Could not reach Twilio: ECONNREFUSED');
  });
});

describe('deleteRecording', () => {
  it('deletes the recording with Basic auth', async () => {
    const recordingSid = newRecordingSid();
    stub.addRecording({ sid: recordingSid, size: 1 });

    await api.deleteRecording(recordingSid);

    expect(stub.requests).toEqual([
      {
        method: 'DELETE',
        path: stub.recordingPath(recordingSid, 'json'),
        headers: expect.objectContaining({ authorization: BASIC_AUTH }),
      },
    ]);
  });

  it('treats a recording that is already gone (404) as deleted', async () => {
    await expect(api.deleteRecording(newRecordingSid())).resolves.toBeUndefined();
  });

  it('reports a refused deletion', async () => {
    const recordingSid = newRecordingSid();
    stub.respond('DELETE', stub.recordingPath(recordingSid, 'json'), { status: 403 });

    const error = await twilioError(api.deleteRecording(recordingSid));

    expect(error).toMatchObject({ status: 403, retryable: false, code: 'twilio-403' });
  });
});

describe('metadata', () => {
  it('maps the recording details', async () => {
    const recordingSid = newRecordingSid();
    const callSid = newCallSid();
    stub.addRecording({
      sid: recordingSid,
      callSid,
      duration: 42,
      channels: 2,
      status: 'completed',
      startTime: new Date('2024-07-22T17:00:00Z'),
    });

    const details = await api.getRecordingDetails(recordingSid);

    expect(details).toEqual({
      sid: recordingSid,
      callSid,
      duration: '42',
      channels: 2,
      status: 'completed',
      startTime: 'Mon, 22 Jul 2024 17:00:00 +0000',
      source: 'DialVerb',
    });
    expect(stub.requests[0]?.headers.authorization).toBe(BASIC_AUTH);
  });

  it('maps the call details, dropping empty fields', async () => {
    const callSid = newCallSid();
    stub.route('GET', stub.callPath(callSid), () => ({
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        sid: callSid,
        from: '+14155550100',
        to: '+14155550199',
        direction: 'outbound-dial',
        status: 'completed',
        start_time: 'Mon, 22 Jul 2024 17:00:00 +0000',
        duration: '',
      }),
    }));

    const details = await api.getCallDetails(callSid);

    expect(details).toEqual({
      sid: callSid,
      from: '+14155550100',
      to: '+14155550199',
      direction: 'outbound-dial',
      status: 'completed',
      startTime: 'Mon, 22 Jul 2024 17:00:00 +0000',
      duration: undefined,
    });
  });

  it('reports a call Twilio does not know as a 404', async () => {
    const error = await twilioError(api.getCallDetails(newCallSid()));

    expect(error).toMatchObject({ status: 404, code: 'twilio-404' });
  });

  it('refuses a malformed CallSid without calling Twilio', async () => {
    await expect(api.getCallDetails('CA../../x')).rejects.toMatchObject({ code: 'bad-sid' });
    expect(stub.requests).toHaveLength(0);
  });
});

describe('isRetryableStatus', () => {
  it.each([404, 408, 409, 425, 429, 500, 502, 503])('treats HTTP %i as worth retrying', (status) => {
    expect(isRetryableStatus(status)).toBe(true);
  });

  it.each([400, 401, 403, 410, 422])('treats HTTP %i as permanent', (status) => {
    expect(isRetryableStatus(status)).toBe(false);
  });
});
