/**
 * Every function's environment, by name: the constructs write these variables, the loaders in
 * ./config.ts read them, and the local stack builds them, so a name lives in one place only.
 */
export const ENV = {
  twilioAccountSid: 'TWILIO_ACCOUNT_SID',
  /** The subaccounts the stage accepts besides TWILIO_ACCOUNT_SID, comma-separated (their tokens are in the secret). */
  twilioSubaccountSids: 'TWILIO_SUBACCOUNT_SIDS',
  /** The connection-override fragment Twilio is given with the callback URL (without `#`), e.g. `rc=3&rp=all`. */
  webhookConnectionOverrides: 'WEBHOOK_CONNECTION_OVERRIDES',
  twilioSecretArn: 'TWILIO_SECRET_ARN',
  twilioApiBaseUrl: 'TWILIO_API_BASE_URL',
  publicBaseUrl: 'PUBLIC_BASE_URL',
  transferQueueUrl: 'TRANSFER_QUEUE_URL',
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  recordingsBucket: 'RECORDINGS_BUCKET',
  callsTable: 'CALLS_TABLE',
  callsByTwilioSidIndex: 'CALLS_BY_TWILIO_SID_INDEX',
  ledgerTable: 'LEDGER_TABLE',
  ledgerDayIndex: 'LEDGER_DAY_INDEX',
  ledgerOpenStatusIndex: 'LEDGER_OPEN_STATUS_INDEX',
  ledgerHoldIndex: 'LEDGER_HOLD_INDEX',
  /** Partitions per day (and per open status) of the ledger's indexes: every writer and the reader agree. */
  ledgerIndexShards: 'LEDGER_INDEX_SHARDS',
  eventBusName: 'EVENT_BUS_NAME',
  /** The access audit trail (`audit` table): entries are only ever put, conditionally. */
  auditTable: 'AUDIT_TABLE',
  /**
   * The IAM role a function runs as, named in the audit entries it writes on its own account (the
   * retention sweep, which no caller asks); unset locally, where there is no IAM.
   */
  auditPrincipalArn: 'AUDIT_PRINCIPAL_ARN',
  recordingFormat: 'RECORDING_FORMAT',
  deleteFromTwilioAfterCopy: 'DELETE_FROM_TWILIO_AFTER_COPY',
  transferMaxAttempts: 'TRANSFER_MAX_ATTEMPTS',
  transferRetryBaseSeconds: 'TRANSFER_RETRY_BASE_SECONDS',
  transferLeaseSeconds: 'TRANSFER_LEASE_SECONDS',
  playbackUrlTtlSeconds: 'PLAYBACK_URL_TTL_SECONDS',
  reconcileLookbackMinutes: 'RECONCILE_LOOKBACK_MINUTES',
  reconcileSettleMinutes: 'RECONCILE_SETTLE_MINUTES',
  /** Finer than the minutes above, which they override: the local stack's schedule is in seconds. */
  reconcileLookbackSeconds: 'RECONCILE_LOOKBACK_SECONDS',
  reconcileSettleSeconds: 'RECONCILE_SETTLE_SECONDS',
  /** The retention sweep: recordings that started more than this many days ago are erased as expired. */
  retentionDays: 'RETENTION_DAYS',
  /** Periods of the sources kept otherwise: `Conference=365,RecordVerb=30` (lambda/shared/config/retention-by-source.ts). */
  retentionDaysBySource: 'RETENTION_DAYS_BY_SOURCE',
  retentionMaxRecordingsPerRun: 'RETENTION_MAX_RECORDINGS_PER_RUN',
  /** `true` where the recordings bucket has S3 Object Lock: holds are set on every version too. */
  objectLockEnabled: 'OBJECT_LOCK_ENABLED',
  consoleAuth: 'CONSOLE_AUTH',
  consoleIssuer: 'CONSOLE_ISSUER',
  consoleClientId: 'CONSOLE_CLIENT_ID',
  consoleScopes: 'CONSOLE_SCOPES',
  consoleMediaOrigin: 'CONSOLE_MEDIA_ORIGIN',
  consoleConnectOrigins: 'CONSOLE_CONNECT_ORIGINS',
} as const;

export type EnvName = (typeof ENV)[keyof typeof ENV];

/** A function's environment as a construct or the local stack writes it. */
export type FunctionEnv = Partial<Record<EnvName, string>>;

/**
 * The reconciler keeps its checkpoint in the ledger table under this key; its IAM policy is
 * limited to it (the construct) and the handler reads and writes it (lambda/reconciler).
 */
export const RECONCILER_CHECKPOINT_KEY = '~checkpoint:reconciler';

/**
 * The checkpoint of one account's listing: the parent keeps RECONCILER_CHECKPOINT_KEY (so that a
 * stage that adds subaccounts keeps its checkpoint), each subaccount a key of its own.
 */
export function reconcilerCheckpointKey(accountSid: string, parentSid: string): string {
  return accountSid === parentSid ? RECONCILER_CHECKPOINT_KEY : `${RECONCILER_CHECKPOINT_KEY}:${accountSid}`;
}

/** The retention sweep keeps its checkpoint (next day, pending recordings, last run) in the ledger table under this key. */
export const RETENTION_CHECKPOINT_KEY = '~checkpoint:retention';

/**
 * Days that gained a recording after the sweep may have passed them (lambda/shared/ledger/late-days.ts):
 * an item of their own, so that the transfer's note never meets a checkpoint item near its 400 KB.
 */
export const RETENTION_LATE_DAYS_KEY = '~late-days:retention';
