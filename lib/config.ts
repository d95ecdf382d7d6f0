/**
 * Stage configuration: `cdk.json` context `stages.<name>`, chosen with `-c stage=<name>`
 * (default `dev`). Every field is validated by one zod schema; all problems are reported in one
 * error, each as `<field path> <what is wrong>` (e.g. `transfer.maxAttempts must be …`).
 */
import type { Node } from 'constructs';
import { z } from 'zod';
import { type DaysBySource, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS } from '../lambda/shared/config/retention-by-source';
import { RECORDING_SOURCES, type RecordingSource } from '../lambda/shared/job/recording-job';
import { DEFAULT_INDEX_SHARDS, MAX_INDEX_SHARDS } from '../lambda/shared/ledger/index-shards';
import { TWILIO_EDGES, TWILIO_REGIONS, type TwilioRegion, twilioApiBaseUrlFor } from '../lambda/shared/twilio/api-host';
import { connectionOverridesProblems } from '../lambda/shared/twilio/connection-overrides';

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
/** `s3-managed`: SSE-S3 and AWS-managed/owned keys; `kms`: one customer-managed key (rotated) for all data. */
export type EncryptionMode = 's3-managed' | 'kms';
export type ObjectLockMode = 'GOVERNANCE' | 'COMPLIANCE';

export type PlaybackAuthConfig =
  | { readonly type: 'iam' }
  | {
      readonly type: 'jwt';
      readonly issuer: string;
      readonly audience: readonly string[];
      /** The console's OAuth client (authorization code with PKCE). Unset: the console says it cannot sign in. */
      readonly consoleClientId?: string;
    };

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

export interface ReconcileConfig {
  /** Minutes between reconciler runs; 0 disables the schedule. */
  readonly intervalMinutes: number;
  /** Each run lists recordings created from (previous run − this) on. Greater than `settleMinutes`. */
  readonly lookbackMinutes: number;
  /** Each run lists recordings created up to (now − this): younger ones may still get their callback. */
  readonly settleMinutes: number;
}

/** The ledger table's indexes (lambda/shared/ledger/index-shards.ts, docs/scale-and-cost.md). */
export interface LedgerConfig {
  /**
   * Partitions each day (and each open status) of the ledger's indexes is spread over. One index
   * partition takes about 1,000 writes a second: at 2 index writes a recording, a peak of R
   * recordings a second needs more than 2R / 1,000 shards. Raise it freely; never lower it (the
   * listing reads shards 0 … n − 1 and items keep the shard they were written with).
   */
  readonly indexShards: number;
}

/** Thresholds of the operations alarms. */
export interface AlarmThresholdsConfig {
  /** Alarm when the oldest job in the transfer queue is this old (SQS ApproximateAgeOfOldestMessage). */
  readonly oldestJobAgeSeconds: number;
  /** Alarm when the webhook rejects this many callbacks (bad signature, foreign account, malformed) in one period. */
  readonly rejectedCallbacksPerPeriod: number;
}

/** S3 Object Lock default retention of the recordings bucket (requires versioning; cannot be turned off). */
export interface ObjectLockConfig {
  /** GOVERNANCE: deletable with s3:BypassGovernanceRetention; COMPLIANCE: by nobody until it expires. */
  readonly mode: ObjectLockMode;
  readonly retentionDays: number;
}

/**
 * Run the functions in private subnets (governed accounts: CT.LAMBDA.PR.3). AWS services are
 * reached through VPC endpoints; the only traffic to the internet is HTTPS to Twilio.
 */
export type VpcConfig =
  | {
      /** A new VPC: public subnets for the NAT gateways, private subnets for the functions. */
      readonly type: 'new';
      /** The VPC's IPv4 range (a /16 … /24). */
      readonly cidr: string;
      /** Availability zones (2 or 3). */
      readonly maxAzs: number;
      /** NAT gateways: 1 (one AZ, cheapest) up to one per AZ (survives the loss of an AZ). */
      readonly natGateways: number;
    }
  | {
      /** An existing VPC whose private subnets route to the internet (NAT, firewall) for Twilio. */
      readonly type: 'existing';
      readonly vpcId: string;
      /** The functions' subnets (two or more AZs), each with its AZ and route table. */
      readonly subnets: readonly VpcSubnetConfig[];
      /** Create the endpoints in that VPC; false when the VPC already has them (central endpoints). */
      readonly createEndpoints: boolean;
    };

export interface VpcSubnetConfig {
  readonly subnetId: string;
  readonly availabilityZone: string;
  /** The subnet's route table: the S3 and DynamoDB gateway endpoints are added to it. */
  readonly routeTableId: string;
}

export interface LifecycleConfig {
  /** Move recordings to S3 Standard-IA after this many days (≥ 30). */
  readonly infrequentAccessAfterDays?: number;
  /** Move recordings to S3 Glacier Flexible Retrieval after this many days. */
  readonly glacierAfterDays?: number;
  /** Delete non-current object versions (versioned buckets) after this many days. */
  readonly noncurrentVersionExpireAfterDays: number;
}

/**
 * The retention sweep: recordings that started more than `days` ago are erased through the
 * erasure path (ledger `expired`). Unset: recordings are kept until someone erases them.
 */
export interface RetentionConfig {
  readonly days: number;
  /**
   * Periods of Twilio RecordingSources kept for other than `days` (`{ "Conference": 365 }`); a
   * source not named keeps `days`. Each distinct period is one more walk of the day index per run.
   */
  readonly bySource?: DaysBySource;
  /** Minutes between sweeps. */
  readonly intervalMinutes: number;
  /** Erasures one sweep makes at most (the rest wait for the next). */
  readonly maxRecordingsPerRun: number;
}

export interface StageConfig {
  /** The stage name (key under `stages`). */
  readonly name: string;
  readonly twilioAccountSid: string;
  /** Subaccounts whose recordings the stage keeps too; each one's auth token is in the stage's secret. */
  readonly twilioSubaccountSids: readonly string[];
  /** Where media, lists and deletes go: set, or https://api.{edge}.{region}.twilio.com, or https://api.twilio.com. */
  readonly twilioApiBaseUrl: string;
  /** Twilio's processing region of the accounts (e.g. `ie1`); unset: US1 through api.twilio.com. */
  readonly twilioRegion?: TwilioRegion;
  /** The edge the API is reached through (e.g. `dublin`); defaults to the region's own. */
  readonly twilioEdge?: string;
  /** The connection-override fragment given to Twilio with the callback URL, without `#` (e.g. `rc=3&rp=all`). */
  readonly webhookConnectionOverrides?: string;
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
  readonly reconcile: ReconcileConfig;
  readonly ledger: LedgerConfig;
  readonly alarms: AlarmThresholdsConfig;
  readonly bucketVersioning: boolean;
  readonly lifecycle: LifecycleConfig;
  readonly encryption: EncryptionMode;
  /** Unset: no Object Lock. */
  readonly objectLock?: ObjectLockConfig;
  /** Unset: no retention sweep (recordings are kept until erased). */
  readonly retention?: RetentionConfig;
  /** Unset: the functions run outside any VPC. */
  readonly vpc?: VpcConfig;
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

const shown = (value: unknown): string => JSON.stringify(value) ?? String(value);

// ---- field schemas (each carries the message an operator reads) --------------------------
// A field without a default that is missing reads "is required"; every other message says
// what the field must be and shows the value it got.

type Issue = { readonly input?: unknown };

/** The message for a value that is missing (`undefined` after nulls are dropped) or else wrong. */
const unlessMissing =
  (wrong: (issue: Issue) => string, missing = 'is required') =>
  (issue: Issue): string =>
    issue.input === undefined ? missing : wrong(issue);

/** A whole number in [min, max]; one message whatever is wrong with it. */
function wholeNumber(min: number, max: number) {
  const error = unlessMissing((issue) => `must be a whole number from ${min} to ${max} (got ${shown(issue.input)})`);
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A non-empty string, trimmed. */
function text(missing?: string) {
  return z
    .string({ error: unlessMissing(() => 'must be a non-empty string', missing) })
    .trim()
    .min(1, { error: 'must be a non-empty string', abort: true });
}

function matching(pattern: RegExp, hint: string) {
  return text().regex(pattern, { error: (issue) => `must be ${hint} (got ${shown(issue.input)})` });
}

/** An https URL without query or fragment; trailing slashes stripped unless kept (JWT issuers must match `iss` exactly). */
function httpsUrl(options: { readonly keepTrailingSlash?: boolean; readonly missing?: string } = {}) {
  return text(options.missing)
    .refine(
      (value) => {
        try {
          const parsed = new URL(value);
          return parsed.protocol === 'https:' && !parsed.search && !parsed.hash;
        } catch {
          return false;
        }
      },
      { error: (issue) => `must be an https URL without query or fragment (got ${shown(issue.input)})` },
    )
    .transform((value) => (options.keepTrailingSlash ? value : value.replace(/\/+$/, '')));
}

function oneOf<const T extends readonly [z.core.util.Literal, ...z.core.util.Literal[]]>(allowed: T) {
  return z.literal(allowed, {
    error: unlessMissing((issue) => `must be one of ${allowed.join(', ')} (got ${shown(issue.input)})`),
  });
}

const flag = () => z.boolean({ error: unlessMissing((issue) => `must be true or false (got ${shown(issue.input)})`) });

/**
 * An object of cdk.json whose keys are all known: a misspelt option (`bysource`, `indexshards`)
 * would otherwise be dropped without a word, and its default used in its place.
 */
function strictObject<S extends z.core.$ZodLooseShape>(shape: S) {
  const options = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `has no option ${issue.keys.map((key) => JSON.stringify(key)).join(', ')} (its options: ${options}; the case counts)`
        : 'must be an object',
  });
}

/** A nested object whose fields all have defaults; missing means "all defaults". */
function section<S extends z.core.$ZodLooseShape>(shape: S) {
  // prefault, not default: the empty object is parsed, so the fields' own defaults apply.
  return strictObject(shape).prefault({} as z.input<z.ZodObject<S>>);
}

const nonEmptyList = z
  .custom<string[]>(
    (value) => Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string' && v.trim() !== ''),
    { error: 'must be a non-empty list of non-empty strings' },
  )
  .transform((list) => list.map((v) => v.trim()));

/**
 * For cross-field checks: true while the object itself and each of `fields` are free of problems
 * (a problem already reported is not reported again as a conflict).
 */
const clean =
  (...fields: string[]) =>
  (payload: z.core.ParsePayload): boolean =>
    !payload.issues.some(
      (issue) => issue.path === undefined || issue.path.length === 0 || fields.includes(String(issue.path[0])),
    );

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const playbackAuthSchema = z.preprocess(
  // `type` defaults to iam; the other fields count only for jwt.
  (value) => (isObject(value) && value.type === undefined ? { ...value, type: 'iam' } : value),
  z.discriminatedUnion(
    'type',
    [
      z.object({ type: z.literal('iam') }),
      z.object({
        type: z.literal('jwt'),
        issuer: httpsUrl({ keepTrailingSlash: true, missing: 'is required when type is "jwt"' }),
        audience: nonEmptyList,
        consoleClientId: z.string().trim().min(1).max(256).optional(),
      }),
    ],
    {
      error: (issue) =>
        issue.code === 'invalid_union' && isObject(issue.input)
          ? `must be one of iam, jwt (got ${shown(issue.input.type)})`
          : 'must be an object',
    },
  ),
);

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const isCidr = (value: string): boolean => {
  const m = CIDR.exec(value);
  if (!m) return false;
  const [a, b, c, d, prefix] = m.slice(1).map(Number) as [number, number, number, number, number];
  return [a, b, c, d].every((n) => n <= 255) && prefix >= 16 && prefix <= 24;
};

const subnetSchema = strictObject({
  subnetId: matching(/^subnet-[0-9a-f]{8,17}$/, 'a subnet id (subnet-…)'),
  availabilityZone: matching(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'an availability zone name (e.g. us-east-1a)'),
  routeTableId: matching(/^rtb-[0-9a-f]{8,17}$/, 'a route table id (rtb-…)'),
});

const vpcSchema = z.preprocess(
  // `type` defaults to new; the other fields count only for their type.
  (value) => (isObject(value) && value.type === undefined ? { ...value, type: 'new' } : value),
  z.discriminatedUnion(
    'type',
    [
      z.object({
        type: z.literal('new'),
        cidr: text()
          .refine(isCidr, { error: (issue) => `must be an IPv4 CIDR from /16 to /24 (got ${shown(issue.input)})` })
          .default('10.0.0.0/16'),
        maxAzs: wholeNumber(2, 3).default(2),
        natGateways: wholeNumber(1, 3).default(1),
      }),
      z.object({
        type: z.literal('existing'),
        vpcId: matching(/^vpc-[0-9a-f]{8,17}$/, 'a VPC id (vpc-…)'),
        subnets: z
          .array(subnetSchema, { error: unlessMissing(() => 'must be a list of subnets') })
          .min(2, { error: 'must name at least two subnets, in different availability zones' }),
        createEndpoints: flag().default(true),
      }),
    ],
    {
      error: (issue) =>
        issue.code === 'invalid_union' && isObject(issue.input)
          ? `must be one of new, existing (got ${shown(issue.input.type)})`
          : 'must be an object',
    },
  ),
);

const lifecycleSchema = section({
  infrequentAccessAfterDays: wholeNumber(30, 36_500).optional(),
  glacierAfterDays: wholeNumber(1, 36_500).optional(),
  // An S3 expiry would delete recordings behind the ledger's back: retention.days erases them
  // through the erasure path instead, so the ledger says `expired`.
  expireAfterDays: z
    .unknown()
    .refine((value) => value === undefined, {
      error:
        'is not supported: an S3 lifecycle expiry deletes recordings behind the ledger; use retention.days (the retention sweep erases them and the ledger says expired)',
    })
    .optional(),
  noncurrentVersionExpireAfterDays: wholeNumber(1, 36_500).default(30),
}).refine(
  (l) =>
    l.infrequentAccessAfterDays === undefined ||
    l.glacierAfterDays === undefined ||
    l.glacierAfterDays >= l.infrequentAccessAfterDays + 30,
  {
    path: ['glacierAfterDays'],
    error: 'must be at least 30 days after infrequentAccessAfterDays',
    when: clean('infrequentAccessAfterDays', 'glacierAfterDays'),
  },
);

/**
 * `retention.bySource`: a period per Twilio RecordingSource. Each key is checked here, so that a
 * key which is no source (`conference`, `Voicemail`) is named with its path beside every wrong
 * period (a zod object would stop at the first period that is not a whole number).
 */
const retentionPeriod = wholeNumber(MIN_RETENTION_DAYS, MAX_RETENTION_DAYS);
const isRecordingSource = (key: string): key is RecordingSource =>
  (RECORDING_SOURCES as readonly string[]).includes(key);
const daysBySourceSchema = z
  .record(z.string(), z.unknown(), { error: 'must be an object' })
  .superRefine((given, context) => {
    for (const [key, value] of Object.entries(given)) {
      const problems = isRecordingSource(key)
        ? (retentionPeriod.safeParse(value).error?.issues.map((issue) => issue.message) ?? [])
        : [`is not a Twilio RecordingSource (one of ${RECORDING_SOURCES.join(', ')}; the case counts)`];
      for (const message of problems) context.addIssue({ code: 'custom', path: [key], input: value, message });
    }
  })
  .transform(
    (given) =>
      Object.fromEntries(
        RECORDING_SOURCES.filter((source) => given[source] !== undefined).map((source) => [source, given[source]]),
      ) as DaysBySource,
  );

const reconcileSchema = section({
  intervalMinutes: wholeNumber(0, 1440).default(15),
  lookbackMinutes: wholeNumber(1, 10_080).default(120),
  settleMinutes: wholeNumber(0, 1440).default(5),
}).refine((r) => r.lookbackMinutes > r.settleMinutes, {
  // Run n lists [run(n-1) − lookback, run(n) − settle): with lookback ≤ settle the windows of
  // consecutive runs leave a gap, and a recording created in it is never compared.
  path: ['lookbackMinutes'],
  error: 'must be greater than reconcile.settleMinutes, or consecutive runs leave a gap no run lists',
  when: clean('lookbackMinutes', 'settleMinutes'),
});

/** Every stage field but `name`; the output is checked against StageConfig at compile time. */
export const stageConfigSchema = strictObject({
  twilioAccountSid: matching(ACCOUNT_SID_PATTERN, 'a Twilio Account SID: AC followed by 32 hex characters'),
  twilioSubaccountSids: z
    .array(matching(ACCOUNT_SID_PATTERN, 'a Twilio Account SID: AC followed by 32 hex characters'), {
      error: 'must be a list of Account SIDs',
    })
    .refine((sids) => new Set(sids).size === sids.length, { error: 'must not name an account twice' })
    .default([]),
  // Unset: derived from twilioRegion/twilioEdge (below), or Twilio's default host.
  twilioApiBaseUrl: httpsUrl().optional(),
  twilioRegion: oneOf(TWILIO_REGIONS as [TwilioRegion, ...TwilioRegion[]]).optional(),
  twilioEdge: oneOf(TWILIO_EDGES as [string, ...string[]]).optional(),
  webhookConnectionOverrides: text()
    .superRefine((fragment, context) => {
      for (const problem of connectionOverridesProblems(fragment)) {
        context.addIssue({ code: 'custom', message: problem, input: fragment });
      }
    })
    .optional(),
  twilioSecretName: matching(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'a Secrets Manager secret name').optional(),
  removalPolicy: oneOf(['destroy', 'retain']).default('retain'),
  logRetentionDays: oneOf(LOG_RETENTION_DAYS).default(30),
  logLevel: oneOf(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  playbackUrlTtlSeconds: wholeNumber(1, MAX_PLAYBACK_URL_TTL_SECONDS).default(DEFAULT_PLAYBACK_URL_TTL_SECONDS),
  recordingFormat: oneOf(['mp3', 'wav']).default('mp3'),
  deleteFromTwilioAfterCopy: flag().default(false),
  playbackAuth: playbackAuthSchema.default({ type: 'iam' }),
  alarmEmail: matching(EMAIL, 'an e-mail address').optional(),
  publicWebhookBaseUrl: httpsUrl().optional(),
  apiThrottle: section({
    rateLimit: wholeNumber(1, 10_000).default(50),
    burstLimit: wholeNumber(1, 5_000).default(100),
  }),
  transfer: section({
    maxAttempts: wholeNumber(1, 100).default(5),
    retryBaseSeconds: wholeNumber(0, 3600).default(30),
    timeoutSeconds: wholeNumber(30, 900).default(300),
    memoryMb: wholeNumber(128, 10_240).default(512),
    maxConcurrency: wholeNumber(2, 1000).default(50),
  }),
  reconcile: reconcileSchema,
  ledger: section({
    indexShards: wholeNumber(1, MAX_INDEX_SHARDS).default(DEFAULT_INDEX_SHARDS),
  }),
  alarms: section({
    // Up to the DLQ's 14 days: an age the queue can actually reach.
    oldestJobAgeSeconds: wholeNumber(60, 14 * 24 * 3600).default(900),
    rejectedCallbacksPerPeriod: wholeNumber(1, 1_000_000).default(20),
  }),
  bucketVersioning: flag().default(true),
  lifecycle: lifecycleSchema,
  encryption: oneOf(['s3-managed', 'kms']).default('s3-managed'),
  retention: strictObject({
    days: retentionPeriod,
    bySource: daysBySourceSchema.optional(),
    intervalMinutes: wholeNumber(5, 1440).default(60),
    maxRecordingsPerRun: wholeNumber(1, 100_000).default(500),
  }).optional(),
  objectLock: strictObject({
    mode: oneOf(['GOVERNANCE', 'COMPLIANCE']),
    retentionDays: wholeNumber(1, 36_500),
  }).optional(),
  vpc: vpcSchema
    .refine(
      (v) => v.type === 'new' || new Set(v.subnets.map((s) => s.availabilityZone)).size >= 2 || v.subnets.length < 2,
      { path: ['subnets'], error: 'must be in at least two availability zones' },
    )
    .refine((v) => v.type !== 'new' || v.natGateways <= v.maxAzs, {
      path: ['natGateways'],
      error: 'must not exceed maxAzs (one NAT gateway per AZ at most)',
    })
    .optional(),
})
  .refine(
    (c) => c.retention === undefined || c.objectLock === undefined || c.retention.days >= c.objectLock.retentionDays,
    {
      path: ['retention', 'days'],
      error:
        'must be at least objectLock.retentionDays: Object Lock keeps every recording that long, so no sweep could expire it sooner',
      when: clean('retention', 'objectLock'),
    },
  )
  .superRefine(
    (c, context) => {
      if (c.retention?.bySource === undefined || c.objectLock === undefined) return;
      for (const source of RECORDING_SOURCES) {
        const days = c.retention.bySource[source];
        if (days === undefined || days >= c.objectLock.retentionDays) continue;
        context.addIssue({
          code: 'custom',
          path: ['retention', 'bySource', source],
          input: days,
          message:
            'must be at least objectLock.retentionDays: Object Lock keeps every recording that long, so no sweep could expire it sooner',
        });
      }
    },
    // Beside the retention.days check: only the periods and the lock must be free of problems.
    {
      when: (payload) =>
        !payload.issues.some((issue) => {
          const [first, second] = (issue.path ?? []).map(String);
          return (
            first === undefined ||
            first === 'objectLock' ||
            (first === 'retention' && [undefined, 'bySource'].includes(second))
          );
        }),
    },
  )
  .refine((c) => c.objectLock === undefined || c.bucketVersioning, {
    path: ['objectLock'],
    error: 'requires bucketVersioning: true (S3 Object Lock works only on a versioned bucket)',
    when: clean('objectLock', 'bucketVersioning'),
  })
  .refine((c) => !c.twilioSubaccountSids.includes(c.twilioAccountSid), {
    path: ['twilioSubaccountSids'],
    error: 'must not list twilioAccountSid (the parent account is always accepted)',
    when: clean('twilioSubaccountSids', 'twilioAccountSid'),
  })
  .refine((c) => c.twilioEdge === undefined || c.twilioRegion !== undefined, {
    path: ['twilioEdge'],
    error: 'requires twilioRegion (the edge only says how that region is reached)',
    when: clean('twilioEdge', 'twilioRegion'),
  })
  .refine((c) => c.twilioRegion === undefined || c.twilioApiBaseUrl === undefined, {
    path: ['twilioRegion'],
    error: 'cannot be combined with twilioApiBaseUrl (the region and edge name the API host)',
    when: clean('twilioRegion', 'twilioApiBaseUrl'),
  })
  .transform((c) => ({
    ...c,
    twilioApiBaseUrl:
      c.twilioApiBaseUrl ??
      (c.twilioRegion ? twilioApiBaseUrlFor(c.twilioRegion, c.twilioEdge) : DEFAULT_TWILIO_API_BASE_URL),
  })) satisfies z.ZodType<Omit<StageConfig, 'name'>>;

/** Drops keys whose value is null at every depth: `null` in cdk.json means "not set", as a missing key does. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, withoutNulls(v)]),
  );
}

function problemOf(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  return path === '' ? issue.message : `${path} ${issue.message}`;
}

/** Validates one stage's raw context object and fills in defaults. Throws StageConfigError. */
export function parseStageConfig(name: string, raw: unknown): StageConfig {
  const problems: string[] = [];
  if (!/^[A-Za-z][A-Za-z0-9-]{0,31}$/.test(name)) {
    problems.push('the stage name must be letters, digits and "-", starting with a letter, at most 32 characters');
  }
  if (!isObject(raw)) throw new StageConfigError(name, [...problems, `stages.${name} must be an object`]);

  // `null` means "not set" everywhere else; here it would mean "keep retention.days" while it reads
  // like "keep for ever", and the difference is recordings erased for good.
  const bySource = isObject(raw.retention) ? raw.retention.bySource : undefined;
  if (isObject(bySource)) {
    for (const [source, days] of Object.entries(bySource)) {
      if (days === null) {
        problems.push(
          `retention.bySource.${source} must be a whole number of days, not null (remove the key to keep retention.days)`,
        );
      }
    }
  }
  const result = stageConfigSchema.safeParse(withoutNulls(raw));
  if (!result.success) problems.push(...result.error.issues.map(problemOf));
  // One line per problem, even where a field failed more than one check.
  if (problems.length > 0 || !result.success) throw new StageConfigError(name, [...new Set(problems)]);
  return Object.freeze({ name, ...result.data });
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
