/**
 * The retention sweep through the erasure path, against dynalite and s3rver: an expired recording
 * is gone from S3 and Twilio, the ledger says `expired` with `expiredAt`, the call item says so and
 * `Recording Expired` goes out; a held one survives every run and expires once released. Each
 * expiry (and each recording passed by) is in the access audit trail, under the actor `retention`.
 */
import '../../helpers/setup-env';
import type { Context } from 'aws-lambda';
import { RetentionCheckpointStore } from '../../../lambda/retention/checkpoint';
import { createRetentionHandler, RetentionRunError, type RetentionRuntime } from '../../../lambda/retention/handler';
import { type AuditEntry, auditView } from '../../../lambda/shared/audit/audit-record';
import { AuditReader, AuditWriter } from '../../../lambda/shared/audit/audit-trail';
import { RETENTION_CHECKPOINT_KEY } from '../../../lambda/shared/config/env-names';
import type { VaultEvent } from '../../../lambda/shared/ledger/events';
import { openStatusKey, shardOf } from '../../../lambda/shared/ledger/index-shards';
import { LedgerHold } from '../../../lambda/shared/ledger/ledger-hold';
import { type TwilioApi, TwilioApiError } from '../../../lambda/shared/twilio/rest-api';
import { AUDIT_TABLE_NAME } from '../../../lib/local/config';
import { lambdaContext } from '../../../lib/local/gateway';
import { captureObs } from '../../helpers/capture-obs';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';
import {
  retentionRuntime,
  retentionTestConfig,
  givenStored as storedRecording,
} from '../../helpers/retention-fixtures';
import { newRecordingSid } from '../../helpers/twilio-fixtures';

const NOW = new Date('2024-09-01T12:00:00.000Z');

let aws: Emulators;
const published: VaultEvent[] = [];
const twilioDeletes: string[] = [];

const twilio = {
  async deleteRecording(recordingSid: string) {
    twilioDeletes.push(recordingSid);
  },
} as unknown as TwilioApi;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

/** A recording stored on `startedAt`'s day, by a stage with `shards` index shards (default 8). */
const givenStored = (startedAt: string, recordingSid?: string, shards?: number) =>
  storedRecording(aws, startedAt, { ...(recordingSid ? { recordingSid } : {}), ...(shards ? { shards } : {}) });

function sweep(
  now = NOW,
  extra: Partial<RetentionRuntime> & { principalArn?: string; context?: Context; indexShards?: number } = {},
) {
  const { principalArn, context, indexShards = 8, ...runtime } = extra;
  return createRetentionHandler(
    retentionRuntime(aws, now, '2024-07-01', {
      config: retentionTestConfig({
        ledgerIndexShards: indexShards,
        ...(principalArn ? { auditPrincipalArn: principalArn } : {}),
      }),
      twilio,
      events: { publish: async (event) => void published.push(event) },
      ...runtime,
    }),
  )(undefined, context);
}

async function auditTrail(recordingSid: string): Promise<AuditEntry[]> {
  return new AuditReader(aws.ddb, AUDIT_TABLE_NAME).allForRecording(recordingSid);
}

test('an expired recording is gone everywhere and the ledger says so; a younger one stays', async () => {
  const old = await givenStored('2024-07-20T10:00:00.000Z');
  const young = await givenStored('2024-08-20T10:00:00.000Z');

  const report = await sweep();

  expect(report.expired).toBeGreaterThanOrEqual(1);
  expect(await aws.getObject(old.key)).toBeUndefined();
  expect(twilioDeletes).toContain(old.recordingSid);
  expect(await aws.getLedger(old.recordingSid)).toMatchObject({ status: 'expired', expiredAt: NOW.toISOString() });
  const recordings = (await aws.getItem(old.callId))?.recordings as Record<string, { status: string }> | undefined;
  expect(recordings?.[old.recordingSid]?.status).toBe('erased');
  expect(published).toContainEqual(
    expect.objectContaining({
      detailType: 'Recording Expired',
      detail: expect.objectContaining({ recordingSid: old.recordingSid, by: 'retention', at: NOW.toISOString() }),
    }),
  );
  expect(await aws.getObject(young.key)).toBeDefined();
  expect((await aws.getLedger(young.recordingSid))?.status).toBe('stored');

  // Again: nothing expires twice, nothing is announced twice.
  const events = published.length;
  const again = await sweep();
  expect(again.expired).toBe(0);
  expect(published).toHaveLength(events);
  // One entry, written after the act, under the sweep's own name; none for the younger one.
  expect((await auditTrail(old.recordingSid)).map(auditView)).toEqual([
    expect.objectContaining({
      at: NOW.toISOString(),
      action: 'recording.expire',
      outcome: 'done',
      actor: 'retention',
      actorKind: 'local',
      details: expect.objectContaining({ reason: 'expired', expiredAt: NOW.toISOString(), retentionDays: 30 }),
    }),
  ]);
  expect(await auditTrail(young.recordingSid)).toEqual([]);
});

test('a held recording survives the sweep, and expires on the first run after its release', async () => {
  // On the day the first test's runs stopped at (the cutoff's), before the cutoff.
  const held = await givenStored('2024-08-02T09:00:00.000Z');
  const holds = new LedgerHold(aws.ddb, LEDGER_TABLE);
  await holds.placeHold(held.recordingSid, { by: 'legal', at: NOW.toISOString(), reason: 'Case 1' }, NOW);

  const first = await sweep();
  expect(first.held).toBe(1);
  expect(await aws.getObject(held.key)).toBeDefined();
  expect((await aws.getLedger(held.recordingSid))?.status).toBe('stored');
  // Passed by: entered once, not at every run that finds it still held; counted once per run.
  const again = await sweep(new Date(NOW.getTime() + 60_000));
  expect(again).toMatchObject({ held: 1, examined: 1 });
  expect((await auditTrail(held.recordingSid)).map(auditView)).toEqual([
    expect.objectContaining({
      action: 'recording.expire',
      outcome: 'refused',
      details: expect.objectContaining({ reason: 'held' }),
    }),
  ]);

  await holds.releaseHold(held.recordingSid, 'legal', NOW);
  const later = new Date(NOW.getTime() + 60 * 60 * 1000);
  const second = await sweep(later);

  expect(second).toMatchObject({ expired: 1, examined: 1, held: 0 });
  expect(await aws.getObject(held.key)).toBeUndefined();
  expect(await aws.getLedger(held.recordingSid)).toMatchObject({ status: 'expired' });
  expect((await aws.getLedger(held.recordingSid))?.holdState).toBeUndefined();
  expect((await auditTrail(held.recordingSid)).map((e) => e.outcome)).toEqual(['refused', 'done']);
});

test('an expiry whose audit entry cannot be written fails the run; the next run writes it once, and erases nothing again', async () => {
  const later = new Date('2024-09-05T12:00:00.000Z');
  const old = await givenStored('2024-08-03T09:00:00.000Z');
  // A failure the emulator cannot produce: the audit table refuses every put (throttled, key disabled, …).
  const failing = new AuditWriter(
    {
      send: async () => {
        throw Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
          name: 'ProvisionedThroughputExceededException',
        });
      },
    },
    AUDIT_TABLE_NAME,
  );

  const captured = captureObs();
  const failed = await sweep(later, { audit: failing, obs: captured.obs }).catch((error: unknown) => error);

  expect(failed).toBeInstanceOf(RetentionRunError);
  // Counted for the AuditWriteFailures alarm, and logged with the RecordingSid it is owed for.
  expect(captured.sum('AuditWriteFailed')).toBe(1);
  expect(captured.logs).toContainEqual(
    expect.objectContaining({ level: 'error', extra: expect.objectContaining({ recordingSid: old.recordingSid }) }),
  );
  expect((failed as RetentionRunError).report).toMatchObject({ failed: 1, auditFailed: 1 });
  expect(await aws.getLedger(old.recordingSid)).toMatchObject({ status: 'expired' });
  expect(await auditTrail(old.recordingSid)).toEqual([]);

  const deletes = twilioDeletes.length;
  const healed = await sweep(new Date(later.getTime() + 3_600_000));
  const healedAgain = await sweep(new Date(later.getTime() + 7_200_000));

  expect(healed).toMatchObject({ failed: 0, auditFailed: 0 });
  expect(healedAgain).toMatchObject({ failed: 0 });
  expect(twilioDeletes).toHaveLength(deletes);
  const entries = (await auditTrail(old.recordingSid)).map(auditView);
  expect(entries).toEqual([
    expect.objectContaining({
      // When it expired, not when the entry finally went in.
      at: later.toISOString(),
      action: 'recording.expire',
      outcome: 'done',
      actor: 'retention',
      details: expect.objectContaining({ late: true }),
    }),
  ]);
});

test('an expiry cut short after the ledger said expired is entered at once, and the next run sends its event', async () => {
  const later = new Date('2024-09-07T12:00:00.000Z');
  // After the day the earlier runs stopped at (their cutoff's).
  const old = await givenStored('2024-08-07T09:00:00.000Z');
  const down = { publish: async () => Promise.reject(new Error('EventBridge unavailable')) };

  const failed = await sweep(later, { events: down }).catch((error: unknown) => error);

  expect(failed).toBeInstanceOf(RetentionRunError);
  expect(await aws.getLedger(old.recordingSid)).toMatchObject({ status: 'expired' });
  expect(await aws.getObject(old.key)).toBeUndefined();
  expect((await auditTrail(old.recordingSid)).map(auditView)).toEqual([
    expect.objectContaining({
      action: 'recording.expire',
      outcome: 'done',
      actor: 'retention',
      at: later.toISOString(),
    }),
  ]);

  // The bus is back: the next run finishes what the erasure path left (the event), and enters nothing twice.
  const healed = await sweep(new Date(later.getTime() + 3_600_000));

  expect(healed).toMatchObject({ failed: 0 });
  expect(published).toContainEqual(
    expect.objectContaining({
      detailType: 'Recording Expired',
      detail: expect.objectContaining({ recordingSid: old.recordingSid }),
    }),
  );
  expect(await aws.getLedger(old.recordingSid)).toMatchObject({ erasedEventAt: expect.any(String) });
  expect(await auditTrail(old.recordingSid)).toHaveLength(1);
});

test('on AWS the entry names the IAM role the sweep runs as', async () => {
  const later = new Date('2024-09-10T12:00:00.000Z');
  const old = await givenStored('2024-08-09T09:00:00.000Z');
  const role = 'arn:aws:iam::123456789012:role/vault-dev-RetentionRole';

  await sweep(later, { principalArn: role });

  expect((await auditTrail(old.recordingSid)).map(auditView)).toEqual([
    expect.objectContaining({
      actor: 'retention',
      actorKind: 'iam',
      details: expect.objectContaining({ principalArn: role }),
    }),
  ]);
});

test('a run stopped while it erases a recording finishes that one, saves its checkpoint, and the next run carries on from there', async () => {
  // Cutoff 08-15: the first test's younger recording (08-20) is not due yet.
  const later = new Date('2024-09-14T12:00:00.000Z');
  // After the day the earlier runs stopped at (their cutoff's): two on one day, one on a later day.
  const sameDay = [await givenStored('2024-08-12T09:00:00.000Z'), await givenStored('2024-08-12T10:00:00.000Z')];
  const laterDay = await givenStored('2024-08-14T09:00:00.000Z');
  const stopping = new AbortController();
  const deleted: string[] = [];
  // The stop arrives in the middle of an erasure (as Ctrl-C of `npm start` can).
  const stopsMidErasure = {
    async deleteRecording(recordingSid: string) {
      deleted.push(recordingSid);
      stopping.abort(new Error('the local stack is stopping'));
    },
  } as unknown as TwilioApi;

  const stopped = await sweep(later, { twilio: stopsMidErasure, signal: stopping.signal });

  expect(stopped).toMatchObject({ expired: 1, failed: 0, stopped: true, caughtUp: false, nextDay: '2024-08-12' });
  expect(deleted).toHaveLength(1);
  const erased = sameDay.find((r) => r.recordingSid === deleted[0]);
  const other = sameDay.find((r) => r.recordingSid !== deleted[0]);
  // The erasure under way was not cut: gone from S3, the ledger and the call say so, and it is audited.
  expect(await aws.getLedger(String(erased?.recordingSid))).toMatchObject({
    status: 'expired',
    erasedEventAt: expect.any(String),
  });
  expect(await aws.getObject(String(erased?.key))).toBeUndefined();
  const recordings = (await aws.getItem(String(erased?.callId)))?.recordings as Record<string, { status: string }>;
  expect(recordings[String(erased?.recordingSid)]?.status).toBe('erased');
  expect((await auditTrail(String(erased?.recordingSid))).map((e) => e.outcome)).toEqual(['done']);
  // Nothing after it was started; the checkpoint stays on the unfinished day.
  expect((await aws.getLedger(String(other?.recordingSid)))?.status).toBe('stored');
  expect((await aws.getLedger(laterDay.recordingSid))?.status).toBe('stored');
  expect(await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).read()).toEqual({
    nextDay: '2024-08-12',
    pending: [],
    settledAt: later.toISOString(),
  });

  const next = await sweep(new Date(later.getTime() + 60_000));

  expect(next).toMatchObject({ fromDay: '2024-08-12', expired: 2, failed: 0, caughtUp: true });
  expect(next.stopped).toBeUndefined();
  expect((await aws.getLedger(String(other?.recordingSid)))?.status).toBe('expired');
  expect((await aws.getLedger(laterDay.recordingSid))?.status).toBe('expired');
  expect(await auditTrail(String(erased?.recordingSid))).toHaveLength(1);
});

test('a run stops before its Lambda timeout (less time left than its safety margin), with its checkpoint saved', async () => {
  const later = new Date('2024-09-18T12:00:00.000Z');
  const old = await givenStored('2024-08-17T09:00:00.000Z');
  const before = await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).read();

  const cut = await sweep(later, {
    safetyMarginMs: 30_000,
    context: lambdaContext('recording-retention', 'run-1', 10_000, 'us-east-1'),
  });

  expect(cut).toMatchObject({ expired: 0, stopped: true, caughtUp: false });
  expect((await aws.getLedger(old.recordingSid))?.status).toBe('stored');
  expect(await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).read()).toMatchObject({
    nextDay: before?.nextDay,
    pending: before?.pending,
  });

  const full = await sweep(later, {
    safetyMarginMs: 30_000,
    context: lambdaContext('recording-retention', 'run-2', 5 * 60_000, 'us-east-1'),
  });

  expect(full).toMatchObject({ expired: 1, caughtUp: true });
  expect(full.stopped).toBeUndefined();
  expect((await aws.getLedger(old.recordingSid))?.status).toBe('expired');
});

test("on a stage with other than 8 index shards, an expiry cut short is indexed as erasing in the stage's own shards, as a DELETE cut short is", async () => {
  // The earlier tests' days swept first (the first test's younger recording is due by now): with
  // Twilio down, the run must meet only this recording, whichever shards the others fell in.
  await sweep(new Date('2024-09-21T12:00:00.000Z')).catch(() => undefined);
  const later = new Date('2024-09-22T12:00:00.000Z');
  const shards = 3;
  // A recording whose shard differs between the stage's 3 and the default 8.
  let recordingSid = newRecordingSid();
  while (shardOf(recordingSid, 8) < shards) recordingSid = newRecordingSid();
  const old = await givenStored('2024-08-22T09:00:00.000Z', recordingSid, shards);
  const twilioDown = {
    async deleteRecording() {
      throw new TwilioApiError('Twilio answered 503', 503, true, 'twilio-5xx');
    },
  } as unknown as TwilioApi;

  const failed = await sweep(later, { indexShards: shards, twilio: twilioDown }).catch((error: unknown) => error);

  expect(failed).toBeInstanceOf(RetentionRunError);
  expect(await aws.getLedger(old.recordingSid)).toMatchObject({
    status: 'erasing',
    openStatus: openStatusKey('erasing', shardOf(old.recordingSid, shards)),
  });
});

test('an expiry cut short whose run could not save its checkpoint is finished, announced and entered by the next run', async () => {
  // The earlier tests' days swept first: only this recording is left to the runs below.
  await sweep(new Date('2024-09-25T12:00:00.000Z')).catch(() => undefined);
  const later = new Date('2024-09-25T14:00:00.000Z');
  const old = await givenStored('2024-08-26T13:00:00.000Z');
  const down = { publish: async () => Promise.reject(new Error('EventBridge unavailable')) };
  const auditDown = new AuditWriter(
    {
      send: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    },
    AUDIT_TABLE_NAME,
  );
  // The ledger and the call item as usual; every save of the checkpoint after the one that marks
  // the run started fails (or the run dies first).
  let saves = 0;
  const noCheckpoint = {
    send: (command: { input?: { Key?: { recordingSid?: string }; UpdateExpression?: string } }) => {
      const input = command.input;
      if (input?.Key?.recordingSid === RETENTION_CHECKPOINT_KEY && input.UpdateExpression?.includes('pending')) {
        if (++saves > 1) return Promise.reject(new Error('ProvisionedThroughputExceededException'));
      }
      return aws.ddb.send(command as Parameters<typeof aws.ddb.send>[0]);
    },
  } as unknown as typeof aws.ddb;

  const lost = await sweep(later, { events: down, audit: auditDown, ddb: noCheckpoint }).catch((e: unknown) => e);

  expect(lost).toBeInstanceOf(Error);
  // Gone, the ledger says expired, but no event, no audit entry, and no checkpoint remembers it.
  expect(await aws.getLedger(old.recordingSid)).toMatchObject({ status: 'expired', expiredAt: later.toISOString() });
  expect((await aws.getLedger(old.recordingSid))?.erasedEventAt).toBeUndefined();
  expect(await auditTrail(old.recordingSid)).toEqual([]);
  const pending = (await new RetentionCheckpointStore(aws.ddb, LEDGER_TABLE).read())?.pending ?? [];
  expect(pending.map((p) => p.recordingSid)).not.toContain(old.recordingSid);

  const healed = await sweep(new Date(later.getTime() + 3_600_000));

  expect(healed).toMatchObject({ failed: 0, finished: 1 });
  expect(published).toContainEqual(
    expect.objectContaining({
      detailType: 'Recording Expired',
      detail: expect.objectContaining({ recordingSid: old.recordingSid, at: later.toISOString() }),
    }),
  );
  expect(await aws.getLedger(old.recordingSid)).toMatchObject({ erasedEventAt: expect.any(String) });
  expect((await auditTrail(old.recordingSid)).map(auditView)).toEqual([
    expect.objectContaining({ action: 'recording.expire', outcome: 'done', at: later.toISOString() }),
  ]);

  // Settled now: a later run walking the same day neither reads it again nor enters it twice.
  const events = published.length;
  await sweep(new Date(later.getTime() + 7_200_000));
  expect(published).toHaveLength(events);
  expect(await auditTrail(old.recordingSid)).toHaveLength(1);
});
