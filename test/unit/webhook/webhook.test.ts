import { Logger } from '@aws-lambda-powertools/logger';
import '../../helpers/setup-env';
import { gzipSync } from 'node:zlib';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { parseRecordingJob, type RecordingJob } from '../../../lambda/shared/job/recording-job';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { staticTokens, type TokenSource } from '../../../lambda/shared/twilio/signature';
import { MAX_CALLBACK_BYTES } from '../../../lambda/webhook/accept-callback';
import { createWebhookHandler } from '../../../lambda/webhook/handler';
import { DEFAULT_DOMAIN, twilioCallbackEvent } from '../../helpers/events';
import {
  formBody,
  minimalCallbackParams,
  recordingCallbackParams,
  sid,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_AUTH_TOKEN_SECONDARY,
  twilioSignature,
} from '../../helpers/twilio-fixtures';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/recording-transfer';
const sqs = mockClient(SQSClient);

function handlerWith(
  options: { tokens?: TokenSource; publicBaseUrl?: string; obs?: ReturnType<typeof createObservability> } = {},
) {
  return createWebhookHandler({
    config: { accountSid: TEST_ACCOUNT_SID, publicBaseUrl: options.publicBaseUrl, transferQueueUrl: QUEUE_URL },
    tokens: options.tokens ?? staticTokens(TEST_AUTH_TOKEN, TEST_AUTH_TOKEN_SECONDARY),
    sqs: new SQSClient({ region: 'us-east-1' }),
    obs: options.obs ?? createObservability('recording-webhook-test'),
  });
}

function sentJobs() {
  return sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
}

function errorOf(response: { body?: string }): unknown {
  return JSON.parse(response.body ?? '');
}

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});

afterAll(() => {
  sqs.restore();
});

describe('accepted callbacks', () => {
  it('answers 204 and queues exactly one transfer job for a completed recording', async () => {
    const params = recordingCallbackParams();

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response).toEqual({ statusCode: 204, headers: { 'cache-control': 'no-store' }, body: '' });
    const sent = sentJobs();
    expect(sent).toHaveLength(1);
    expect(sent[0]?.QueueUrl).toBe(QUEUE_URL);
    expect(sent[0]?.MessageAttributes).toEqual({
      recordingSid: { DataType: 'String', StringValue: params.RecordingSid },
      status: { DataType: 'String', StringValue: 'completed' },
    });
    const job = parseRecordingJob(sent[0]?.MessageBody ?? '');
    expect(job).toMatchObject({
      version: 1,
      accountSid: TEST_ACCOUNT_SID,
      callSid: params.CallSid,
      recordingSid: params.RecordingSid,
      status: 'completed',
      durationSeconds: 42,
      channels: 2,
      startedAt: '2024-07-22T17:00:00.000Z',
      source: 'DialVerb',
      jobId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-/),
    });
  });

  it('gives each accepted callback its own job id, even for the same recording', async () => {
    const params = recordingCallbackParams();
    const handler = handlerWith();

    await handler(twilioCallbackEvent({ params }));
    await handler(twilioCallbackEvent({ params }));

    const [first, second] = sentJobs().map((input) => parseRecordingJob(input.MessageBody ?? ''));
    expect(first?.recordingSid).toBe(second?.recordingSid);
    expect(first?.jobId).toBeDefined();
    expect(first?.jobId).not.toBe(second?.jobId);
  });

  it('queues a minimal callback with only the four required fields', async () => {
    const params = minimalCallbackParams();

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(204);
    const job = parseRecordingJob(sentJobs()[0]?.MessageBody ?? '');
    expect(job.recordingSid).toBe(params.RecordingSid);
    expect(job.durationSeconds).toBeUndefined();
  });

  it('queues a callback whose duration is not a number, without the duration', async () => {
    const params = recordingCallbackParams({ extra: { RecordingDuration: 'abc' } });

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(204);
    const job = JSON.parse(sentJobs()[0]?.MessageBody ?? '{}') as Record<string, unknown>;
    expect(job).not.toHaveProperty('durationSeconds');
  });

  it.each([
    ['absent', '16102'],
    ['failed', undefined],
  ])('queues an %s recording so that the failure is recorded on the call', async (status, errorCode) => {
    const params = recordingCallbackParams({ status, extra: { ErrorCode: errorCode ?? '0' } });

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(204);
    const job = parseRecordingJob(sentJobs()[0]?.MessageBody ?? '');
    expect(job.status).toBe(status);
    expect(job.errorCode).toBe(errorCode);
  });

  it('answers 204 to an in-progress callback and queues nothing', async () => {
    const response = await handlerWith()(
      twilioCallbackEvent({ params: recordingCallbackParams({ status: 'in-progress' }) }),
    );

    expect(response.statusCode).toBe(204);
    expect(sentJobs()).toHaveLength(0);
  });

  it('accepts a base64-encoded form body', async () => {
    const response = await handlerWith()(twilioCallbackEvent({ params: recordingCallbackParams(), base64: true }));

    expect(response.statusCode).toBe(204);
    expect(sentJobs()).toHaveLength(1);
  });

  it('tolerates parameters Twilio adds without notice', async () => {
    const params = recordingCallbackParams({ extra: { BrandNewParam: 'x', Blank: '' } });

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(204);
  });

  it('accepts a callback signed with the secondary token during rotation', async () => {
    const response = await handlerWith()(
      twilioCallbackEvent({ params: recordingCallbackParams(), token: TEST_AUTH_TOKEN_SECONDARY }),
    );

    expect(response.statusCode).toBe(204);
    expect(sentJobs()).toHaveLength(1);
  });

  it('checks the signature against the URL with the stage prefix and the query string', async () => {
    const params = recordingCallbackParams();
    const event = twilioCallbackEvent({ params, stage: 'prod', rawQueryString: 'tenant=acme' });

    expect(event.rawPath).toBe('/prod/twilio/recording');
    expect((await handlerWith()(event)).statusCode).toBe(204);
  });

  it('checks the signature against PUBLIC_BASE_URL when one is configured', async () => {
    const params = recordingCallbackParams();
    const handler = handlerWith({ publicBaseUrl: 'https://hooks.example.com/vault' });

    const publicSigned = await handler(
      twilioCallbackEvent({ params, stage: 'prod', signedUrl: 'https://hooks.example.com/vault/twilio/recording' }),
    );
    const gatewaySigned = await handler(twilioCallbackEvent({ params, stage: 'prod' }));

    expect(publicSigned.statusCode).toBe(204);
    expect(gatewaySigned.statusCode).toBe(403);
    expect(sentJobs()).toHaveLength(1);
  });

  it('accepts a callback signed over a webhook URL configured with a bare trailing ?', async () => {
    const params = recordingCallbackParams();
    // API Gateway drops the empty query: rawQueryString is '' although Twilio signed the '?'.
    const event = twilioCallbackEvent({ params, signedUrl: `https://${DEFAULT_DOMAIN}/twilio/recording?` });

    const response = await handlerWith()(event);

    expect(response.statusCode).toBe(204);
    expect(sentJobs()).toHaveLength(1);
  });

  it('accepts a callback signed over the public base URL with a bare trailing ?', async () => {
    const params = recordingCallbackParams();
    const handler = handlerWith({ publicBaseUrl: 'https://hooks.example.com/vault' });

    const response = await handler(
      twilioCallbackEvent({ params, stage: 'prod', signedUrl: 'https://hooks.example.com/vault/twilio/recording?' }),
    );

    expect(response.statusCode).toBe(204);
  });

  it('still answers 403 to a trailing-? URL signed with another token', async () => {
    const event = twilioCallbackEvent({
      params: recordingCallbackParams(),
      signedUrl: `https://${DEFAULT_DOMAIN}/twilio/recording?`,
      token: 'attacker-token',
    });

    const response = await handlerWith()(event);

    expect(response.statusCode).toBe(403);
    expect(sentJobs()).toHaveLength(0);
  });

  it('re-reads the tokens after a bad signature and accepts a callback signed with the rotated token', async () => {
    const tokens = jest.fn<ReturnType<TokenSource>, Parameters<TokenSource>>(async (options) =>
      options?.refresh ? { primary: 'rotated-token' } : { primary: TEST_AUTH_TOKEN },
    );

    const response = await handlerWith({ tokens })(
      twilioCallbackEvent({ params: recordingCallbackParams(), token: 'rotated-token' }),
    );

    expect(response.statusCode).toBe(204);
    expect(tokens).toHaveBeenCalledTimes(2);
    expect(tokens).toHaveBeenLastCalledWith({ refresh: true });
  });

  it('does not refresh the tokens when the signature is valid', async () => {
    const tokens = jest.fn<ReturnType<TokenSource>, Parameters<TokenSource>>(async () => ({
      primary: TEST_AUTH_TOKEN,
    }));

    await handlerWith({ tokens })(twilioCallbackEvent({ params: recordingCallbackParams() }));

    expect(tokens).toHaveBeenCalledTimes(1);
    expect(tokens).toHaveBeenCalledWith();
  });
});

describe('rejected callbacks', () => {
  it('answers 403 to a callback without a signature', async () => {
    const response = await handlerWith()(twilioCallbackEvent({ params: recordingCallbackParams(), signature: null }));

    expect(response.statusCode).toBe(403);
    expect(errorOf(response)).toEqual({ error: 'Missing X-Twilio-Signature' });
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 403 to a callback signed with another token, even after refreshing the tokens', async () => {
    const tokens = jest.fn<ReturnType<TokenSource>, Parameters<TokenSource>>(async () => ({
      primary: TEST_AUTH_TOKEN,
    }));

    const response = await handlerWith({ tokens })(
      twilioCallbackEvent({ params: recordingCallbackParams(), token: 'attacker-token' }),
    );

    expect(response.statusCode).toBe(403);
    expect(errorOf(response)).toEqual({ error: 'Invalid X-Twilio-Signature' });
    expect(tokens).toHaveBeenLastCalledWith({ refresh: true });
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 403 when a signed parameter was tampered with', async () => {
    const params = recordingCallbackParams();
    const signature = twilioSignature(
      TEST_AUTH_TOKEN,
      'https://abc123.execute-api.us-east-1.amazonaws.com/twilio/recording',
      params,
    );

    const response = await handlerWith()(
      twilioCallbackEvent({ params: { ...params, RecordingDuration: '1' }, signature }),
    );

    expect(response.statusCode).toBe(403);
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 403 to a validly signed callback from another account', async () => {
    const response = await handlerWith()(
      twilioCallbackEvent({ params: recordingCallbackParams({ accountSid: sid('AC') }) }),
    );

    expect(response.statusCode).toBe(403);
    expect(errorOf(response)).toEqual({ error: 'AccountSid does not belong to this deployment' });
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 403 to a validly signed callback whose repeated AccountSid starts with another account', async () => {
    const params = { ...recordingCallbackParams(), AccountSid: [sid('AC'), TEST_ACCOUNT_SID] };

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(403);
    expect(sentJobs()).toHaveLength(0);
  });

  it.each([
    ['AccountSid', 'AccountSid is required'],
    ['CallSid', 'CallSid or ConferenceSid is required'],
    ['RecordingSid', 'RecordingSid is required'],
    ['RecordingStatus', 'RecordingStatus is required'],
  ])('answers 400 to a callback without %s', async (name, message) => {
    const params: Record<string, string> = recordingCallbackParams();
    delete params[name];

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(400);
    expect(errorOf(response)).toEqual({ error: message });
    expect(sentJobs()).toHaveLength(0);
  });

  it('queues a signed conference recording callback that carries a ConferenceSid and no CallSid', async () => {
    const conferenceSid = `CF${'ab12'.repeat(8)}`;
    const params: Record<string, string> = recordingCallbackParams({
      extra: { CallSid: undefined, ConferenceSid: conferenceSid, RecordingSource: 'Conference' },
    });

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(204);
    const [sent] = sentJobs();
    const job = parseRecordingJob(sent?.MessageBody ?? '');
    expect(job).toMatchObject({ conferenceSid, recordingSid: params.RecordingSid, source: 'Conference' });
    expect(job.callSid).toBeUndefined();
  });

  it('answers 400 to a callback whose only call reference is a malformed ConferenceSid', async () => {
    const params = recordingCallbackParams({ extra: { CallSid: undefined, ConferenceSid: 'CF123' } });

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(400);
    expect(errorOf(response)).toEqual({ error: 'ConferenceSid is malformed' });
    expect(sentJobs()).toHaveLength(0);
  });

  it.each([
    ['CallSid', 'CA-not-a-sid', 'CallSid is malformed'],
    ['RecordingSid', 'RE123', 'RecordingSid is malformed'],
    ['RecordingStatus', 'stopped', 'RecordingStatus is not recognised'],
  ])('answers 400 to a malformed %s', async (name, value, message) => {
    const response = await handlerWith()(
      twilioCallbackEvent({ params: { ...recordingCallbackParams(), [name]: value } }),
    );

    expect(response.statusCode).toBe(400);
    expect(errorOf(response)).toEqual({ error: message });
  });

  it('answers 413 to a body over 64 KiB, before checking the signature', async () => {
    const tokens = jest.fn<ReturnType<TokenSource>, Parameters<TokenSource>>(async () => ({
      primary: TEST_AUTH_TOKEN,
    }));
    const params = recordingCallbackParams({ extra: { Padding: 'x'.repeat(MAX_CALLBACK_BYTES) } });

    const response = await handlerWith({ tokens })(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(413);
    expect(errorOf(response)).toEqual({ error: 'Body exceeds 64 KiB' });
    expect(tokens).not.toHaveBeenCalled();
  });

  it('answers 413 to a base64 body that decodes to over 64 KiB', async () => {
    const params = recordingCallbackParams({ extra: { Padding: 'x'.repeat(MAX_CALLBACK_BYTES) } });

    const response = await handlerWith()(twilioCallbackEvent({ params, base64: true }));

    expect(response.statusCode).toBe(413);
  });

  it('accepts a body just under 64 KiB', async () => {
    const base = recordingCallbackParams();
    const baseLength = new URLSearchParams({ ...base, Padding: '' }).toString().length;
    const params = { ...base, Padding: 'x'.repeat(MAX_CALLBACK_BYTES - baseLength) };

    const response = await handlerWith()(twilioCallbackEvent({ params }));

    expect(response.statusCode).toBe(204);
  });

  it('answers 415 to a JSON body', async () => {
    const params = recordingCallbackParams();
    const event = twilioCallbackEvent({
      params,
      body: JSON.stringify(params),
      headers: { 'content-type': 'application/json' },
    });

    const response = await handlerWith()(event);

    expect(response.statusCode).toBe(415);
    expect(errorOf(response)).toEqual({ error: 'Expected application/x-www-form-urlencoded' });
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 415 to a gzip-encoded body, before checking the signature', async () => {
    const tokens = jest.fn<ReturnType<TokenSource>, Parameters<TokenSource>>(async () => ({
      primary: TEST_AUTH_TOKEN,
    }));
    const params = recordingCallbackParams();
    const event = twilioCallbackEvent({
      params,
      body: gzipSync(formBody(params)).toString('base64'),
      headers: { 'content-encoding': 'gzip' },
    });
    event.isBase64Encoded = true;

    const response = await handlerWith({ tokens })(event);

    expect(response.statusCode).toBe(415);
    expect(errorOf(response)).toEqual({ error: 'Content-Encoding gzip is not supported' });
    expect(tokens).not.toHaveBeenCalled();
    expect(sentJobs()).toHaveLength(0);
  });

  it.each(['br', 'deflate', 'GZIP', 'identity, gzip'])('answers 415 to Content-Encoding "%s"', async (encoding) => {
    const event = twilioCallbackEvent({
      params: recordingCallbackParams(),
      headers: { 'content-encoding': encoding },
    });

    expect((await handlerWith()(event)).statusCode).toBe(415);
  });

  it.each(['identity', 'Identity', ''])('accepts Content-Encoding "%s"', async (encoding) => {
    const event = twilioCallbackEvent({
      params: recordingCallbackParams(),
      headers: { 'content-encoding': encoding },
    });

    expect((await handlerWith()(event)).statusCode).toBe(204);
  });

  it('answers 415 when there is no Content-Type', async () => {
    const event = twilioCallbackEvent({ params: recordingCallbackParams() });
    delete event.headers['content-type'];

    expect((await handlerWith()(event)).statusCode).toBe(415);
  });

  it('accepts a Content-Type in any case with parameters', async () => {
    const event = twilioCallbackEvent({
      params: recordingCallbackParams(),
      headers: { 'content-type': 'Application/X-WWW-Form-Urlencoded; charset=UTF-8' },
    });

    expect((await handlerWith()(event)).statusCode).toBe(204);
  });
});

describe('any value is safe', () => {
  /** What SQS accepts in a message body: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF. */
  const SQS_BODY = /^[\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]*$/u;
  /** Parameters whose value is free-form: any value is taken (or dropped), never a 5xx. */
  const FREE_FORM = ['RecordingUrl', 'RecordingDuration', 'SomethingTwilioAddsLater'];
  /** Parameters with Twilio's own values (and a completed one's start time): anything else is a 400. */
  const CHECKED = ['RecordingChannels', 'RecordingStartTime', 'RecordingSource', 'RecordingTrack', 'ErrorCode'];
  const HOSTILE: Array<[string, string]> = [
    ['any script', '録音 تسجيل запись ऑडियो ישראל'],
    ['emoji', '📞🎙️👩🏽‍💻🏳️‍🌈'],
    ['control characters', '\u0000\u0001\u0008\u001b\u007f\u0085\u009f'],
    ['U+FFFE and U+FFFF', '\ufffe\uffffx\uffff'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', '\udfff'],
    ['bidi overrides and zero-width characters', '\u202e\u200b\u2066abc\u2069\ufeff'],
    ['JSON and form syntax', '"}]\\u0000&=+%00%zz<script>'],
    ['a very long value', 'x'.repeat(7000)],
    ['a very long value in a multi-byte script', 'é'.repeat(1000)],
  ];

  /** The one queued job, checked the way SQS and the transfer will read it. */
  function queuedJob(): RecordingJob {
    const sent = sentJobs();
    expect(sent).toHaveLength(1);
    const messageBody = sent[0]?.MessageBody ?? '';
    expect(SQS_BODY.test(messageBody)).toBe(true);
    expect(Buffer.byteLength(messageBody, 'utf8')).toBeLessThanOrEqual(2048);
    return parseRecordingJob(messageBody);
  }

  function expectBoundedText(value: string | undefined, max: number): void {
    if (value === undefined) return;
    expect(value.length).toBeLessThanOrEqual(max);
    expect(value).not.toMatch(/[\p{Cc}\p{Cs}\ufffe\uffff]/u);
  }

  it.each(HOSTILE)(
    'accepts %s in every free-form parameter and queues a job that survives the queue',
    async (_case, value) => {
      const params = recordingCallbackParams({ extra: Object.fromEntries(FREE_FORM.map((name) => [name, value])) });

      const response = await handlerWith()(twilioCallbackEvent({ params }));

      expect(response.statusCode).toBe(204);
      const job = queuedJob();
      expect(job).toMatchObject({ callSid: params.CallSid, recordingSid: params.RecordingSid, status: 'completed' });
      expectBoundedText(job.source, 128);
      expectBoundedText(job.track, 128);
      expectBoundedText(job.errorCode, 128);
      expectBoundedText(job.startTimeIgnored, 64);
    },
  );

  it.each(CHECKED)('answers 400 to hostile values in %s', async (name) => {
    const handler = handlerWith();

    for (const [, value] of HOSTILE) {
      const response = await handler(
        twilioCallbackEvent({ params: recordingCallbackParams({ extra: { [name]: value } }) }),
      );

      expect(response.statusCode).toBe(400);
    }
    expect(sentJobs()).toHaveLength(0);
  });

  it('accepts percent-encoded bytes that are not UTF-8 in a free-form parameter, as the replacement characters they decode to', async () => {
    const params = recordingCallbackParams({ extra: { RecordingUrl: undefined } });
    const raw = '%ED%A0%80%FF%EF%BF%BE';
    const decoded = new URLSearchParams(`v=${raw}`).get('v') ?? '';
    const event = twilioCallbackEvent({
      params: { ...params, RecordingUrl: decoded },
      body: `${formBody(params)}&RecordingUrl=${raw}`,
    });

    const response = await handlerWith()(event);

    expect(response.statusCode).toBe(204);
    expect(queuedJob().recordingSid).toBe(params.RecordingSid);
  });

  it.each(['CallSid', 'RecordingSid', 'RecordingStatus'])('answers 400 to hostile values in %s', async (name) => {
    const handler = handlerWith();

    for (const [, value] of HOSTILE) {
      const response = await handler(twilioCallbackEvent({ params: { ...recordingCallbackParams(), [name]: value } }));

      expect(response.statusCode).toBe(400);
    }
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 403 to hostile values in AccountSid: not an account of ours', async () => {
    const handler = handlerWith();

    for (const [, value] of HOSTILE) {
      const response = await handler(
        twilioCallbackEvent({ params: { ...recordingCallbackParams(), AccountSid: value } }),
      );

      expect(response.statusCode).toBe(403);
    }
    expect(sentJobs()).toHaveLength(0);
  });
});

describe('when the queue fails', () => {
  it('answers 500 with a bare JSON error and logs the whole job for replay', async () => {
    sqs.on(SendMessageCommand).rejects(new Error(`AccessDenied for token ${TEST_AUTH_TOKEN} at Object.<anonymous>`));
    const obs = createObservability('recording-webhook-test');
    // Every logger: each callback logs through a child logger of its own.
    const logged = jest.spyOn(Logger.prototype, 'error');
    const params = recordingCallbackParams();

    const response = await handlerWith({ obs })(twilioCallbackEvent({ params }));
    // Kept before the spy is restored (restoring clears them), so no later test logs into it.
    const errorCalls = [...logged.mock.calls];
    logged.mockRestore();

    expect(response.statusCode).toBe(500);
    expect(response.headers).toMatchObject({ 'content-type': 'application/json' });
    expect(errorOf(response)).toEqual({ error: 'Internal error' });
    expect(response.body).not.toContain(TEST_AUTH_TOKEN);
    expect(response.body).not.toContain('Object.<anonymous>');
    const replay = errorCalls.find(([message]) => String(message).includes('replay'));
    expect(replay?.[1]).toMatchObject({
      job: expect.objectContaining({ recordingSid: params.RecordingSid, callSid: params.CallSid, status: 'completed' }),
    });
  });

  it('answers 500 when the token source fails, without details', async () => {
    const tokens: TokenSource = async () => {
      throw new Error('Secrets Manager: secret arn:aws:secretsmanager:… not found');
    };

    const response = await handlerWith({ tokens })(twilioCallbackEvent({ params: recordingCallbackParams() }));

    expect(response.statusCode).toBe(500);
    expect(errorOf(response)).toEqual({ error: 'Internal error' });
  });
});
