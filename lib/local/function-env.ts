/**
 * Each function's environment as the stack's constructs write it on AWS, built from the local
 * configuration: the local stack reads it back through the functions' own loaders
 * (lambda/shared/config/function-config.ts), so a contract is checked the same way in both places.
 */
import { ENV, type FunctionEnv } from '../../lambda/shared/config/env-names';
import { formatDaysBySource } from '../../lambda/shared/config/retention-by-source';
import { type AccountTokenSource, staticAccountTokens } from '../../lambda/shared/twilio/accounts';
import {
  AUDIT_TABLE_NAME,
  BUCKET_NAME,
  CALL_SID_INDEX,
  LEDGER_DAY_INDEX,
  LEDGER_HOLD_INDEX,
  LEDGER_INDEX_SHARDS,
  LEDGER_OPEN_STATUS_INDEX,
  LEDGER_TABLE_NAME,
  LOOPBACK,
  type LocalConfig,
  TABLE_NAME,
} from './config';
import type { QueueUrls } from './resources';

/** Locally the tokens come from the environment, not Secrets Manager: the loaders still require a secret id. */
const LOCAL_SECRET_ID = 'local';
/** Locally events go to a file (lib/local), not a bus: the loaders still require its name. */
const LOCAL_EVENT_BUS = 'local';

export interface LocalFunctionEnvs {
  readonly webhook: FunctionEnv;
  readonly transfer: FunctionEnv;
  readonly recordingsRead: FunctionEnv;
  readonly erasure: FunctionEnv;
  readonly hold: FunctionEnv;
  readonly reconciler: FunctionEnv;
  readonly auditRead: FunctionEnv;
  /** Only when RETENTION_DAYS is set. */
  readonly retention?: FunctionEnv;
}

export function localFunctionEnvs(config: LocalConfig, queues: QueueUrls): LocalFunctionEnvs {
  const accounts: FunctionEnv = {
    [ENV.twilioAccountSid]: config.accountSid,
    ...(config.subaccounts.length > 0
      ? { [ENV.twilioSubaccountSids]: config.subaccounts.map((account) => account.accountSid).join(',') }
      : {}),
  };
  const twilio: FunctionEnv = {
    ...accounts,
    [ENV.twilioSecretArn]: LOCAL_SECRET_ID,
    [ENV.twilioApiBaseUrl]: config.twilioApiBaseUrl,
  };
  const erasure: FunctionEnv = {
    ...twilio,
    [ENV.recordingsBucket]: BUCKET_NAME,
    [ENV.callsTable]: TABLE_NAME,
    [ENV.ledgerTable]: LEDGER_TABLE_NAME,
    [ENV.ledgerIndexShards]: String(LEDGER_INDEX_SHARDS),
    [ENV.eventBusName]: LOCAL_EVENT_BUS,
  };
  const bySource = formatDaysBySource(config.retentionDaysBySource);
  return {
    webhook: {
      ...accounts,
      [ENV.twilioSecretArn]: LOCAL_SECRET_ID,
      [ENV.transferQueueUrl]: queues.queueUrl,
      // The URL Twilio is given: the configured one, else the address the API is bound to; never a request's Host.
      [ENV.publicBaseUrl]: config.publicBaseUrl ?? `http://${LOOPBACK}:${config.port}`,
      ...(config.connectionOverrides !== undefined
        ? { [ENV.webhookConnectionOverrides]: config.connectionOverrides }
        : {}),
    },
    transfer: {
      ...twilio,
      [ENV.recordingsBucket]: BUCKET_NAME,
      [ENV.callsTable]: TABLE_NAME,
      [ENV.callsByTwilioSidIndex]: CALL_SID_INDEX,
      [ENV.ledgerTable]: LEDGER_TABLE_NAME,
      [ENV.ledgerIndexShards]: String(LEDGER_INDEX_SHARDS),
      [ENV.eventBusName]: LOCAL_EVENT_BUS,
      [ENV.recordingFormat]: config.recordingFormat,
      [ENV.deleteFromTwilioAfterCopy]: String(config.deleteFromTwilioAfterCopy),
      [ENV.transferQueueUrl]: queues.queueUrl,
      [ENV.deadLetterQueueUrl]: queues.dlqUrl,
      [ENV.transferMaxAttempts]: String(config.maxAttempts),
      [ENV.transferRetryBaseSeconds]: String(config.retryBaseSeconds),
      [ENV.transferLeaseSeconds]: String(config.leaseSeconds),
    },
    recordingsRead: {
      [ENV.recordingsBucket]: BUCKET_NAME,
      [ENV.callsTable]: TABLE_NAME,
      [ENV.playbackUrlTtlSeconds]: String(config.playbackUrlTtlSeconds),
      [ENV.ledgerTable]: LEDGER_TABLE_NAME,
      [ENV.ledgerDayIndex]: LEDGER_DAY_INDEX,
      [ENV.ledgerOpenStatusIndex]: LEDGER_OPEN_STATUS_INDEX,
      [ENV.ledgerHoldIndex]: LEDGER_HOLD_INDEX,
      [ENV.ledgerIndexShards]: String(LEDGER_INDEX_SHARDS),
      [ENV.auditTable]: AUDIT_TABLE_NAME,
    },
    erasure: { ...erasure, [ENV.auditTable]: AUDIT_TABLE_NAME },
    ...(config.retentionDays !== undefined
      ? {
          retention: {
            ...erasure,
            [ENV.ledgerDayIndex]: LEDGER_DAY_INDEX,
            [ENV.retentionDays]: String(config.retentionDays),
            ...(bySource !== '' ? { [ENV.retentionDaysBySource]: bySource } : {}),
            // No IAM locally: the sweep's entries name it as `retention` of kind `local`.
            [ENV.auditTable]: AUDIT_TABLE_NAME,
          },
        }
      : {}),
    auditRead: {
      [ENV.auditTable]: AUDIT_TABLE_NAME,
    },
    hold: {
      [ENV.recordingsBucket]: BUCKET_NAME,
      [ENV.ledgerTable]: LEDGER_TABLE_NAME,
      [ENV.eventBusName]: LOCAL_EVENT_BUS,
      // The local S3 emulator has no Object Lock.
      [ENV.objectLockEnabled]: 'false',
      [ENV.auditTable]: AUDIT_TABLE_NAME,
    },
    reconciler: {
      ...twilio,
      [ENV.ledgerTable]: LEDGER_TABLE_NAME,
      [ENV.transferQueueUrl]: queues.queueUrl,
      [ENV.reconcileLookbackSeconds]: String(config.reconcileLookbackSeconds),
      [ENV.reconcileSettleSeconds]: String(config.reconcileSettleSeconds),
    },
  };
}

/** Locally the subaccounts' tokens come from TWILIO_SUBACCOUNTS, as the secret's `accounts` on AWS. */
export function localSubaccountTokens(config: LocalConfig): AccountTokenSource {
  return staticAccountTokens(
    new Map(config.subaccounts.map((account) => [account.accountSid, { primary: account.authToken }])),
  );
}
