import '../../../helpers/setup-env';
import {
  ConfigError,
  DEFAULT_CALL_SID_INDEX,
  DEFAULT_LEASE_SECONDS,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PLAYBACK_TTL_SECONDS,
  DEFAULT_RETRY_BASE_SECONDS,
  DEFAULT_TWILIO_API_BASE_URL,
  loadPlaybackConfig,
  loadRetentionConfig,
  loadTransferConfig,
  loadWebhookConfig,
  MAX_PLAYBACK_TTL_SECONDS,
} from '../../../../lambda/shared/config/function-config';
import { TEST_ACCOUNT_SID } from '../../../helpers/twilio-fixtures';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:twilio-AbCdEf';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/recording-transfer';

const webhookEnv = {
  TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
  TWILIO_SECRET_ARN: SECRET_ARN,
  TRANSFER_QUEUE_URL: QUEUE_URL,
};
const DLQ_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/recording-transfer-dlq';
const transferEnv = {
  ...webhookEnv,
  RECORDINGS_BUCKET: 'rv-recordings',
  CALLS_TABLE: 'calls',
  LEDGER_TABLE: 'recordings',
  EVENT_BUS_NAME: 'recording-vault-test',
  DEAD_LETTER_QUEUE_URL: DLQ_URL,
};
const playbackEnv = { RECORDINGS_BUCKET: 'rv-recordings', CALLS_TABLE: 'calls', LEDGER_TABLE: 'recordings' };

/** The ConfigError a loader throws for `env`, or fails the test. */
function configError(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadWebhookConfig', () => {
  it('reads the account, secret, queue and optional public base URL', () => {
    const config = loadWebhookConfig({ ...webhookEnv, PUBLIC_BASE_URL: 'https://hooks.example.com/vault/' });

    expect(config).toEqual({
      accountSid: TEST_ACCOUNT_SID,
      subaccountSids: [],
      secretId: SECRET_ARN,
      transferQueueUrl: QUEUE_URL,
      publicBaseUrl: 'https://hooks.example.com/vault',
    });
  });

  it('leaves the public base URL unset when none is configured', () => {
    expect(loadWebhookConfig(webhookEnv).publicBaseUrl).toBeUndefined();
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadWebhookConfig(webhookEnv))).toBe(true);
  });

  it('treats blank variables as missing', () => {
    const error = configError(() => loadWebhookConfig({ ...webhookEnv, TWILIO_SECRET_ARN: '   ' }));

    expect(error.problems).toEqual(['TWILIO_SECRET_ARN is required']);
  });

  it('reports every problem in one ConfigError', () => {
    const error = configError(() => loadWebhookConfig({ PUBLIC_BASE_URL: 'ftp://example.com' }));

    expect(error.problems).toEqual([
      'TWILIO_ACCOUNT_SID is required',
      'TWILIO_SECRET_ARN is required',
      'TRANSFER_QUEUE_URL is required',
      'PUBLIC_BASE_URL must be an http(s) URL (got "ftp://example.com")',
    ]);
    expect(error.message).toBe(`Invalid configuration: ${error.problems.join('; ')}`);
    expect(error.name).toBe('ConfigError');
  });

  it.each([
    ['too short', 'AC123'],
    ['wrong prefix', `CA${'0'.repeat(32)}`],
    ['not hex', `AC${'z'.repeat(32)}`],
  ])('rejects an account SID that is %s', (_case, accountSid) => {
    const error = configError(() => loadWebhookConfig({ ...webhookEnv, TWILIO_ACCOUNT_SID: accountSid }));

    expect(error.problems).toEqual(['TWILIO_ACCOUNT_SID must look like AC followed by 32 hex characters']);
  });

  it('rejects a public base URL that is not a URL', () => {
    const error = configError(() => loadWebhookConfig({ ...webhookEnv, PUBLIC_BASE_URL: 'not a url' }));

    expect(error.problems).toEqual(['PUBLIC_BASE_URL must be an http(s) URL (got "not a url")']);
  });
});

describe('LEDGER_INDEX_SHARDS', () => {
  it("is read by every function that writes or lists the ledger's indexes, 1 to 64", () => {
    expect(loadTransferConfig({ ...transferEnv, LEDGER_INDEX_SHARDS: '16' }).ledgerIndexShards).toBe(16);
    expect(() => loadTransferConfig({ ...transferEnv, LEDGER_INDEX_SHARDS: '0' })).toThrow(/LEDGER_INDEX_SHARDS/);
    expect(() => loadTransferConfig({ ...transferEnv, LEDGER_INDEX_SHARDS: '65' })).toThrow(/LEDGER_INDEX_SHARDS/);
  });
});

describe('loadTransferConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadTransferConfig(transferEnv);

    expect(config).toEqual({
      accountSid: TEST_ACCOUNT_SID,
      subaccountSids: [],
      secretId: SECRET_ARN,
      bucketName: 'rv-recordings',
      tableName: 'calls',
      ledgerTableName: 'recordings',
      ledgerIndexShards: 8,
      eventBusName: 'recording-vault-test',
      callSidIndexName: DEFAULT_CALL_SID_INDEX,
      twilioApiBaseUrl: DEFAULT_TWILIO_API_BASE_URL,
      recordingFormat: 'mp3',
      deleteFromTwilioAfterCopy: false,
      transferQueueUrl: QUEUE_URL,
      deadLetterQueueUrl: DLQ_URL,
      maxAttempts: DEFAULT_MAX_ATTEMPTS,
      retryBaseSeconds: DEFAULT_RETRY_BASE_SECONDS,
      leaseSeconds: DEFAULT_LEASE_SECONDS,
    });
    expect(DEFAULT_TWILIO_API_BASE_URL).toBe('https://api.twilio.com');
  });

  it('reads every override', () => {
    const config = loadTransferConfig({
      ...transferEnv,
      CALLS_BY_TWILIO_SID_INDEX: 'bySid',
      TWILIO_API_BASE_URL: 'http://127.0.0.1:9999/',
      RECORDING_FORMAT: 'wav',
      DELETE_FROM_TWILIO_AFTER_COPY: 'true',
      TRANSFER_MAX_ATTEMPTS: '3',
      TRANSFER_RETRY_BASE_SECONDS: '0',
      TRANSFER_LEASE_SECONDS: '900',
    });

    expect(config).toMatchObject({
      callSidIndexName: 'bySid',
      twilioApiBaseUrl: 'http://127.0.0.1:9999',
      recordingFormat: 'wav',
      deleteFromTwilioAfterCopy: true,
      maxAttempts: 3,
      retryBaseSeconds: 0,
      leaseSeconds: 900,
    });
  });

  it('reports every malformed knob at once', () => {
    const error = configError(() =>
      loadTransferConfig({
        ...transferEnv,
        TWILIO_ACCOUNT_SID: 'ACnope',
        TWILIO_API_BASE_URL: 'api.twilio.com',
        RECORDING_FORMAT: 'ogg',
        DELETE_FROM_TWILIO_AFTER_COPY: 'yes',
        TRANSFER_MAX_ATTEMPTS: '0',
        TRANSFER_RETRY_BASE_SECONDS: '1.5',
        TRANSFER_LEASE_SECONDS: '901',
      }),
    );

    expect(error.problems).toEqual([
      'TWILIO_ACCOUNT_SID must look like AC followed by 32 hex characters',
      'TWILIO_API_BASE_URL must be an http(s) URL (got "api.twilio.com")',
      'RECORDING_FORMAT must be one of mp3, wav (got "ogg")',
      'DELETE_FROM_TWILIO_AFTER_COPY must be "true" or "false" (got "yes")',
      'TRANSFER_MAX_ATTEMPTS must be a whole number from 1 to 100 (got "0")',
      'TRANSFER_RETRY_BASE_SECONDS must be a whole number from 0 to 3600 (got "1.5")',
      'TRANSFER_LEASE_SECONDS must be a whole number from 1 to 900 (got "901")',
    ]);
  });

  it('names each missing required variable', () => {
    const error = configError(() => loadTransferConfig({}));

    expect(error.problems).toEqual([
      'TWILIO_ACCOUNT_SID is required',
      'TWILIO_SECRET_ARN is required',
      'RECORDINGS_BUCKET is required',
      'CALLS_TABLE is required',
      'LEDGER_TABLE is required',
      'EVENT_BUS_NAME is required',
      'TRANSFER_QUEUE_URL is required',
      'DEAD_LETTER_QUEUE_URL is required',
    ]);
  });
});

describe('loadPlaybackConfig', () => {
  it('defaults the URL lifetime to 15 minutes', () => {
    expect(loadPlaybackConfig(playbackEnv)).toEqual({
      bucketName: 'rv-recordings',
      tableName: 'calls',
      ledgerTableName: 'recordings',
      urlTtlSeconds: DEFAULT_PLAYBACK_TTL_SECONDS,
    });
    expect(DEFAULT_PLAYBACK_TTL_SECONDS).toBe(900);
  });

  it.each([
    ['1', 1],
    ['3600', 3600],
  ])('accepts a URL lifetime of %s seconds', (raw, expected) => {
    expect(loadPlaybackConfig({ ...playbackEnv, PLAYBACK_URL_TTL_SECONDS: raw }).urlTtlSeconds).toBe(expected);
  });

  it.each(['0', '3601', '-5', '60s', '12.5'])('rejects a URL lifetime of "%s"', (raw) => {
    const error = configError(() => loadPlaybackConfig({ ...playbackEnv, PLAYBACK_URL_TTL_SECONDS: raw }));

    expect(error.problems).toEqual([
      `PLAYBACK_URL_TTL_SECONDS must be a whole number from 1 to ${MAX_PLAYBACK_TTL_SECONDS} (got "${raw}")`,
    ]);
    expect(MAX_PLAYBACK_TTL_SECONDS).toBe(3600);
  });

  it('reports the missing bucket and tables together', () => {
    expect(configError(() => loadPlaybackConfig({})).problems).toEqual([
      'RECORDINGS_BUCKET is required',
      'CALLS_TABLE is required',
      'LEDGER_TABLE is required',
    ]);
  });
});

describe('loadRetentionConfig', () => {
  const retentionEnv = {
    TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
    TWILIO_SECRET_ARN: SECRET_ARN,
    RECORDINGS_BUCKET: 'rv-recordings',
    CALLS_TABLE: 'calls',
    LEDGER_TABLE: 'recordings',
    EVENT_BUS_NAME: 'recording-vault-test',
    AUDIT_TABLE: 'audit',
    RETENTION_DAYS: '90',
  };

  it('reads RETENTION_DAYS_BY_SOURCE: the sources kept for other than RETENTION_DAYS', () => {
    const config = loadRetentionConfig({ ...retentionEnv, RETENTION_DAYS_BY_SOURCE: 'Conference=365,RecordVerb=30' });

    expect(config.retentionDays).toBe(90);
    expect(config.retentionDaysBySource).toEqual({ Conference: 365, RecordVerb: 30 });
  });

  it('without RETENTION_DAYS_BY_SOURCE every source keeps RETENTION_DAYS', () => {
    expect(loadRetentionConfig(retentionEnv).retentionDaysBySource).toEqual({});
  });

  it("names RETENTION_DAYS_BY_SOURCE's problems alongside the others, at once", () => {
    const { AUDIT_TABLE: _, ...withoutAudit } = retentionEnv;
    const error = configError(() =>
      loadRetentionConfig({
        ...withoutAudit,
        RETENTION_DAYS: '36501',
        RETENTION_DAYS_BY_SOURCE: 'Voicemail=30,Conference=0',
      }),
    );

    expect(error.problems).toEqual([
      'RETENTION_DAYS_BY_SOURCE: "Voicemail" is not a Twilio RecordingSource (one of DialVerb, Conference, OutboundAPI, Trunking, RecordVerb, StartCallRecordingAPI, StartConferenceRecordingAPI)',
      'RETENTION_DAYS_BY_SOURCE: Conference must be a whole number of days from 1 to 36500 (got "Conference=0")',
      'AUDIT_TABLE is required',
      'RETENTION_DAYS must be a whole number from 1 to 36500 (got "36501")',
    ]);
  });
});
