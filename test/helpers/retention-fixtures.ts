/**
 * What the retention sweep's emulator tests share: a stored recording as the transfer leaves it
 * (object, ledger, call item), and the sweep function's configuration.
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { RetentionRuntime } from '../../lambda/retention/handler';
import { CallsRepository } from '../../lambda/shared/calls/calls';
import { LateDays } from '../../lambda/shared/ledger/late-days';
import { RecordingLedger } from '../../lambda/shared/ledger/ledger';
import { createObservability } from '../../lambda/shared/runtime/observability';
import { generateStorageKey } from '../../lambda/shared/storage/recording-store';
import type { TwilioApi } from '../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../lambda/shared/twilio/signature';
import { AUDIT_TABLE_NAME } from '../../lib/local/config';
import { CALL_SID_INDEX, CALLS_TABLE, type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET } from './emulators';
import { newCallSid, newRecordingSid, TEST_ACCOUNT_SID } from './twilio-fixtures';

export interface StoredOptions {
  readonly recordingSid?: string;
  /** Twilio's RecordingSource; none: a recording Twilio named none for. */
  readonly source?: string;
  /** The stage's `ledger.indexShards` (default 8). */
  readonly shards?: number;
  /** Noted as the transfer notes a recording stored a day or more after it started. */
  readonly late?: boolean;
}

/** A recording stored on `startedAt`'s day: its object in S3, the ledger `stored`, the call item's entry. */
export async function givenStored(aws: Emulators, startedAt: string, options: StoredOptions = {}) {
  const recordingSid = options.recordingSid ?? newRecordingSid();
  const callSid = newCallSid();
  const callId = `call-${callSid.slice(2, 14)}`;
  const key = generateStorageKey(callId, recordingSid, startedAt, 'mp3');
  await aws.putItem({ callId, twilioCallSid: callSid, recordings: {} });
  await aws.s3.send(new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: 'audio' }));
  const ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE, { indexShards: options.shards ?? 8 });
  const claimId = randomUUID();
  const facts = {
    recordingSid,
    callId,
    callSid,
    accountSid: TEST_ACCOUNT_SID,
    startedAt,
    source: options.source,
    origin: 'callback' as const,
  };
  await ledger.claim(facts, claimId, 300, new Date(startedAt));
  if (options.late) await new LateDays(aws.ddb, LEDGER_TABLE).note(startedAt.slice(0, 10));
  const copy = { bucket: RECORDINGS_BUCKET, key, contentType: 'audio/mpeg', sizeBytes: 5, sha256: 'a'.repeat(64) };
  await ledger.markStored(recordingSid, claimId, copy, new Date(startedAt));
  await new CallsRepository(aws.ddb, CALLS_TABLE, CALL_SID_INDEX).markStored(
    callId,
    recordingSid,
    { status: 'stored', ...copy, startedAt, storedAt: startedAt },
    new Date(startedAt),
  );
  return { callId, recordingSid, key };
}

/** The sweep function's configuration on the emulators: 30 days, 100 erasures a run. */
export function retentionTestConfig(overrides: Partial<RetentionRuntime['config']> = {}): RetentionRuntime['config'] {
  return {
    accountSid: TEST_ACCOUNT_SID,
    bucketName: RECORDINGS_BUCKET,
    tableName: CALLS_TABLE,
    ledgerTableName: LEDGER_TABLE,
    ledgerDayIndexName: 'byDayShard',
    ledgerIndexShards: 8,
    eventBusName: 'test',
    twilioApiBaseUrl: 'http://127.0.0.1:9',
    retentionDays: 30,
    retentionDaysBySource: {},
    maxRecordingsPerRun: 100,
    maxDaysPerRun: 400,
    auditTableName: AUDIT_TABLE_NAME,
    ...overrides,
  };
}

/**
 * The sweep function's runtime on the emulators at `now`: Twilio accepts every delete, events go
 * nowhere, a first run starts at `earliestDay`. `overrides` replace any part of it.
 */
export function retentionRuntime(
  aws: Emulators,
  now: Date,
  earliestDay: string,
  overrides: Partial<RetentionRuntime> = {},
): RetentionRuntime {
  return {
    config: retentionTestConfig(),
    tokens: staticTokens('unused'),
    s3: aws.s3,
    ddb: aws.ddb,
    twilio: { async deleteRecording() {} } as unknown as TwilioApi,
    events: { publish: async () => undefined },
    obs: createObservability('retention-test'),
    now: () => now,
    earliestDay,
    ...overrides,
  };
}
