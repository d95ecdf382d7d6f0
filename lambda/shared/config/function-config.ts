/**
 * Each function's environment is a typed contract, read once at start-up through EnvReader:
 * a missing or malformed variable fails the container with one message naming every problem.
 */
import {
  DAY_SHARD_INDEX,
  DEFAULT_INDEX_SHARDS,
  HOLD_INDEX,
  MAX_INDEX_SHARDS,
  OPEN_STATUS_INDEX,
} from '../ledger/index-shards';
import { type Env, EnvReader } from '../runtime/env-reader';
import { connectionOverridesProblems } from '../twilio/connection-overrides';
import { SID } from '../twilio/sids';
import { ENV } from './env-names';
import { type DaysBySource, MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, readDaysBySource } from './retention-by-source';

export { ConfigError, type Env } from '../runtime/env-reader';

/** An AccountSid variable, checked for Twilio's form. */
export function accountSid(r: EnvReader, name: string): string {
  return r.matching(name, SID.AccountSid, 'AC followed by 32 hex characters');
}

export const RECORDING_FORMATS = ['mp3', 'wav'] as const;
export type RecordingFormat = (typeof RECORDING_FORMATS)[number];

/** Where the Twilio auth token(s) come from: a Secrets Manager secret id (ARN or name). */
export interface TwilioSecretConfig {
  /** The parent account. */
  readonly accountSid: string;
  /** Subaccounts accepted besides the parent; their tokens are in the same secret. Always set by the loaders. */
  readonly subaccountSids?: readonly string[];
  readonly secretId: string;
}

export interface WebhookConfig extends TwilioSecretConfig {
  readonly transferQueueUrl: string;
  /** Base URL Twilio is configured with (custom domain, base path, tunnel). Unset: the URL API Gateway received. */
  readonly publicBaseUrl: string | undefined;
  /** The connection-override fragment in use (without `#`): a signature over the URL with it is accepted too. */
  readonly connectionOverrides: string | undefined;
}

export interface TransferConfig extends TwilioSecretConfig {
  readonly bucketName: string;
  readonly tableName: string;
  /** The vault's ledger (`recordings` table). */
  readonly ledgerTableName: string;
  /** The stage's `ledger.indexShards` (default DEFAULT_INDEX_SHARDS): where a claim puts the recording in the indexes. */
  readonly ledgerIndexShards?: number;
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
  /** The ledger: every key presigned comes from it (the call item only names the recordings). */
  readonly ledgerTableName: string;
  readonly urlTtlSeconds: number;
}

export const DEFAULT_TWILIO_API_BASE_URL = 'https://api.twilio.com';
export const DEFAULT_CALL_SID_INDEX = 'byTwilioCallSid';
export const DEFAULT_PLAYBACK_TTL_SECONDS = 900;
export const MAX_PLAYBACK_TTL_SECONDS = 3600;
export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_RETRY_BASE_SECONDS = 30;
export const DEFAULT_LEASE_SECONDS = 300;

/** The account and the secret holding its tokens: every function that talks to Twilio reads both. */
function twilioSecret(r: EnvReader): TwilioSecretConfig {
  const parent = accountSid(r, ENV.twilioAccountSid);
  return { accountSid: parent, subaccountSids: subaccountSids(r, parent), secretId: r.required(ENV.twilioSecretArn) };
}

/** TWILIO_SUBACCOUNT_SIDS: comma-separated AccountSids, none of them the parent, none twice. */
export function subaccountSids(r: EnvReader, parent: string): string[] {
  const sids = (r.optional(ENV.twilioSubaccountSids) ?? '')
    .split(',')
    .map((sid) => sid.trim())
    .filter((sid) => sid !== '');
  const bad = sids.filter((sid) => !SID.AccountSid.test(sid));
  if (bad.length > 0) {
    r.problems.push(`${ENV.twilioSubaccountSids} must list AccountSids (AC followed by 32 hex characters)`);
  }
  if (sids.includes(parent)) r.problems.push(`${ENV.twilioSubaccountSids} must not list ${ENV.twilioAccountSid}`);
  if (new Set(sids).size !== sids.length) r.problems.push(`${ENV.twilioSubaccountSids} names an account twice`);
  return sids;
}

/** WEBHOOK_CONNECTION_OVERRIDES: Twilio's fragment syntax, checked as the stage option is. */
function connectionOverrides(r: EnvReader): string | undefined {
  const fragment = r.optional(ENV.webhookConnectionOverrides);
  if (fragment === undefined) return undefined;
  for (const problem of connectionOverridesProblems(fragment)) {
    r.problems.push(`${ENV.webhookConnectionOverrides} ${problem}`);
  }
  return fragment;
}

/** Where media, lists and deletes go: the configured API base, never a host from a request. */
function twilioApiBaseUrl(r: EnvReader): string {
  return r.url(ENV.twilioApiBaseUrl, DEFAULT_TWILIO_API_BASE_URL) ?? DEFAULT_TWILIO_API_BASE_URL;
}

export function loadWebhookConfig(env: Env = process.env): WebhookConfig {
  const r = new EnvReader(env);
  return r.done({
    ...twilioSecret(r),
    transferQueueUrl: r.required(ENV.transferQueueUrl),
    publicBaseUrl: r.url(ENV.publicBaseUrl),
    connectionOverrides: connectionOverrides(r),
  });
}

export function loadTransferConfig(env: Env = process.env): TransferConfig {
  const r = new EnvReader(env);
  return r.done({
    ...twilioSecret(r),
    bucketName: r.required(ENV.recordingsBucket),
    tableName: r.required(ENV.callsTable),
    ledgerTableName: r.required(ENV.ledgerTable),
    ledgerIndexShards: ledgerIndexShards(r),
    eventBusName: r.required(ENV.eventBusName),
    callSidIndexName: r.optional(ENV.callsByTwilioSidIndex) ?? DEFAULT_CALL_SID_INDEX,
    twilioApiBaseUrl: twilioApiBaseUrl(r),
    recordingFormat: r.oneOf(ENV.recordingFormat, RECORDING_FORMATS, 'mp3'),
    deleteFromTwilioAfterCopy: r.bool(ENV.deleteFromTwilioAfterCopy, false),
    transferQueueUrl: r.required(ENV.transferQueueUrl),
    deadLetterQueueUrl: r.required(ENV.deadLetterQueueUrl),
    maxAttempts: r.int(ENV.transferMaxAttempts, DEFAULT_MAX_ATTEMPTS, 1, 100),
    retryBaseSeconds: r.int(ENV.transferRetryBaseSeconds, DEFAULT_RETRY_BASE_SECONDS, 0, 3600),
    leaseSeconds: r.int(ENV.transferLeaseSeconds, DEFAULT_LEASE_SECONDS, 1, 900),
  });
}

export function loadPlaybackConfig(env: Env = process.env): PlaybackConfig {
  const r = new EnvReader(env);
  return r.done({
    bucketName: r.required(ENV.recordingsBucket),
    tableName: r.required(ENV.callsTable),
    ledgerTableName: r.required(ENV.ledgerTable),
    urlTtlSeconds: r.int(ENV.playbackUrlTtlSeconds, DEFAULT_PLAYBACK_TTL_SECONDS, 1, MAX_PLAYBACK_TTL_SECONDS),
  });
}

/** The recordings API's read side (GET /recordings): the ledger and its indexes. */
export interface RecordingsReadConfig {
  readonly ledgerTableName: string;
  readonly ledgerDayIndexName: string;
  /** Default DEFAULT_LEDGER_OPEN_STATUS_INDEX. */
  readonly ledgerOpenStatusIndexName?: string;
  /** Default DEFAULT_LEDGER_HOLD_INDEX. */
  readonly ledgerHoldIndexName?: string;
  /** The stage's `ledger.indexShards` (default DEFAULT_INDEX_SHARDS). */
  readonly ledgerIndexShards?: number;
}

export const DEFAULT_LEDGER_DAY_INDEX = DAY_SHARD_INDEX;
export const DEFAULT_LEDGER_OPEN_STATUS_INDEX = OPEN_STATUS_INDEX;
export const DEFAULT_LEDGER_HOLD_INDEX = HOLD_INDEX;

/** The stage's `ledger.indexShards`: how many partitions a day (and an open status) is spread over. */
function ledgerIndexShards(r: EnvReader): number {
  return r.int(ENV.ledgerIndexShards, DEFAULT_INDEX_SHARDS, 1, MAX_INDEX_SHARDS);
}

export function loadRecordingsReadConfig(env: Env = process.env): RecordingsReadConfig {
  const r = new EnvReader(env);
  return r.done({
    ledgerTableName: r.required(ENV.ledgerTable),
    ledgerDayIndexName: r.optional(ENV.ledgerDayIndex) ?? DEFAULT_LEDGER_DAY_INDEX,
    ledgerOpenStatusIndexName: r.optional(ENV.ledgerOpenStatusIndex) ?? DEFAULT_LEDGER_OPEN_STATUS_INDEX,
    ledgerHoldIndexName: r.optional(ENV.ledgerHoldIndex) ?? DEFAULT_LEDGER_HOLD_INDEX,
    ledgerIndexShards: ledgerIndexShards(r),
  });
}

/** DELETE /calls/{callId}/recordings/{recordingSid}: S3 versions, Twilio, ledger, call item, event. */
export interface ErasureConfig extends TwilioSecretConfig {
  readonly bucketName: string;
  readonly tableName: string;
  readonly ledgerTableName: string;
  /** The stage's `ledger.indexShards` (default DEFAULT_INDEX_SHARDS). */
  readonly ledgerIndexShards?: number;
  readonly eventBusName: string;
  readonly twilioApiBaseUrl: string;
}

export function loadErasureConfig(env: Env = process.env): ErasureConfig {
  const r = new EnvReader(env);
  return r.done({
    ...twilioSecret(r),
    bucketName: r.required(ENV.recordingsBucket),
    tableName: r.required(ENV.callsTable),
    ledgerTableName: r.required(ENV.ledgerTable),
    ledgerIndexShards: ledgerIndexShards(r),
    eventBusName: r.required(ENV.eventBusName),
    twilioApiBaseUrl: twilioApiBaseUrl(r),
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
    ...twilioSecret(r),
    twilioApiBaseUrl: twilioApiBaseUrl(r),
    ledgerTableName: r.required(ENV.ledgerTable),
    transferQueueUrl: r.required(ENV.transferQueueUrl),
    lookbackSeconds: r.int(
      ENV.reconcileLookbackSeconds,
      60 * r.int(ENV.reconcileLookbackMinutes, DEFAULT_RECONCILE_LOOKBACK_MINUTES, 1, 7 * 24 * 60),
      1,
      7 * 24 * 3600,
    ),
    settleSeconds: r.int(
      ENV.reconcileSettleSeconds,
      60 * r.int(ENV.reconcileSettleMinutes, DEFAULT_RECONCILE_SETTLE_MINUTES, 0, 24 * 60),
      0,
      24 * 3600,
    ),
  });
}

/** PUT / DELETE /recordings/{recordingSid}/hold: the ledger, S3 legal holds where Object Lock is on, events. */
export interface HoldConfig {
  readonly bucketName: string;
  readonly ledgerTableName: string;
  readonly eventBusName: string;
  /** The bucket has S3 Object Lock: a hold is set on every version of the object too. */
  readonly objectLock: boolean;
}

export function loadHoldConfig(env: Env = process.env): HoldConfig {
  const r = new EnvReader(env);
  return r.done({
    bucketName: r.required(ENV.recordingsBucket),
    ledgerTableName: r.required(ENV.ledgerTable),
    eventBusName: r.required(ENV.eventBusName),
    objectLock: r.bool(ENV.objectLockEnabled, false),
  });
}

/** The access audit trail: every function that hands out access or acts on a recording writes to it. */
export interface AuditConfig {
  readonly auditTableName: string;
}

export function loadAuditConfig(env: Env = process.env): AuditConfig {
  const r = new EnvReader(env);
  return r.done({ auditTableName: r.required(ENV.auditTable) });
}

/** The retention sweep: the erasure's environment, the ledger's day index and the stage's `retention`. */
export interface RetentionConfig extends ErasureConfig, AuditConfig {
  /** The function's IAM role (AWS), named in its audit entries; unset locally. */
  readonly auditPrincipalArn?: string;
  readonly ledgerDayIndexName: string;
  /** The stage's `ledger.indexShards`: the partitions of each day the sweep reads. */
  readonly ledgerIndexShards: number;
  readonly retentionDays: number;
  /** Sources kept for other than `retentionDays` (the stage's `retention.bySource`); empty: none. */
  readonly retentionDaysBySource: DaysBySource;
  readonly maxRecordingsPerRun: number;
  readonly maxDaysPerRun: number;
}

export const DEFAULT_RETENTION_MAX_RECORDINGS_PER_RUN = 500;
/** Days one run walks at most: a first run walks from 2008 on (one query per empty day), in a few runs. */
export const RETENTION_MAX_DAYS_PER_RUN = 2000;

export function loadRetentionConfig(env: Env = process.env): RetentionConfig {
  const erasure = loadErasureConfig(env);
  const r = new EnvReader(env);
  r.required(ENV.retentionDays);
  const principalArn = r.optional(ENV.auditPrincipalArn);
  const bySource = readDaysBySource(r) ?? {};
  return r.done({
    ...erasure,
    // Every expiry is entered in the access audit trail.
    auditTableName: r.required(ENV.auditTable),
    ...(principalArn !== undefined ? { auditPrincipalArn: principalArn } : {}),
    ledgerDayIndexName: r.optional(ENV.ledgerDayIndex) ?? DEFAULT_LEDGER_DAY_INDEX,
    ledgerIndexShards: ledgerIndexShards(r),
    retentionDays: r.int(ENV.retentionDays, 0, MIN_RETENTION_DAYS, MAX_RETENTION_DAYS),
    retentionDaysBySource: bySource,
    maxRecordingsPerRun: r.int(ENV.retentionMaxRecordingsPerRun, DEFAULT_RETENTION_MAX_RECORDINGS_PER_RUN, 1, 100_000),
    maxDaysPerRun: RETENTION_MAX_DAYS_PER_RUN,
  });
}
