import '../../helpers/setup-env';
import { ChangeMessageVisibilityCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { retryDelaySeconds, sqsSafeJson, sqsTransferQueue } from '../../../lambda/shared/job/transfer-queue';
import { clientOverrides, emulatorEndpoint, isAwsEndpoint } from '../../../lambda/shared/runtime/endpoints';

describe('retryDelaySeconds', () => {
  it('doubles from the base per attempt and caps at 15 minutes', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelaySeconds(attempt, 30))).toEqual([30, 60, 120, 240]);
    expect(retryDelaySeconds(10, 30)).toBe(900);
    expect(retryDelaySeconds(0, 30)).toBe(30);
  });
});

describe('sqsSafeJson', () => {
  // SQS's own rule; some emulators (fauxqs) apply it to UTF-16 code units, refusing emoji too.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: SQS's rule is written in control characters.
  const SQS_REFUSES = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD]/;

  it.each([
    ['emoji and scripts', '🎙️ Запись 录音 تسجيل 𝄞'],
    ['control characters', 'a\u0000b\u0001c\u001f'],
    ['noncharacters', 'x\uFFFEy\uFFFF'],
    ['lone surrogates', 'a\uD800b\uDFFFc'],
  ])('writes %s as JSON escapes that any SQS accepts, and parses back to the same value', (_, value) => {
    const job = { source: value, nested: { value } };

    const body = sqsSafeJson(job);

    expect(SQS_REFUSES.test(body)).toBe(false);
    expect(JSON.parse(body)).toEqual(job);
  });
});

describe('sqsTransferQueue.delayRetry', () => {
  const sqs = mockClient(SQSClient);
  afterAll(() => sqs.restore());

  it.each([
    [-5, 0],
    [12.4, 12],
    [50_000, 43_200],
  ])('asks SQS for a visibility of %p s as %p s', async (seconds, expected) => {
    sqs.reset();
    sqs.on(ChangeMessageVisibilityCommand).resolves({});

    await sqsTransferQueue(new SQSClient({ region: 'us-east-1' }), 'https://queue').delayRetry('rh', seconds);

    expect(sqs.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input).toEqual({
      QueueUrl: 'https://queue',
      ReceiptHandle: 'rh',
      VisibilityTimeout: expected,
    });
  });
});

describe('emulator client settings', () => {
  it('changes nothing when no endpoint is set or it points at AWS', () => {
    expect(clientOverrides('S3', {})).toEqual({});
    expect(clientOverrides('S3', { AWS_ENDPOINT_URL_S3: 'https://s3.eu-west-1.amazonaws.com' })).toEqual({});
    expect(isAwsEndpoint('https://sqs.us-east-1.api.aws')).toBe(true);
    expect(isAwsEndpoint('not a url')).toBe(false);
  });

  it('points S3 at an emulator path-style, with checksums only where required and dummy credentials', () => {
    expect(clientOverrides('S3', { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4569' })).toEqual({
      endpoint: 'http://127.0.0.1:4569',
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  });

  it('keeps real credentials and the region when they are set', () => {
    expect(
      clientOverrides('DYNAMODB', {
        AWS_ENDPOINT_URL: 'http://localhost:8000',
        AWS_ACCESS_KEY_ID: 'AKIA',
        AWS_DEFAULT_REGION: 'eu-west-1',
      }),
    ).toEqual({ endpoint: 'http://localhost:8000', region: 'eu-west-1' });
  });

  it('prefers the service-specific endpoint over the global one', () => {
    expect(
      emulatorEndpoint('SQS', { AWS_ENDPOINT_URL: 'http://global:1', AWS_ENDPOINT_URL_SQS: 'http://sqs:9324' }),
    ).toBe('http://sqs:9324');
  });
});
