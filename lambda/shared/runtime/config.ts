/**
 * Each function's environment is a typed contract, read once at start-up.
 * A missing or malformed variable fails the container with one message that names
 * every problem, instead of a confusing error on the first request.
 */

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Collects problems so that one start-up failure reports all of them (the local stack reads its environment with it too). */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  required(name: string): string {
    const value = this.env[name]?.trim();
    if (!value) {
      this.problems.push(`${name} is required`);
      return '';
    }
    return value;
  }

  optional(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    this.problems.push(`${name} must be "true" or "false" (got "${raw}")`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.optional(name);
    if (raw === undefined) return fallback;
    if ((allowed as readonly string[]).includes(raw)) return raw as T;
    this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
    return fallback;
  }

  url(name: string, fallback?: string): string | undefined {
    const raw = this.optional(name) ?? fallback;
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('scheme');
      return raw.replace(/\/+$/, '');
    } catch {
      this.problems.push(`${name} must be an http(s) URL (got "${raw}")`);
      return raw;
    }
  }

  accountSid(name: string): string {
    const value = this.required(name);
    if (value && !ACCOUNT_SID.test(value)) {
      this.problems.push(`${name} must look like AC followed by 32 hex characters`);
    }
    return value;
  }

  done<T>(config: T): T {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
    return Object.freeze(config);
  }
}

export const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;

export const RECORDING_FORMATS = ['mp3', 'wav'] as const;
export type RecordingFormat = (typeof RECORDING_FORMATS)[number];

/** Where the Twilio auth token(s) come from: a Secrets Manager secret id (ARN or name). */
export interface TwilioSecretConfig {
  readonly accountSid: string;
  readonly secretId: string;
}

export interface WebhookConfig extends TwilioSecretConfig {
  readonly transferQueueUrl: string;
  /** Base URL Twilio is configured with (custom domain, base path, tunnel). Unset: the URL API Gateway received. */
  readonly publicBaseUrl: string | undefined;
}

export interface TransferConfig extends TwilioSecretConfig {
  readonly bucketName: string;
  readonly tableName: string;
  /** The vault's ledger (`recordings` table). */
  readonly ledgerTableName: string;
  /** The stage's EventBridge bus. */
  readonly eventBusName: string;
  readonly callSidIndexName: string;
  readonly twilioApiBaseUrl: string;
  readonly recordingFormat: RecordingFormat;
  readonly deleteFromTwilioAfterCopy: boolean;
  readonly transferQueueUrl: string;
  /** Where jobs that will not succeed go, with the reason (the transfer queue's DLQ). */
  readonly deadLetterQueueUrl: string;
  readonly maxAttempts: number;
  readonly retryBaseSeconds: number;
  /** How long one transfer may hold its claim on a recording; the function timeout. */
  readonly leaseSeconds: number;
}

export interface PlaybackConfig {
  readonly bucketName: string;
  readonly tableName: string;
  readonly urlTtlSeconds: number;
}

export const DEFAULT_TWILIO_API_BASE_URL = 'https://api.twilio.com';
export const DEFAULT_CALL_SID_INDEX = 'byTwilioCallSid';
export const DEFAULT_PLAYBACK_TTL_SECONDS = 900;
export const MAX_PLAYBACK_TTL_SECONDS = 3600;
export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_RETRY_BASE_SECONDS = 30;
export const DEFAULT_LEASE_SECONDS = 300;

export function loadWebhookConfig(env: Env = process.env): WebhookConfig {
  const r = new EnvReader(env);
  return r.done({
    accountSid: r.accountSid('TWILIO_ACCOUNT_SID'),
    secretId: r.required('TWILIO_SECRET_ARN'),
    transferQueueUrl: r.required('TRANSFER_QUEUE_URL'),
    publicBaseUrl: r.url('PUBLIC_BASE_URL'),
  });
}

export function loadTransferConfig(env: Env = process.env): TransferConfig {
  const r = new EnvReader(env);
  return r.done({
    accountSid: r.accountSid('TWILIO_ACCOUNT_SID'),
    secretId: r.required('TWILIO_SECRET_ARN'),
    bucketName: r.required('RECORDINGS_BUCKET'),
    tableName: r.required('CALLS_TABLE'),
    ledgerTableName: r.required('LEDGER_TABLE'),
    eventBusName: r.required('EVENT_BUS_NAME'),
    callSidIndexName: r.optional('CALLS_BY_TWILIO_SID_INDEX') ?? DEFAULT_CALL_SID_INDEX,
    twilioApiBaseUrl: r.url('TWILIO_API_BASE_URL', DEFAULT_TWILIO_API_BASE_URL) ?? DEFAULT_TWILIO_API_BASE_URL,
    recordingFormat: r.oneOf('RECORDING_FORMAT', RECORDING_FORMATS, 'mp3'),
    deleteFromTwilioAfterCopy: r.bool('DELETE_FROM_TWILIO_AFTER_COPY', false),
    transferQueueUrl: r.required('TRANSFER_QUEUE_URL'),
    deadLetterQueueUrl: r.required('DEAD_LETTER_QUEUE_URL'),
    maxAttempts: r.int('TRANSFER_MAX_ATTEMPTS', DEFAULT_MAX_ATTEMPTS, 1, 100),
    retryBaseSeconds: r.int('TRANSFER_RETRY_BASE_SECONDS', DEFAULT_RETRY_BASE_SECONDS, 0, 3600),
    leaseSeconds: r.int('TRANSFER_LEASE_SECONDS', DEFAULT_LEASE_SECONDS, 1, 900),
  });
}

export function loadPlaybackConfig(env: Env = process.env): PlaybackConfig {
  const r = new EnvReader(env);
  return r.done({
    bucketName: r.required('RECORDINGS_BUCKET'),
    tableName: r.required('CALLS_TABLE'),
    urlTtlSeconds: r.int('PLAYBACK_URL_TTL_SECONDS', DEFAULT_PLAYBACK_TTL_SECONDS, 1, MAX_PLAYBACK_TTL_SECONDS),
  });
}

/** The recordings API's read side (GET /recordings): the ledger and its `byDay` index. */
export interface RecordingsReadConfig {
  readonly ledgerTableName: string;
  readonly ledgerDayIndexName: string;
}

export const DEFAULT_LEDGER_DAY_INDEX = 'byDay';

export function loadRecordingsReadConfig(env: Env = process.env): RecordingsReadConfig {
  const r = new EnvReader(env);
  return r.done({
    ledgerTableName: r.required('LEDGER_TABLE'),
    ledgerDayIndexName: r.optional('LEDGER_DAY_INDEX') ?? DEFAULT_LEDGER_DAY_INDEX,
  });
}

/** DELETE /calls/{callId}/recordings/{recordingSid}: S3 versions, Twilio, ledger, call item, event. */
export interface ErasureConfig extends TwilioSecretConfig {
  readonly bucketName: string;
  readonly tableName: string;
  readonly ledgerTableName: string;
  readonly eventBusName: string;
  readonly twilioApiBaseUrl: string;
}

export function loadErasureConfig(env: Env = process.env): ErasureConfig {
  const r = new EnvReader(env);
  return r.done({
    accountSid: r.accountSid('TWILIO_ACCOUNT_SID'),
    secretId: r.required('TWILIO_SECRET_ARN'),
    bucketName: r.required('RECORDINGS_BUCKET'),
    tableName: r.required('CALLS_TABLE'),
    ledgerTableName: r.required('LEDGER_TABLE'),
    eventBusName: r.required('EVENT_BUS_NAME'),
    twilioApiBaseUrl: r.url('TWILIO_API_BASE_URL', DEFAULT_TWILIO_API_BASE_URL) ?? DEFAULT_TWILIO_API_BASE_URL,
  });
}

/** The scheduled reconciler: Twilio's recording list against the ledger, missing ones queued. */
export interface ReconcilerConfig extends TwilioSecretConfig {
  readonly twilioApiBaseUrl: string;
  readonly ledgerTableName: string;
  readonly transferQueueUrl: string;
  /** RECONCILE_LOOKBACK_MINUTES, in seconds: each run lists again from this long before the last one's end. */
  readonly lookbackSeconds: number;
  /** RECONCILE_SETTLE_MINUTES, in seconds: recordings younger than this are left to their callback. */
  readonly settleSeconds: number;
}

export const DEFAULT_RECONCILE_LOOKBACK_MINUTES = 120;
export const DEFAULT_RECONCILE_SETTLE_MINUTES = 5;

export function loadReconcilerConfig(env: Env = process.env): ReconcilerConfig {
  const r = new EnvReader(env);
  return r.done({
    accountSid: r.accountSid('TWILIO_ACCOUNT_SID'),
    secretId: r.required('TWILIO_SECRET_ARN'),
    twilioApiBaseUrl: r.url('TWILIO_API_BASE_URL', DEFAULT_TWILIO_API_BASE_URL) ?? DEFAULT_TWILIO_API_BASE_URL,
    ledgerTableName: r.required('LEDGER_TABLE'),
    transferQueueUrl: r.required('TRANSFER_QUEUE_URL'),
    lookbackSeconds: 60 * r.int('RECONCILE_LOOKBACK_MINUTES', DEFAULT_RECONCILE_LOOKBACK_MINUTES, 1, 7 * 24 * 60),
    settleSeconds: 60 * r.int('RECONCILE_SETTLE_MINUTES', DEFAULT_RECONCILE_SETTLE_MINUTES, 0, 24 * 60),
  });
}
