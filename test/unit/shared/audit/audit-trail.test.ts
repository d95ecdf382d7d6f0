/**
 * The access audit trail against dynalite: entries are appended with a conditional put, never
 * overwritten; a recording's entries read back oldest first, a page at a time; an actor's by day.
 */
import '../../../helpers/setup-env';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { auditItem, auditView } from '../../../../lambda/shared/audit/audit-record';
import {
  AuditReader,
  AuditWriter,
  fixedAuditId,
  InvalidAuditCursorError,
} from '../../../../lambda/shared/audit/audit-trail';
import { AUDIT_TABLE_NAME } from '../../../../lib/local/config';
import { type Emulators, startEmulators } from '../../../helpers/emulators';
import { newRecordingSid } from '../../../helpers/twilio-fixtures';

let aws: Emulators;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

const actor = { actor: 'arn:aws:iam::123456789012:user/auditor', kind: 'iam' as const, sourceIp: '203.0.113.7' };

describe('AuditWriter', () => {
  it('appends two entries made in the same millisecond under two keys', async () => {
    const recordingSid = newRecordingSid();
    const at = new Date('2024-07-22T17:00:00.000Z');
    const writer = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME, () => at);

    const first = await writer.record({ ...actor, recordingSid, action: 'playback.url', outcome: 'issued' });
    const second = await writer.record({ ...actor, recordingSid, action: 'playback.url', outcome: 'issued' });

    expect(first.atId).not.toBe(second.atId);
    expect(first.atId.startsWith('2024-07-22T17:00:00.000Z#')).toBe(true);
    const entries = await new AuditReader(aws.ddb, AUDIT_TABLE_NAME).allForRecording(recordingSid);
    expect(entries.map((e) => e.atId).sort()).toEqual([first.atId, second.atId].sort());
  });

  it('never overwrites an entry: a put on an existing key is refused', async () => {
    const recordingSid = newRecordingSid();
    const item = auditItem({ ...actor, recordingSid, action: 'recording.erase', outcome: 'done' }, new Date());
    await aws.ddb.send(
      new PutCommand({
        TableName: AUDIT_TABLE_NAME,
        Item: item,
        ConditionExpression: 'attribute_not_exists(recordingSid)',
      }),
    );

    await expect(
      aws.ddb.send(
        new PutCommand({
          TableName: AUDIT_TABLE_NAME,
          Item: { ...item, outcome: 'rewritten' },
          ConditionExpression: 'attribute_not_exists(recordingSid)',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    const [stored] = await new AuditReader(aws.ddb, AUDIT_TABLE_NAME).allForRecording(recordingSid);
    expect(stored?.outcome).toBe('done');
  });

  it('writes an entry with a fixed key once: writing it again after a lost answer adds nothing', async () => {
    const recordingSid = newRecordingSid();
    const writer = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME);
    const key = { at: new Date('2024-07-22T18:00:00.000Z'), id: fixedAuditId('recording.expire', recordingSid) };
    const entry = { actor: 'retention', kind: 'local' as const, recordingSid, action: 'recording.expire' as const };

    await writer.record({ ...entry, outcome: 'done' }, key);
    await writer.record({ ...entry, outcome: 'done', details: { late: true } }, key);

    const entries = await new AuditReader(aws.ddb, AUDIT_TABLE_NAME).allForRecording(recordingSid);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ at: '2024-07-22T18:00:00.000Z', outcome: 'done' });
    expect(entries[0]?.details).toBeUndefined();
  });

  it('puts listing pages under a pseudo partition of their day, and strips control characters', async () => {
    const at = new Date('2024-07-23T08:00:00.000Z');
    const writer = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME, () => at);

    const entry = await writer.record({
      ...actor,
      userAgent: 'curl/8\u001b[31m',
      recordingSid: '~listing',
      action: 'recordings.list',
      outcome: 'listed',
      details: { count: 3 },
    });

    expect(entry.recordingSid).toBe('~listing#2024-07-23');
    expect(entry.userAgent).toBe('curl/8?[31m');
    expect(entry.actorDay).toBe(`${actor.actor}#2024-07-23`);
  });
});

describe('AuditReader', () => {
  it("pages a recording's entries oldest first with an opaque cursor", async () => {
    const recordingSid = newRecordingSid();
    let clock = Date.parse('2024-07-22T09:00:00.000Z');
    const writer = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME, () => {
      clock += 1000;
      return new Date(clock);
    });
    for (let i = 0; i < 5; i++)
      await writer.record({ ...actor, recordingSid, action: 'playback.url', outcome: `n${i}` });
    const reader = new AuditReader(aws.ddb, AUDIT_TABLE_NAME);

    const first = await reader.forRecording(recordingSid, { limit: 3 });
    const second = await reader.forRecording(recordingSid, { limit: 3, cursor: first.nextCursor ?? '' });

    expect(first.entries.map((e) => e.outcome)).toEqual(['n0', 'n1', 'n2']);
    expect(second.entries.map((e) => e.outcome)).toEqual(['n3', 'n4']);
    expect(second.nextCursor).toBeNull();
  });

  it("refuses another recording's cursor and any altered cursor", async () => {
    const [a, b] = [newRecordingSid(), newRecordingSid()];
    const writer = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME);
    for (const recordingSid of [a, a, b, b])
      await writer.record({ ...actor, recordingSid, action: 'playback.url', outcome: 'issued' });
    const reader = new AuditReader(aws.ddb, AUDIT_TABLE_NAME);
    const cursor = (await reader.forRecording(a, { limit: 1 })).nextCursor ?? '';
    const last = cursor.at(-1) === 'A' ? 'B' : 'A';

    await expect(reader.forRecording(b, { limit: 1, cursor })).rejects.toThrow(/another recording/);
    for (const altered of [`${cursor}x`, `x${cursor}`, `${cursor.slice(0, -1)}${last}`]) {
      await expect(reader.forRecording(a, { limit: 1, cursor: altered })).rejects.toThrow(InvalidAuditCursorError);
    }
    expect((await reader.forRecording(a, { limit: 1, cursor })).entries).toHaveLength(1);
  });

  it('refuses a cursor it did not issue', async () => {
    const reader = new AuditReader(aws.ddb, AUDIT_TABLE_NAME);
    await expect(reader.forRecording(newRecordingSid(), { limit: 1, cursor: 'bm90LWEtY3Vyc29y' })).rejects.toThrow(
      InvalidAuditCursorError,
    );
  });

  it("finds an actor's entries of one day across recordings", async () => {
    const who = { actor: `user-${newRecordingSid()}`, kind: 'jwt' as const, clientId: 'console' };
    const writer = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME, () => new Date('2024-07-24T10:00:00.000Z'));
    const sids = [newRecordingSid(), newRecordingSid()];
    for (const recordingSid of sids)
      await writer.record({ ...who, recordingSid, action: 'playback.url', outcome: 'issued' });

    const entries = await new AuditReader(aws.ddb, AUDIT_TABLE_NAME).forActorDay(who.actor, '2024-07-24');

    expect(entries.map((e) => e.recordingSid).sort()).toEqual([...sids].sort());
    expect(auditView(entries[0] ?? {})).toMatchObject({ actor: who.actor, actorKind: 'jwt', clientId: 'console' });
    expect(await new AuditReader(aws.ddb, AUDIT_TABLE_NAME).forActorDay(who.actor, '2024-07-25')).toEqual([]);
  });
});
