/**
 * PUT / DELETE /recordings/{recordingSid}/hold through the handler, against dynalite (the ledger)
 * and s3rver. s3rver has no Object Lock: the S3 legal-hold paths run with a store double that
 * records what would be set, and the erasure's check of S3 legal holds with a double too.
 */
import '../../helpers/setup-env';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createHoldHandler, type HoldRuntime } from '../../../lambda/hold/handler';
import { parseHoldReason, releaseHold } from '../../../lambda/hold/hold-recording';
import { CallsRepository } from '../../../lambda/shared/calls/calls';
import { CallsErasure } from '../../../lambda/shared/calls/calls-erasure';
import { eraseRecording } from '../../../lambda/shared/erasure/recording-erasure';
import type { VaultEvent } from '../../../lambda/shared/ledger/events';
import { RecordingLedger } from '../../../lambda/shared/ledger/ledger';
import { LedgerErasure } from '../../../lambda/shared/ledger/ledger-erasure';
import { LedgerHold } from '../../../lambda/shared/ledger/ledger-hold';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { type ObjectVersion, RecordingStore } from '../../../lambda/shared/storage/recording-store';
import { MALFORMED_RECORDING_SID } from '../../../lambda/shared/twilio/sids';
import { captureObs } from '../../helpers/capture-obs';
import {
  CALL_SID_INDEX,
  CALLS_TABLE,
  type Emulators,
  LEDGER_TABLE,
  RECORDINGS_BUCKET,
  startEmulators,
} from '../../helpers/emulators';
import { httpApiEvent } from '../../helpers/events';
import { givenStoredRecording } from '../../helpers/stored-recording';
import { newRecordingSid, TEST_ACCOUNT_SID } from '../../helpers/twilio-fixtures';

const NOW = new Date('2024-07-23T09:00:00.000Z');
const LEGAL = 'arn:aws:sts::123456789012:assumed-role/legal/carol';
const ROUTE = 'PUT /recordings/{recordingSid}/hold';

let aws: Emulators;
let ledger: RecordingLedger;
let calls: CallsRepository;
const published: VaultEvent[] = [];
const obs = createObservability('hold-test');

beforeAll(async () => {
  aws = await startEmulators();
  ledger = new RecordingLedger(aws.ddb, LEDGER_TABLE);
  calls = new CallsRepository(aws.ddb, CALLS_TABLE, CALL_SID_INDEX);
});

afterAll(async () => {
  await aws.stop();
});

beforeEach(() => {
  published.length = 0;
});

const givenStored = () => givenStoredRecording(aws, NOW);

/** Object Lock as S3 has it: two versions of each object, legal holds remembered per version. */
function objectLockDouble(options: { failSets?: number } = {}) {
  const store = new RecordingStore(aws.s3, RECORDINGS_BUCKET);
  const holds = new Map<string, boolean>();
  let failSets = options.failSets ?? 0;
  return {
    holds,
    async listObjectVersions(prefix: string) {
      const listed = await store.listObjectVersions(prefix);
      const versions: ObjectVersion[] = listed.versions.flatMap((v) => [
        { ...v, versionId: 'v2' },
        { ...v, versionId: 'v1' },
        { key: v.key, versionId: 'dm', deleteMarker: true },
      ]);
      return { versioning: 's3' as const, versions };
    },
    async setLegalHold(key: string, versionId: string | undefined, on: boolean) {
      if (failSets > 0) {
        failSets--;
        throw new Error('S3 answered 503');
      }
      holds.set(`${key}@${versionId}`, on);
    },
    async objectLegalHold(key: string, versionId?: string) {
      return holds.get(`${key}@${versionId}`) === true;
    },
  };
}

function handler(overrides: Partial<HoldRuntime> = {}) {
  return createHoldHandler({
    config: { bucketName: RECORDINGS_BUCKET, ledgerTableName: LEDGER_TABLE, eventBusName: 'test', objectLock: false },
    s3: aws.s3,
    ddb: aws.ddb,
    events: { publish: async (event) => void published.push(event) },
    obs,
    now: () => NOW,
    ...overrides,
  });
}

function holdEvent(
  method: 'PUT' | 'DELETE',
  recordingSid: string,
  body?: unknown,
  authorizer: Record<string, unknown> | null = { iam: { userArn: LEGAL } },
): APIGatewayProxyEventV2 {
  const event = httpApiEvent({
    method,
    path: `/recordings/${recordingSid}/hold`,
    routeKey: ROUTE.replace('PUT', method),
    pathParameters: { recordingSid },
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  if (authorizer) Object.assign(event.requestContext, { authorizer });
  return event;
}

async function send(event: APIGatewayProxyEventV2, overrides: Partial<HoldRuntime> = {}) {
  const response = await handler(overrides)(event);
  return { status: response.statusCode, body: JSON.parse(response.body || '{}') as Record<string, unknown> };
}

describe('PUT /recordings/{recordingSid}/hold', () => {
  test('200 with the hold (who, when, why); the ledger records it; Recording Held goes out once', async () => {
    const { recordingSid, callId, callSid } = await givenStored();

    const first = await send(holdEvent('PUT', recordingSid, { reason: '  Case 24-117  ' }));
    const again = await send(holdEvent('PUT', recordingSid, { reason: 'another reason' }));

    const hold = { by: LEGAL, at: NOW.toISOString(), reason: 'Case 24-117' };
    expect(first).toEqual({
      status: 200,
      body: { recordingSid, hold, placed: true, objectLockVersionsHeld: 0 },
    });
    expect(again.body).toMatchObject({ hold, placed: false });
    expect(await aws.getLedger(recordingSid)).toMatchObject({ hold, holdState: 'held', status: 'stored' });
    expect(published).toEqual([
      {
        detailType: 'Recording Held',
        detail: { recordingSid, callId, callSid, accountSid: TEST_ACCOUNT_SID, ...hold },
      },
    ]);
  });

  test('a JWT caller is recorded by its sub', async () => {
    const { recordingSid } = await givenStored();
    const jwt = { jwt: { claims: { sub: 'user-7', client_id: 'console' }, scopes: ['recordings/hold'] } };
    const response = await send(holdEvent('PUT', recordingSid, { reason: 'DSAR dispute' }, jwt));
    expect((response.body.hold as { by: string }).by).toBe('user-7');
  });

  test.each([
    ['no body', undefined, '"reason" is required'],
    ['not JSON', 'reason=x', 'must be JSON'],
    ['no reason', {}, '"reason" is required'],
    ['a blank reason', { reason: '   ' }, '"reason" is required'],
    ['a reason that is a number', { reason: 42 }, '"reason" must be a string'],
    ['a reason that is an object', { reason: { text: 'Case 9' } }, '"reason" must be a string'],
    ['a reason over 500 characters', { reason: 'x'.repeat(501) }, 'at most 500'],
    ['a reason of several lines', { reason: 'a\nb' }, 'one line'],
    ['a reason with a line separator (U+2028)', { reason: 'a\u2028b' }, 'one line'],
    ['a reason with a paragraph separator (U+2029)', { reason: 'a\u2029b' }, 'one line'],
    ['a reason with a next-line control (U+0085)', { reason: 'a\u0085b' }, 'one line'],
    ['a reason with a C1 control (U+009B)', { reason: 'a\u009bb' }, 'one line'],
    ['a reason with a lone surrogate', '{"reason":"Case \\ud800 9"}', 'lone surrogate'],
    ['a reason with a right-to-left override (U+202E)', { reason: 'Case \u202e9-42' }, 'bidirectional'],
    ['a reason with a bidi isolate (U+2066)', { reason: 'Case \u20669' }, 'bidirectional'],
    ['a reason with U+FFFD (bytes that were not UTF-8)', { reason: 'Case \ufffd9' }, 'UTF-8'],
  ])('400 for %s, and nothing is held', async (_name, body, message) => {
    const { recordingSid } = await givenStored();
    const response = await send(holdEvent('PUT', recordingSid, body));
    expect(response.status).toBe(400);
    expect(response.body.error).toContain(message);
    expect((await aws.getLedger(recordingSid))?.hold).toBeUndefined();
    expect(published).toEqual([]);
  });

  test('400 for a body that is not UTF-8, and nothing is held', async () => {
    const { recordingSid } = await givenStored();
    const bytes = Buffer.concat([Buffer.from('{"reason":"Case '), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
    const event = { ...holdEvent('PUT', recordingSid), body: bytes.toString('base64'), isBase64Encoded: true };

    const response = await send(event);

    expect(response).toEqual({ status: 400, body: { error: expect.stringContaining('UTF-8') } });
    expect((await aws.getLedger(recordingSid))?.hold).toBeUndefined();
  });

  test('500 characters are counted in code points: 500 emoji are a reason, 501 are not', async () => {
    const { recordingSid } = await givenStored();
    const emoji = '\u{1F600}';

    expect((await send(holdEvent('PUT', recordingSid, { reason: emoji.repeat(501) }))).status).toBe(400);
    const held = await send(holdEvent('PUT', recordingSid, { reason: emoji.repeat(500) }));

    expect(held.status).toBe(200);
    expect((held.body.hold as { reason: string }).reason).toBe(emoji.repeat(500));
  });

  test('400 for a malformed RecordingSid, 404 for one the ledger does not know, 403 without a caller', async () => {
    expect(await send(holdEvent('PUT', 'RE123', { reason: 'x' }))).toEqual({
      status: 400,
      body: { error: MALFORMED_RECORDING_SID },
    });
    expect((await send(holdEvent('PUT', newRecordingSid(), { reason: 'x' }))).status).toBe(404);
    const { recordingSid } = await givenStored();
    expect((await send(holdEvent('PUT', recordingSid, { reason: 'x' }, null))).status).toBe(403);
  });

  test('409 for an erased recording: nothing left to hold', async () => {
    const { recordingSid, callId } = await givenStored();
    await eraseRecording(
      { callId, recordingSid, erasedBy: 'ops' },
      erasureDeps(new RecordingStore(aws.s3, RECORDINGS_BUCKET)),
    );
    const response = await send(holdEvent('PUT', recordingSid, { reason: 'too late' }));
    expect(response.status).toBe(409);
    expect(response.body.error).toContain('erased');
  });
});

describe('parseHoldReason', () => {
  test('takes one line of text, trimmed, and keeps letters of any script and emoji', () => {
    const reason = '  Dossier 24-117 \u00e9t\u00e9, \u05ea\u05d9\u05e7 9, \u{1F468}\u200d\u{1F469}\u200d\u{1F467}  ';
    expect(parseHoldReason(Buffer.from(JSON.stringify({ reason }), 'utf8'))).toBe(reason.trim());
  });
});

describe('DELETE /recordings/{recordingSid}/hold', () => {
  test('204; the ledger keeps who released it; Recording Released names the hold it ends; a repeat is 204 too', async () => {
    const { recordingSid } = await givenStored();
    await send(holdEvent('PUT', recordingSid, { reason: 'Case 24-117' }));
    published.length = 0;
    const counsel = { iam: { userArn: 'arn:aws:iam::123456789012:user/counsel' } };

    expect((await send(holdEvent('DELETE', recordingSid, undefined, counsel))).status).toBe(204);
    expect((await send(holdEvent('DELETE', recordingSid, undefined, counsel))).status).toBe(204);

    const item = await aws.getLedger(recordingSid);
    expect(item?.hold).toBeUndefined();
    expect(item?.holdState).toBe('released');
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({
      detailType: 'Recording Released',
      detail: { recordingSid, by: 'arn:aws:iam::123456789012:user/counsel', reason: 'Case 24-117' },
    });
  });

  test('Recording Released goes out on a repeat when the release could not publish it, and only once', async () => {
    const { recordingSid } = await givenStored();
    await send(holdEvent('PUT', recordingSid, { reason: 'Case 11' }));
    published.length = 0;
    const down = { publish: async () => Promise.reject(new Error('EventBridge is down')) };

    expect((await send(holdEvent('DELETE', recordingSid), { events: down })).status).toBe(204);
    expect((await send(holdEvent('DELETE', recordingSid))).status).toBe(204);
    expect((await send(holdEvent('DELETE', recordingSid))).status).toBe(204);

    expect(published.map((event) => [event.detailType, (event.detail as { reason?: string }).reason])).toEqual([
      ['Recording Released', 'Case 11'],
    ]);
    expect(await aws.getLedger(recordingSid)).not.toHaveProperty('releaseToAnnounce');
  });

  test('404 for a recording the ledger does not know, 400 for a malformed RecordingSid', async () => {
    expect((await send(holdEvent('DELETE', newRecordingSid()))).status).toBe(404);
    expect(await send(holdEvent('DELETE', 'RE123'))).toEqual({ status: 400, body: { error: MALFORMED_RECORDING_SID } });
  });

  test('a release is logged once', async () => {
    const { recordingSid } = await givenStored();
    await send(holdEvent('PUT', recordingSid, { reason: 'Case 24-117' }));
    const captured = captureObs();

    await send(holdEvent('DELETE', recordingSid), { obs: captured.obs });

    expect(captured.logs.filter((line) => /releas/i.test(line.message))).toHaveLength(1);
  });
});

describe('with S3 Object Lock (store double: s3rver has none)', () => {
  test('the legal hold is set on every version (not on delete markers) and cleared on release', async () => {
    const { recordingSid, key } = await givenStored();
    const lock = objectLockDouble();

    const held = await send(holdEvent('PUT', recordingSid, { reason: 'Case 9' }), { objectLock: lock });
    expect(held.body.objectLockVersionsHeld).toBe(2);
    expect(Object.fromEntries(lock.holds)).toEqual({ [`${key}@v2`]: true, [`${key}@v1`]: true });

    expect((await send(holdEvent('DELETE', recordingSid), { objectLock: lock })).status).toBe(204);
    expect(Object.fromEntries(lock.holds)).toEqual({ [`${key}@v2`]: false, [`${key}@v1`]: false });
  });

  test('a release reads each version first and clears only the legal holds that are on, counting them, with or without a ledger hold', async () => {
    const { recordingSid, key } = await givenStored();
    const lock = objectLockDouble();
    // Set in S3 by hand: the ledger knows no hold.
    await lock.setLegalHold(key, 'v1', true);
    const deps = {
      ledger,
      holds: new LedgerHold(aws.ddb, LEDGER_TABLE),
      objectLock: lock,
      events: { publish: async (event: VaultEvent) => void published.push(event) },
      obs,
      now: () => NOW,
    };

    expect(await releaseHold({ recordingSid, by: LEGAL }, deps)).toEqual({ released: false, versionsReleased: 1 });
    // v2 had none: nothing was written to it.
    expect(Object.fromEntries(lock.holds)).toEqual({ [`${key}@v1`]: false });
    expect(await releaseHold({ recordingSid, by: LEGAL }, deps)).toEqual({ released: false, versionsReleased: 0 });

    await send(holdEvent('PUT', recordingSid, { reason: 'Case 9' }), { objectLock: lock });
    expect(await releaseHold({ recordingSid, by: LEGAL }, deps)).toEqual({ released: true, versionsReleased: 2 });
  });

  test('an S3 failure answers 503 with the ledger already holding; the same PUT again finishes it', async () => {
    const { recordingSid, key } = await givenStored();
    const lock = objectLockDouble({ failSets: 1 });

    const failed = await send(holdEvent('PUT', recordingSid, { reason: 'Case 9' }), { objectLock: lock });
    expect(failed.status).toBe(503);
    expect(failed.body.error).toContain('send the same request again');
    expect((await aws.getLedger(recordingSid))?.holdState).toBe('held');

    const retried = await send(holdEvent('PUT', recordingSid, { reason: 'Case 9' }), { objectLock: lock });
    expect(retried.status).toBe(200);
    expect(lock.holds.get(`${key}@v1`)).toBe(true);
    expect(lock.holds.get(`${key}@v2`)).toBe(true);
  });

  test('Recording Held goes out once the same PUT finishes a hold cut short by S3, and not again on later repeats', async () => {
    const { recordingSid } = await givenStored();
    const lock = objectLockDouble({ failSets: 1 });

    expect((await send(holdEvent('PUT', recordingSid, { reason: 'Case 9' }), { objectLock: lock })).status).toBe(503);
    expect(published).toEqual([]);
    expect((await send(holdEvent('PUT', recordingSid, { reason: 'Case 9' }), { objectLock: lock })).status).toBe(200);
    expect((await send(holdEvent('PUT', recordingSid, { reason: 'Case 9' }), { objectLock: lock })).status).toBe(200);

    expect(published.map((event) => [event.detailType, event.detail.recordingSid])).toEqual([
      ['Recording Held', recordingSid],
    ]);
  });

  test('Recording Held goes out on a repeat when the first request could not publish it', async () => {
    const { recordingSid } = await givenStored();
    const down = { publish: async () => Promise.reject(new Error('EventBridge is down')) };

    expect((await send(holdEvent('PUT', recordingSid, { reason: 'Case 10' }), { events: down })).status).toBe(200);
    expect((await send(holdEvent('PUT', recordingSid, { reason: 'Case 10' }))).status).toBe(200);
    expect((await send(holdEvent('PUT', recordingSid, { reason: 'Case 10' }))).status).toBe(200);

    expect(published.map((event) => event.detailType)).toEqual(['Recording Held']);
  });

  test('a release whose S3 step fails keeps the ledger hold, so no erasure can slip between them', async () => {
    const { recordingSid } = await givenStored();
    const lock = objectLockDouble();
    await send(holdEvent('PUT', recordingSid, { reason: 'Case 9' }), { objectLock: lock });
    const failing = { ...lock, setLegalHold: async () => Promise.reject(new Error('AccessDenied')) };

    expect((await send(holdEvent('DELETE', recordingSid), { objectLock: failing })).status).toBe(503);
    expect((await aws.getLedger(recordingSid))?.holdState).toBe('held');
  });

  test('erasure answers 409 for a legal hold set in S3 by hand, before touching anything; release clears it', async () => {
    const { recordingSid, callId, key } = await givenStored();
    const lock = objectLockDouble();
    await lock.setLegalHold(key, 'v1', true);
    const deleted: unknown[] = [];
    const store = {
      bucket: RECORDINGS_BUCKET,
      listObjectVersions: lock.listObjectVersions,
      objectLegalHold: lock.objectLegalHold,
      objectRetention: async () => undefined,
      deleteObjectVersions: async (versions: readonly unknown[]) => void deleted.push(...versions),
    };

    await expect(eraseRecording({ callId, recordingSid, erasedBy: 'ops' }, erasureDeps(store))).rejects.toMatchObject({
      statusCode: 409,
      name: 'ObjectLegalHoldConflictError',
    });
    expect(deleted).toEqual([]);
    expect((await aws.getLedger(recordingSid))?.status).toBe('stored');

    expect((await send(holdEvent('DELETE', recordingSid), { objectLock: lock })).status).toBe(204);
    expect(lock.holds.get(`${key}@v1`)).toBe(false);
  });
});

function erasureDeps(store: Parameters<typeof eraseRecording>[1]['store']) {
  return {
    calls,
    callsErasure: new CallsErasure(aws.ddb, CALLS_TABLE),
    ledger,
    ledgerErasure: new LedgerErasure(aws.ddb, LEDGER_TABLE),
    store,
    twilio: { deleteRecording: async () => undefined },
    events: { publish: async () => undefined },
    obs,
    now: () => NOW,
  };
}
