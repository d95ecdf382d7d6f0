/**
 * A recording stored the way the transfer stores it, through the product's own writes: the call
 * item, the object in the recordings bucket, the ledger claim → stored, the call's projection.
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CallsRepository } from '../../lambda/shared/calls/calls';
import { RecordingLedger } from '../../lambda/shared/ledger/ledger';
import { generateStorageKey } from '../../lambda/shared/storage/recording-store';
import { CALL_SID_INDEX, CALLS_TABLE, type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET } from './emulators';
import { newCallSid, newRecordingSid, TEST_ACCOUNT_SID } from './twilio-fixtures';

export interface StoredRecording {
  readonly callId: string;
  readonly callSid: string;
  readonly recordingSid: string;
  readonly key: string;
}

/** A fresh call with one stored recording (started 2024-07-22T17:00Z, 5 bytes of mp3), stored at `now`. */
export async function givenStoredRecording(aws: Emulators, now: Date): Promise<StoredRecording> {
  const callSid = newCallSid();
  const callId = `call-${callSid.slice(2, 14)}`;
  const recordingSid = newRecordingSid();
  const startedAt = '2024-07-22T17:00:00.000Z';
  const key = generateStorageKey(callId, recordingSid, startedAt, 'mp3');
  await aws.putItem({ callId, twilioCallSid: callSid, recordings: {} });
  await aws.s3.send(new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: 'audio' }));
  const ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE);
  const claimId = randomUUID();
  const facts = { recordingSid, callId, callSid, accountSid: TEST_ACCOUNT_SID, startedAt, origin: 'callback' as const };
  expect((await ledger.claim(facts, claimId, 300, now)).result).toBe('claimed');
  const copy = { bucket: RECORDINGS_BUCKET, key, contentType: 'audio/mpeg', sizeBytes: 5, sha256: 'a'.repeat(64) };
  expect((await ledger.markStored(recordingSid, claimId, copy, now))?.status).toBe('stored');
  await new CallsRepository(aws.ddb, CALLS_TABLE, CALL_SID_INDEX).markStored(
    callId,
    recordingSid,
    { status: 'stored', ...copy, startedAt, storedAt: now.toISOString() },
    now,
  );
  return { callId, callSid, recordingSid, key };
}
