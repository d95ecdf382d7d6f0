/**
 * The local stack's environment, read once at start-up. Every problem is collected so that
 * one failed start names all of them (and never prints a stack trace).
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { ENV } from '../../lambda/shared/config/env-names';
import {
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PLAYBACK_TTL_SECONDS,
  DEFAULT_RETRY_BASE_SECONDS,
  DEFAULT_TWILIO_API_BASE_URL,
  MAX_PLAYBACK_TTL_SECONDS,
  RECORDING_FORMATS,
  type RecordingFormat,
  accountSid as readAccountSid,
} from '../../lambda/shared/config/function-config';
import {
  type DaysBySource,
  MAX_RETENTION_DAYS,
  MIN_RETENTION_DAYS,
  readDaysBySource,
} from '../../lambda/shared/config/retention-by-source';
import {
  DAY_SHARD_INDEX,
  DEFAULT_INDEX_SHARDS,
  HOLD_INDEX,
  OPEN_STATUS_INDEX,
} from '../../lambda/shared/ledger/index-shards';
import { ConfigError, type Env, EnvReader } from '../../lambda/shared/runtime/env-reader';
import { parseSubaccountsSetting } from '../../lambda/shared/twilio/accounts';
import { isTwilioRegion, TWILIO_EDGES, TWILIO_REGIONS, twilioApiBaseUrlFor } from '../../lambda/shared/twilio/api-host';
import { connectionOverridesProblems } from '../../lambda/shared/twilio/connection-overrides';

export type { Env };

export const TABLE_NAME = 'calls';
export const LEDGER_TABLE_NAME = 'recordings';
export const LEDGER_DAY_INDEX = DAY_SHARD_INDEX;
export const LEDGER_OPEN_STATUS_INDEX = OPEN_STATUS_INDEX;
export const LEDGER_HOLD_INDEX = HOLD_INDEX;
/** The local ledger's index shards: a few, so that the listing's merge of shards runs locally too. */
export const LEDGER_INDEX_SHARDS = DEFAULT_INDEX_SHARDS;
/** The access audit trail (lambda/shared/audit): partition recordingSid, sort atId, GSI byActorDay. */
export const AUDIT_TABLE_NAME = 'audit';
/** The local event bus: one JSON line per event, under LOCAL_DATA_DIR. */
export const EVENTS_FILE = 'events.ndjson';
export const CALL_SID_INDEX = 'byTwilioCallSid';
export const BUCKET_NAME = 'recordings';
export const QUEUE_NAME = 'recording-transfer';
export const DLQ_NAME = 'recording-transfer-dlq';
export const REGION = 'us-east-1';
export const LOOPBACK = '127.0.0.1';

/** Default visibility timeout of the transfer queue: how long a job taken by a worker that died stays invisible. */
export const DEFAULT_VISIBILITY_TIMEOUT_SECONDS = 60;
export const DEFAULT_POLLERS = 3;

/** Every problem with the local stack's environment, named at once. */
export class LocalConfigError extends ConfigError {
  override name = 'LocalConfigError';
}

export interface LocalConfig {
  readonly accountSid: string;
  readonly authToken: string;
  readonly authTokenSecondary: string | undefined;
  /** TWILIO_SUBACCOUNTS: subaccounts accepted besides TWILIO_ACCOUNT_SID, each with its auth token. */
  readonly subaccounts: readonly { readonly accountSid: string; readonly authToken: string }[];
  /** TWILIO_API_BASE_URL, or the host of TWILIO_REGION through TWILIO_EDGE. */
  readonly twilioApiBaseUrl: string;
  readonly publicBaseUrl: string | undefined;
  /** WEBHOOK_CONNECTION_OVERRIDES: the fragment Twilio is given with the callback URL (without `#`). */
  readonly connectionOverrides: string | undefined;
  readonly port: number;
  readonly dynamodbPort: number;
  readonly s3Port: number;
  readonly sqsPort: number;
  /** External endpoints (AWS_ENDPOINT_URL_<SERVICE>); set means no embedded emulator for that service. */
  readonly dynamodbEndpoint: string | undefined;
  readonly s3Endpoint: string | undefined;
  readonly sqsEndpoint: string | undefined;
  readonly dataDir: string;
  readonly apiToken: string;
  readonly apiTokenGenerated: boolean;
  readonly maxAttempts: number;
  readonly retryBaseSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  /** The claim a transfer holds on a recording (the Lambda's function timeout); defaults to the visibility timeout. */
  readonly leaseSeconds: number;
  readonly recordingFormat: RecordingFormat;
  readonly deleteFromTwilioAfterCopy: boolean;
  readonly playbackUrlTtlSeconds: number;
  /** Concurrent long-pollers of the transfer queue (each takes batches of up to 5). */
  readonly pollers: number;
  /** A reconcile run every this many seconds, as the stage's schedule on AWS; 0: none. */
  readonly reconcileIntervalSeconds: number;
  readonly reconcileLookbackSeconds: number;
  readonly reconcileSettleSeconds: number;
  /** RETENTION_DAYS: recordings older than this are expired by a sweep (the stage's `retention.days`); unset: none. */
  readonly retentionDays?: number;
  /** RETENTION_DAYS_BY_SOURCE (`Conference=365,RecordVerb=30`, the stage's `retention.bySource`): sources kept otherwise; empty: none. */
  readonly retentionDaysBySource: DaysBySource;
  /** A retention sweep every this many seconds when RETENTION_DAYS is set (the stage's `retention.intervalMinutes`). */
  readonly retentionSweepSeconds: number;
  /** RETENTION_EARLIEST_DAY (YYYY-MM-DD): where a first sweep starts; default 2008-01-01, before any Twilio recording. */
  readonly retentionEarliestDay?: string;
}

/** The local retention sweep's default period: hourly, as the stage's default schedule. */
export const DEFAULT_RETENTION_SWEEP_SECONDS = 3600;

/** The design's reconciler defaults: every 15 minutes, 2 hours back, leaving the last 5 minutes to callbacks. */
export const DEFAULT_RECONCILE_INTERVAL_SECONDS = 900;
export const DEFAULT_RECONCILE_LOOKBACK_SECONDS = 7200;
export const DEFAULT_RECONCILE_SETTLE_SECONDS = 300;

/** TWILIO_API_BASE_URL, or TWILIO_REGION (and TWILIO_EDGE) as a stage's twilioRegion and twilioEdge. */
export function localTwilioApiBaseUrl(r: EnvReader): string {
  const region = r.optional('TWILIO_REGION');
  const edge = r.optional('TWILIO_EDGE');
  const given = r.url('TWILIO_API_BASE_URL');
  if (region === undefined) {
    if (edge !== undefined) r.problems.push('TWILIO_EDGE requires TWILIO_REGION');
    return given ?? DEFAULT_TWILIO_API_BASE_URL;
  }
  if (given !== undefined) r.problems.push('TWILIO_REGION cannot be combined with TWILIO_API_BASE_URL');
  if (!isTwilioRegion(region)) {
    r.problems.push(`TWILIO_REGION must be one of ${TWILIO_REGIONS.join(', ')} (got "${region.slice(0, 32)}")`);
    return DEFAULT_TWILIO_API_BASE_URL;
  }
  if (edge !== undefined && !TWILIO_EDGES.includes(edge)) {
    r.problems.push(`TWILIO_EDGE must be one of ${TWILIO_EDGES.join(', ')} (got "${edge.slice(0, 32)}")`);
    return DEFAULT_TWILIO_API_BASE_URL;
  }
  return twilioApiBaseUrlFor(region, edge);
}

/**
 * RETENTION_DAYS, RETENTION_DAYS_BY_SOURCE and RETENTION_SWEEP_SECONDS, as `npm start` reads them
 * (`npm run status -- --retention` too); their problems go into `r`'s.
 */
export function localRetention(
  r: EnvReader,
): Pick<LocalConfig, 'retentionDays' | 'retentionDaysBySource' | 'retentionSweepSeconds'> {
  const retentionDays =
    r.optional(ENV.retentionDays) !== undefined
      ? r.int(ENV.retentionDays, 0, MIN_RETENTION_DAYS, MAX_RETENTION_DAYS)
      : undefined;
  const bySource = readDaysBySource(r);
  // The per-source periods refine a sweep; without RETENTION_DAYS there is none to refine.
  if (bySource !== undefined && retentionDays === undefined) {
    r.problems.push(
      `${ENV.retentionDaysBySource} requires ${ENV.retentionDays} (the period of every source it does not name)`,
    );
  }
  return {
    ...(retentionDays !== undefined ? { retentionDays } : {}),
    retentionDaysBySource: bySource ?? {},
    retentionSweepSeconds: r.int('RETENTION_SWEEP_SECONDS', DEFAULT_RETENTION_SWEEP_SECONDS, 1, 7 * 24 * 3600),
  };
}

export function loadLocalConfig(env: Env = process.env): LocalConfig {
  const r = new EnvReader(env);
  const accountSid = readAccountSid(r, 'TWILIO_ACCOUNT_SID');
  const authToken = r.required('TWILIO_AUTH_TOKEN');
  const recordingFormat = r.oneOf('RECORDING_FORMAT', RECORDING_FORMATS, 'mp3' as RecordingFormat);
  const port = (name: string, fallback: number) => r.int(name, fallback, 1, 65535);

  const visibilityTimeoutSeconds = r.int(
    'TRANSFER_VISIBILITY_TIMEOUT_SECONDS',
    DEFAULT_VISIBILITY_TIMEOUT_SECONDS,
    1,
    12 * 60 * 60,
  );
  const givenToken = r.optional('LOCAL_API_TOKEN');
  const subaccounts = parseSubaccountsSetting(r.optional('TWILIO_SUBACCOUNTS'));
  r.problems.push(...subaccounts.problems);
  if (subaccounts.accounts.has(accountSid)) r.problems.push('TWILIO_SUBACCOUNTS must not name TWILIO_ACCOUNT_SID');
  const connectionOverrides = r.optional('WEBHOOK_CONNECTION_OVERRIDES');
  for (const problem of connectionOverrides === undefined ? [] : connectionOverridesProblems(connectionOverrides)) {
    r.problems.push(`WEBHOOK_CONNECTION_OVERRIDES ${problem}`);
  }
  const earliestDay = r.day('RETENTION_EARLIEST_DAY');
  const config: LocalConfig = {
    accountSid,
    authToken,
    authTokenSecondary: r.optional('TWILIO_AUTH_TOKEN_SECONDARY'),
    subaccounts: [...subaccounts.accounts].map(([sid, tokens]) => ({ accountSid: sid, authToken: tokens.primary })),
    twilioApiBaseUrl: localTwilioApiBaseUrl(r),
    publicBaseUrl: r.url('PUBLIC_BASE_URL'),
    connectionOverrides,
    port: port('PORT', 3000),
    dynamodbPort: port('DYNAMODB_PORT', 8000),
    s3Port: port('S3_PORT', 4569),
    sqsPort: port('SQS_PORT', 9324),
    dynamodbEndpoint: r.url('AWS_ENDPOINT_URL_DYNAMODB'),
    s3Endpoint: r.url('AWS_ENDPOINT_URL_S3'),
    sqsEndpoint: r.url('AWS_ENDPOINT_URL_SQS'),
    dataDir: resolve(r.optional('LOCAL_DATA_DIR') ?? '.local'),
    apiToken: givenToken ?? randomBytes(24).toString('base64url'),
    apiTokenGenerated: givenToken === undefined,
    maxAttempts: r.int('TRANSFER_MAX_ATTEMPTS', DEFAULT_MAX_ATTEMPTS, 1, 1000),
    retryBaseSeconds: r.int('TRANSFER_RETRY_BASE_SECONDS', DEFAULT_RETRY_BASE_SECONDS, 0, 3600),
    visibilityTimeoutSeconds,
    leaseSeconds: r.int('TRANSFER_LEASE_SECONDS', Math.min(900, visibilityTimeoutSeconds), 1, 900),
    recordingFormat,
    deleteFromTwilioAfterCopy: r.bool('DELETE_FROM_TWILIO_AFTER_COPY', false),
    playbackUrlTtlSeconds: r.int('PLAYBACK_URL_TTL_SECONDS', DEFAULT_PLAYBACK_TTL_SECONDS, 1, MAX_PLAYBACK_TTL_SECONDS),
    pollers: r.int('LOCAL_TRANSFER_POLLERS', DEFAULT_POLLERS, 1, 16),
    reconcileIntervalSeconds: r.int('RECONCILE_INTERVAL_SECONDS', DEFAULT_RECONCILE_INTERVAL_SECONDS, 0, 24 * 3600),
    reconcileLookbackSeconds: r.int('RECONCILE_LOOKBACK_SECONDS', DEFAULT_RECONCILE_LOOKBACK_SECONDS, 1, 7 * 24 * 3600),
    reconcileSettleSeconds: r.int('RECONCILE_SETTLE_SECONDS', DEFAULT_RECONCILE_SETTLE_SECONDS, 0, 24 * 3600),
    ...localRetention(r),
    ...(earliestDay ? { retentionEarliestDay: earliestDay } : {}),
  };
  if (r.problems.length > 0) throw new LocalConfigError(r.problems);
  return Object.freeze(config);
}
