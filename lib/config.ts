/**
 * Stage configuration: `cdk.json` context `stages.<name>`, chosen with `-c stage=<name>`
 * (default `dev`). Every field is validated; all problems are reported in one error.
 */
import type { Node } from 'constructs';

export const DEFAULT_STAGE = 'dev';

export const ACCOUNT_SID_PATTERN = /^AC[0-9a-fA-F]{32}$/;
export const DEFAULT_TWILIO_API_BASE_URL = 'https://api.twilio.com';
export const DEFAULT_PLAYBACK_URL_TTL_SECONDS = 900;
export const MAX_PLAYBACK_URL_TTL_SECONDS = 3600;

/** Retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;
export type LogRetentionDays = (typeof LOG_RETENTION_DAYS)[number];

export type RemovalPolicyName = 'destroy' | 'retain';
export type RecordingFormat = 'mp3' | 'wav';
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

export type PlaybackAuthConfig =
  | { readonly type: 'iam' }
  | { readonly type: 'jwt'; readonly issuer: string; readonly audience: readonly string[] };

export interface ApiThrottleConfig {
  /** Steady-state requests per second for the whole API (default stage). */
  readonly rateLimit: number;
  /** Burst bucket size. */
  readonly burstLimit: number;
}

export interface TransferConfig {
  /** Receives of one job before it goes to the dead-letter queue (SQS maxReceiveCount). */
  readonly maxAttempts: number;
  /** First retry delay; doubles per attempt (set by the function via ChangeMessageVisibility). */
  readonly retryBaseSeconds: number;
  /** Transfer function timeout; the queue's visibility timeout is 6 × this. */
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /**
   * Most transfers running at once (the SQS event source's maximum concurrency, 2 … 1000).
   * Keeps downloads under Twilio's per-account concurrency limit; jobs beyond it wait in the queue.
   */
  readonly maxConcurrency: number;
}

export interface LifecycleConfig {
  /** Move recordings to S3 Standard-IA after this many days (≥ 30). */
  readonly infrequentAccessAfterDays?: number;
  /** Move recordings to S3 Glacier Flexible Retrieval after this many days. */
  readonly glacierAfterDays?: number;
  /** Delete recordings after this many days. Unset: keep forever. */
  readonly expireAfterDays?: number;
  /** Delete non-current object versions (versioned buckets) after this many days. */
  readonly noncurrentVersionExpireAfterDays: number;
}

export interface StageConfig {
  /** The stage name (key under `stages`). */
  readonly name: string;
  readonly twilioAccountSid: string;
  readonly twilioApiBaseUrl: string;
  /** Name of an existing Secrets Manager secret to use; unset: the stack creates one. */
  readonly twilioSecretName?: string;
  readonly removalPolicy: RemovalPolicyName;
  readonly logRetentionDays: LogRetentionDays;
  readonly logLevel: LogLevel;
  readonly playbackUrlTtlSeconds: number;
  readonly recordingFormat: RecordingFormat;
  readonly deleteFromTwilioAfterCopy: boolean;
  readonly playbackAuth: PlaybackAuthConfig;
  readonly alarmEmail?: string;
  /** Base URL Twilio is configured with (custom domain, base path), no trailing slash. */
  readonly publicWebhookBaseUrl?: string;
  readonly apiThrottle: ApiThrottleConfig;
  readonly transfer: TransferConfig;
  readonly bucketVersioning: boolean;
  readonly lifecycle: LifecycleConfig;
}

export class StageConfigError extends Error {
  constructor(
    readonly stage: string,
    readonly problems: readonly string[],
  ) {
    super(`Invalid configuration for stage "${stage}": ${problems.join('; ')}`);
    this.name = 'StageConfigError';
  }
}

type Raw = Record<string, unknown>;

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads fields of one object, collecting every problem. */
class Reader {
  constructor(
    private readonly raw: Raw,
    private readonly prefix: string,
    private readonly problems: string[],
  ) {}

  private path(key: string): string {
    return `${this.prefix}${key}`;
  }

  private problem(key: string, message: string): void {
    this.problems.push(`${this.path(key)} ${message}`);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  child(key: string): Reader {
    const value = this.raw[key];
    if (value === undefined || value === null) return new Reader({}, `${this.path(key)}.`, this.problems);
    if (!isObject(value)) {
      this.problem(key, 'must be an object');
      return new Reader({}, `${this.path(key)}.`, this.problems);
    }
    return new Reader(value, `${this.path(key)}.`, this.problems);
  }

  string(key: string, options: { pattern?: RegExp; patternHint?: string } = {}): string | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      this.problem(key, 'must be a non-empty string');
      return undefined;
    }
    if (options.pattern && !options.pattern.test(value)) {
      this.problem(key, `must be ${options.patternHint ?? `like ${options.pattern}`} (got "${value}")`);
      return undefined;
    }
    return value.trim();
  }

  requiredString(key: string, options: { pattern?: RegExp; patternHint?: string } = {}): string {
    if (!this.has(key)) {
      this.problem(key, 'is required');
      return '';
    }
    return this.string(key, options) ?? '';
  }

  /** An http(s) URL; trailing slashes are stripped unless `keepTrailingSlash` (JWT issuers must match `iss` exactly). */
  url(key: string, httpsOnly: boolean, keepTrailingSlash = false): string | undefined {
    const value = this.string(key);
    if (value === undefined) return undefined;
    try {
      const parsed = new URL(value);
      const ok = httpsOnly ? parsed.protocol === 'https:' : parsed.protocol === 'https:' || parsed.protocol === 'http:';
      if (!ok) throw new Error('scheme');
      if (parsed.search || parsed.hash) throw new Error('query');
    } catch {
      this.problem(key, `must be an ${httpsOnly ? 'https' : 'http(s)'} URL without query or fragment (got "${value}")`);
      return undefined;
    }
    return keepTrailingSlash ? value : value.replace(/\/+$/, '');
  }

  int(key: string, fallback: number, min: number, max: number): number;
  int(key: string, fallback: undefined, min: number, max: number): number | undefined;
  int(key: string, fallback: number | undefined, min: number, max: number): number | undefined {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.problem(key, `must be a whole number from ${min} to ${max} (got ${JSON.stringify(value)})`);
      return fallback;
    }
    return value;
  }

  bool(key: string, fallback: boolean): boolean {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') {
      this.problem(key, `must be true or false (got ${JSON.stringify(value)})`);
      return fallback;
    }
    return value;
  }

  oneOf<T extends string | number>(key: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw[key];
    if (value === undefined || value === null) return fallback;
    if ((allowed as readonly unknown[]).includes(value)) return value as T;
    this.problem(key, `must be one of ${allowed.join(', ')} (got ${JSON.stringify(value)})`);
    return fallback;
  }

  stringList(key: string): string[] {
    const value = this.raw[key];
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v.trim() !== '')) {
      this.problem(key, 'must be a non-empty list of non-empty strings');
      return [];
    }
    return value.map((v: string) => v.trim());
  }

  fail(key: string, message: string): void {
    this.problem(key, message);
  }
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Validates one stage's raw context object and fills in defaults. Throws StageConfigError. */
export function parseStageConfig(name: string, raw: unknown): StageConfig {
  const problems: string[] = [];
  if (!/^[A-Za-z][A-Za-z0-9-]{0,31}$/.test(name)) {
    problems.push('the stage name must be letters, digits and "-", starting with a letter, at most 32 characters');
  }
  if (!isObject(raw)) throw new StageConfigError(name, [...problems, `stages.${name} must be an object`]);
  const r = new Reader(raw, '', problems);

  const twilioAccountSid = r.requiredString('twilioAccountSid', {
    pattern: ACCOUNT_SID_PATTERN,
    patternHint: 'a Twilio Account SID: AC followed by 32 hex characters',
  });
  const twilioApiBaseUrl = r.url('twilioApiBaseUrl', true) ?? DEFAULT_TWILIO_API_BASE_URL;
  const twilioSecretName = r.string('twilioSecretName', {
    pattern: /^[A-Za-z0-9/_+=.@-]{1,512}$/,
    patternHint: 'a Secrets Manager secret name',
  });
  const removalPolicy = r.oneOf<RemovalPolicyName>('removalPolicy', ['destroy', 'retain'], 'retain');
  const logRetentionDays = r.oneOf<LogRetentionDays>('logRetentionDays', LOG_RETENTION_DAYS, 30);
  const logLevel = r.oneOf<LogLevel>('logLevel', ['DEBUG', 'INFO', 'WARN', 'ERROR'], 'INFO');
  const playbackUrlTtlSeconds = r.int(
    'playbackUrlTtlSeconds',
    DEFAULT_PLAYBACK_URL_TTL_SECONDS,
    1,
    MAX_PLAYBACK_URL_TTL_SECONDS,
  );
  const recordingFormat = r.oneOf<RecordingFormat>('recordingFormat', ['mp3', 'wav'], 'mp3');
  const deleteFromTwilioAfterCopy = r.bool('deleteFromTwilioAfterCopy', false);

  let playbackAuth: PlaybackAuthConfig = { type: 'iam' };
  if (r.has('playbackAuth')) {
    const a = r.child('playbackAuth');
    const type = a.oneOf<'iam' | 'jwt'>('type', ['iam', 'jwt'], 'iam');
    if (type === 'jwt') {
      if (!a.has('issuer')) a.fail('issuer', 'is required when type is "jwt"');
      const issuer = a.url('issuer', true, true) ?? '';
      const audience = a.stringList('audience');
      playbackAuth = { type: 'jwt', issuer, audience };
    }
  }

  const alarmEmail = r.string('alarmEmail', { pattern: EMAIL, patternHint: 'an e-mail address' });
  const publicWebhookBaseUrl = r.url('publicWebhookBaseUrl', true);

  const t = r.child('apiThrottle');
  const apiThrottle: ApiThrottleConfig = {
    rateLimit: t.int('rateLimit', 50, 1, 10_000),
    burstLimit: t.int('burstLimit', 100, 1, 5_000),
  };

  const x = r.child('transfer');
  const transfer: TransferConfig = {
    maxAttempts: x.int('maxAttempts', 5, 1, 100),
    retryBaseSeconds: x.int('retryBaseSeconds', 30, 0, 3600),
    timeoutSeconds: x.int('timeoutSeconds', 300, 30, 900),
    memoryMb: x.int('memoryMb', 512, 128, 10_240),
    maxConcurrency: x.int('maxConcurrency', 50, 2, 1000),
  };

  const bucketVersioning = r.bool('bucketVersioning', true);

  const l = r.child('lifecycle');
  const ia = l.int('infrequentAccessAfterDays', undefined, 30, 36_500);
  const glacier = l.int('glacierAfterDays', undefined, 1, 36_500);
  const expire = l.int('expireAfterDays', undefined, 1, 36_500);
  if (ia !== undefined && glacier !== undefined && glacier < ia + 30) {
    l.fail('glacierAfterDays', 'must be at least 30 days after infrequentAccessAfterDays');
  }
  const lastTransition = Math.max(ia ?? 0, glacier ?? 0);
  if (expire !== undefined && expire <= lastTransition) {
    l.fail('expireAfterDays', 'must be later than every transition');
  }
  const lifecycle: LifecycleConfig = {
    ...(ia !== undefined ? { infrequentAccessAfterDays: ia } : {}),
    ...(glacier !== undefined ? { glacierAfterDays: glacier } : {}),
    ...(expire !== undefined ? { expireAfterDays: expire } : {}),
    noncurrentVersionExpireAfterDays: l.int('noncurrentVersionExpireAfterDays', 30, 1, 36_500),
  };

  if (problems.length > 0) throw new StageConfigError(name, problems);
  return Object.freeze({
    name,
    twilioAccountSid,
    twilioApiBaseUrl,
    ...(twilioSecretName !== undefined ? { twilioSecretName } : {}),
    removalPolicy,
    logRetentionDays,
    logLevel,
    playbackUrlTtlSeconds,
    recordingFormat,
    deleteFromTwilioAfterCopy,
    playbackAuth,
    ...(alarmEmail !== undefined ? { alarmEmail } : {}),
    ...(publicWebhookBaseUrl !== undefined ? { publicWebhookBaseUrl } : {}),
    apiThrottle,
    transfer,
    bucketVersioning,
    lifecycle,
  });
}

/** Picks `stages.<name>` from a context `stages` value. Unknown stage: the error lists the known ones. */
export function selectStageConfig(stages: unknown, stageName: string = DEFAULT_STAGE): StageConfig {
  if (!isObject(stages)) {
    throw new StageConfigError(stageName, ['cdk.json context has no "stages" object']);
  }
  const raw = stages[stageName];
  if (raw === undefined) {
    const known = Object.keys(stages).sort();
    throw new StageConfigError(stageName, [
      `unknown stage; known stages: ${known.length > 0 ? known.join(', ') : '(none)'} (choose with -c stage=<name>)`,
    ]);
  }
  return parseStageConfig(stageName, raw);
}

/** Reads the stage chosen with `-c stage=<name>` (default `dev`) from the app's context. */
export function loadStageConfig(node: Node): StageConfig {
  const requested: unknown = node.tryGetContext('stage');
  if (requested !== undefined && typeof requested !== 'string') {
    throw new StageConfigError(String(requested), ['-c stage=<name> must be a string']);
  }
  return selectStageConfig(node.tryGetContext('stages'), requested ?? DEFAULT_STAGE);
}
