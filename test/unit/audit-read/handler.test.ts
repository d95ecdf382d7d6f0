/**
 * GET /recordings/{recordingSid}/audit (dynalite) and the audited routes of the erasure function:
 * what was entered reads back with actor, time, source IP and user agent; bad input is a 400.
 */
import '../../helpers/setup-env';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createAuditReadHandler } from '../../../lambda/audit-read/handler';
import { ERASURE_AUDIT_ACTIONS } from '../../../lambda/erasure/audit-actions';
import { createErasureHandler } from '../../../lambda/erasure/handler';
import { HOLD_AUDIT_ACTIONS } from '../../../lambda/hold/audit-actions';
import { createHoldHandler, type HoldRuntime } from '../../../lambda/hold/handler';
import { type AuditRecorder, AuditWriter } from '../../../lambda/shared/audit/audit-trail';
import { auditedRoute } from '../../../lambda/shared/audit/audited-route';
import type { EventPublisher } from '../../../lambda/shared/ledger/events';
import { emptyResponse, jsonResponse } from '../../../lambda/shared/runtime/http';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { AUDIT_TABLE_NAME } from '../../../lib/local/config';
import { captureObs } from '../../helpers/capture-obs';
import { type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET, startEmulators } from '../../helpers/emulators';
import { ERASURE_TEST_CONFIG } from '../../helpers/erasure-suite';
import { httpApiEvent } from '../../helpers/events';
import { givenStoredRecording } from '../../helpers/stored-recording';
import { newRecordingSid } from '../../helpers/twilio-fixtures';

let aws: Emulators;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

const ARN = 'arn:aws:iam::123456789012:user/ops';

function auditRead() {
  return createAuditReadHandler({
    config: { auditTableName: AUDIT_TABLE_NAME },
    ddb: aws.ddb,
    obs: createObservability('audit-read-test'),
  });
}

function auditEvent(recordingSid: string, rawQueryString = ''): APIGatewayProxyEventV2 {
  return httpApiEvent({
    path: `/recordings/${recordingSid}/audit`,
    routeKey: 'GET /recordings/{recordingSid}/audit',
    pathParameters: { recordingSid },
    rawQueryString,
  });
}

function eraseEvent(recordingSid: string, callId = 'call-1', userArn = ARN): APIGatewayProxyEventV2 {
  const event = httpApiEvent({
    method: 'DELETE',
    path: `/calls/${callId}/recordings/${recordingSid}`,
    routeKey: 'DELETE /calls/{callId}/recordings/{recordingSid}',
    pathParameters: { callId, recordingSid },
  });
  Object.assign(event.requestContext, { authorizer: { iam: { userArn } } });
  return event;
}

/** The erasure function as deployed: its handler behind the audited route (emulators, Twilio stubbed). */
function auditedErasure(options: { recorder?: AuditRecorder; events?: EventPublisher } = {}) {
  return auditedRoute(
    createErasureHandler({
      config: ERASURE_TEST_CONFIG,
      tokens: staticTokens('unused'),
      s3: aws.s3,
      ddb: aws.ddb,
      twilio: {
        deleteRecording: async () => undefined,
        fetchRecordingAudio: async () => Promise.reject(new Error('unused')),
        getRecordingDetails: async () => Promise.reject(new Error('unused')),
        getCallDetails: async () => Promise.reject(new Error('unused')),
      },
      events: options.events ?? { publish: async () => undefined },
      obs: createObservability('erasure-audit-test'),
    }),
    { recorder: options.recorder ?? new AuditWriter(aws.ddb, AUDIT_TABLE_NAME), actions: ERASURE_AUDIT_ACTIONS },
  );
}

async function read(recordingSid: string, query = '') {
  const response = await auditRead()(auditEvent(recordingSid, query));
  return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') };
}

describe('the audited erasure route', () => {
  it('enters the erasure with its caller and outcome, then answers as the handler did', async () => {
    const recordingSid = newRecordingSid();
    const erase = auditedRoute(async () => emptyResponse(204), {
      recorder: new AuditWriter(aws.ddb, AUDIT_TABLE_NAME),
      actions: ERASURE_AUDIT_ACTIONS,
    });

    const response = await erase(eraseEvent(recordingSid));

    expect(response.statusCode).toBe(204);
    const { status, body } = await read(recordingSid);
    expect(status).toBe(200);
    expect(body).toEqual({
      recordingSid,
      entries: [
        {
          at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
          action: 'recording.erase',
          outcome: 'done',
          actor: ARN,
          actorKind: 'iam',
          clientId: null,
          sourceIp: '203.0.113.7',
          userAgent: 'TwilioProxy/1.1',
          details: { status: 204, callId: 'call-1' },
        },
      ],
      nextCursor: null,
    });
  });

  it('enters a refusal (409) as refused and a failure as failed', async () => {
    const recordingSid = newRecordingSid();
    const recorder = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME);
    await auditedRoute(async () => jsonResponse(409, { error: 'held' }), { recorder, actions: ERASURE_AUDIT_ACTIONS })(
      eraseEvent(recordingSid),
    );
    await auditedRoute(async () => jsonResponse(503, { error: 'later' }), { recorder, actions: ERASURE_AUDIT_ACTIONS })(
      eraseEvent(recordingSid),
    );

    const { body } = await read(recordingSid);

    expect(body.entries.map((e: { outcome: string }) => e.outcome)).toEqual(['refused', 'failed']);
  });

  it('enters a repeat erasure of an erased recording as already-erased, not as done by the caller', async () => {
    const { recordingSid, callId } = await givenStoredRecording(aws, new Date('2024-07-23T09:00:00.000Z'));
    const erase = auditedErasure();

    expect((await erase(eraseEvent(recordingSid, callId))).statusCode).toBe(204);
    expect((await erase(eraseEvent(recordingSid, callId))).statusCode).toBe(204);

    const { body } = await read(recordingSid);
    expect(body.entries.map((e: { outcome: string; details: unknown }) => [e.outcome, e.details])).toEqual([
      ['done', { status: 204, callId, versionsDeleted: 1 }],
      ['already-erased', { status: 204, callId, versionsDeleted: 0, erasedBy: ARN, erasedAt: expect.any(String) }],
    ]);
  });

  it('enters a repeat erasure of an erased recording as already-erased for another caller, erasedBy naming the first', async () => {
    const { recordingSid, callId } = await givenStoredRecording(aws, new Date('2024-07-23T09:00:00.000Z'));
    const erase = auditedErasure();
    const other = 'arn:aws:iam::123456789012:user/auditor';

    expect((await erase(eraseEvent(recordingSid, callId))).statusCode).toBe(204);
    expect((await erase(eraseEvent(recordingSid, callId, other))).statusCode).toBe(204);

    const { body } = await read(recordingSid);
    expect(
      body.entries.map((e: { outcome: string; actor: string; details: unknown }) => [e.outcome, e.actor, e.details]),
    ).toEqual([
      ['done', ARN, { status: 204, callId, versionsDeleted: 1 }],
      [
        'already-erased',
        other,
        { status: 204, callId, versionsDeleted: 0, erasedBy: ARN, erasedAt: expect.any(String) },
      ],
    ]);
  });

  it('enters the erasure as done when its entry failed (503) and the caller repeats the request, once', async () => {
    const { recordingSid, callId } = await givenStoredRecording(aws, new Date('2024-07-23T09:00:00.000Z'));
    const writer = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME);
    let refusals = 1;
    const recorder: AuditRecorder = {
      record: (entry, key) => (refusals-- > 0 ? Promise.reject(new Error('throttled')) : writer.record(entry, key)),
    };
    const erase = auditedErasure({ recorder });

    expect((await erase(eraseEvent(recordingSid, callId))).statusCode).toBe(503);
    expect((await aws.getLedger(recordingSid))?.status).toBe('erased');
    expect((await erase(eraseEvent(recordingSid, callId))).statusCode).toBe(204);

    const { body } = await read(recordingSid);
    const erasedAt = (await aws.getLedger(recordingSid))?.erasedAt;
    expect(
      body.entries.map((e: { at: string; outcome: string; details: unknown }) => [e.at, e.outcome, e.details]),
    ).toEqual([
      // At the time of the erasure; the versions were removed by the request cut short.
      [erasedAt, 'done', { status: 204, callId, repeat: true, erasedAt }],
    ]);
  });

  it('enters the erasure as done when the request cut short after the ledger turned erased is repeated', async () => {
    const { recordingSid, callId } = await givenStoredRecording(aws, new Date('2024-07-23T09:00:00.000Z'));
    let refusals = 1;
    const erase = auditedErasure({
      // EventBridge refusing Recording Erased once: the ledger is erased, the request answers 503.
      events: {
        publish: async () => {
          if (refusals-- > 0) throw new Error('EventBridge unavailable');
        },
      },
    });

    expect((await erase(eraseEvent(recordingSid, callId))).statusCode).toBe(503);
    expect((await erase(eraseEvent(recordingSid, callId))).statusCode).toBe(204);
    // A further repeat by the same caller erased nothing: it is entered as such, not as a second done.
    expect((await erase(eraseEvent(recordingSid, callId))).statusCode).toBe(204);

    const { body } = await read(recordingSid);
    expect(body.entries.map((e: { outcome: string; details: unknown }) => [e.outcome, e.details])).toEqual([
      // At the time of the erasure (the ledger's erasedAt), so before the failure entered after it.
      ['done', { status: 204, callId, repeat: true, erasedAt: expect.any(String) }],
      ['failed', { status: 503, callId }],
      ['already-erased', { status: 204, callId, versionsDeleted: 0, erasedBy: ARN, erasedAt: expect.any(String) }],
    ]);
  });

  it('answers 503 when the entry cannot be written, so that the caller repeats the request', async () => {
    const erase = auditedRoute(async () => emptyResponse(204), {
      recorder: { record: () => Promise.reject(new Error('throttled')) },
      actions: ERASURE_AUDIT_ACTIONS,
    });

    const response = await erase(eraseEvent(newRecordingSid()));

    expect(response.statusCode).toBe(503);
  });

  it('counts an entry that cannot be written (AuditWriteFailed), logs its RecordingSid, and flushes the count', async () => {
    const recordingSid = newRecordingSid();
    const captured = captureObs();
    const flushed: number[] = [];
    const obs = { ...captured.obs, flush: () => void flushed.push(captured.sum('AuditWriteFailed')) };
    // DynamoDB refusing the put: the emulator cannot be made to throttle.
    const refusing = {
      send: () =>
        Promise.reject(Object.assign(new Error('Throughput exceeds the limit'), { name: 'ThrottlingException' })),
    };
    const erase = auditedRoute(async () => emptyResponse(204), {
      recorder: new AuditWriter(refusing, AUDIT_TABLE_NAME),
      actions: ERASURE_AUDIT_ACTIONS,
      obs,
    });

    const response = await erase(eraseEvent(recordingSid));

    expect(response.statusCode).toBe(503);
    expect(captured.sum('AuditWriteFailed')).toBe(1);
    // The handler flushed its metrics before the entry was tried: the route flushes the count itself.
    expect(flushed).toEqual([1]);
    expect(captured.logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'Could not write an audit entry',
        extra: expect.objectContaining({ action: 'recording.erase', outcome: 'done' }),
      }),
    );
  });

  it('counts nothing when the entry is written', async () => {
    const captured = captureObs();
    const erase = auditedRoute(async () => emptyResponse(204), {
      recorder: new AuditWriter(aws.ddb, AUDIT_TABLE_NAME),
      actions: ERASURE_AUDIT_ACTIONS,
      obs: captured.obs,
    });

    expect((await erase(eraseEvent(newRecordingSid()))).statusCode).toBe(204);
    expect(captured.metrics).toEqual([]);
  });
});

describe('the audited hold routes', () => {
  async function givenLedgered(): Promise<{ recordingSid: string; key: string }> {
    const recordingSid = newRecordingSid();
    const key = `recordings/2024/07/call-1/${recordingSid}.mp3`;
    await aws.ddb.send(
      new PutCommand({
        TableName: LEDGER_TABLE,
        Item: {
          recordingSid,
          callSid: `CA${'0'.repeat(32)}`,
          status: 'stored',
          bucket: RECORDINGS_BUCKET,
          key,
          startedAt: '2024-07-22T17:00:00.000Z',
          day: '2024-07-22',
        },
      }),
    );
    return { recordingSid, key };
  }

  function auditedHold(objectLock?: HoldRuntime['objectLock']) {
    return auditedRoute(
      createHoldHandler({
        config: {
          bucketName: RECORDINGS_BUCKET,
          ledgerTableName: LEDGER_TABLE,
          eventBusName: 'test',
          objectLock: objectLock !== undefined,
        },
        s3: aws.s3,
        ddb: aws.ddb,
        events: { publish: async () => undefined },
        ...(objectLock ? { objectLock } : {}),
        obs: createObservability('hold-audit-test'),
      }),
      { recorder: new AuditWriter(aws.ddb, AUDIT_TABLE_NAME), actions: HOLD_AUDIT_ACTIONS },
    );
  }

  function holdEvent(recordingSid: string, method: 'PUT' | 'DELETE', reason = 'case 42', userArn = ARN) {
    const e = httpApiEvent({
      method,
      path: `/recordings/${recordingSid}/hold`,
      routeKey: `${method} /recordings/{recordingSid}/hold`,
      pathParameters: { recordingSid },
      headers: { 'content-type': 'application/json' },
      ...(method === 'PUT' ? { body: JSON.stringify({ reason }) } : {}),
    });
    Object.assign(e.requestContext, { authorizer: { iam: { userArn } } });
    return e;
  }

  /** S3 Object Lock as a double (s3rver has none): one version per object, legal holds per version. */
  function objectLockDouble(options: { failSets?: number } = {}) {
    const holds = new Map<string, boolean>();
    let failSets = options.failSets ?? 0;
    return {
      holds,
      async listObjectVersions(prefix: string) {
        return { versioning: 's3' as const, versions: [{ key: `${prefix}mp3`, versionId: 'v1', deleteMarker: false }] };
      },
      async setLegalHold(key: string, versionId: string | undefined, on: boolean) {
        if (failSets-- > 0) throw new Error('S3 answered 503');
        holds.set(`${key}@${versionId}`, on);
      },
      async objectLegalHold(key: string, versionId?: string) {
        return holds.get(`${key}@${versionId}`) === true;
      },
    };
  }

  const entriesOf = async (recordingSid: string) =>
    (await read(recordingSid)).body.entries.map(
      (e: { at: string; action: string; outcome: string; actor: string; details: unknown }) => [
        e.action,
        e.outcome,
        e.actor,
        e.details,
      ],
    );

  it('enters a hold and its release with the caller, after the ledger took them', async () => {
    const { recordingSid } = await givenLedgered();
    const hold = auditedHold();
    const event = (method: 'PUT' | 'DELETE', reason = 'case 42') => holdEvent(recordingSid, method, reason);

    const long = '\u{1F600}'.repeat(500);
    expect((await hold(event('PUT'))).statusCode).toBe(200);
    expect((await hold(event('PUT', long))).statusCode).toBe(200);
    expect((await hold(event('DELETE'))).statusCode).toBe(204);
    expect((await hold(event('DELETE'))).statusCode).toBe(204);

    const { body } = await read(recordingSid);
    expect(
      body.entries.map((e: { action: string; outcome: string; actor: string; details: unknown }) => [
        e.action,
        e.outcome,
        e.actor,
        e.details,
      ]),
    ).toEqual([
      ['recording.hold', 'done', ARN, { status: 200, reason: 'case 42', placed: true, objectLockVersionsHeld: 0 }],
      // A repeat: the first hold stands; the entry keeps what this caller asked, whole (500 code points).
      ['recording.hold', 'already-held', ARN, { status: 200, reason: long, placed: false, objectLockVersionsHeld: 0 }],
      ['recording.release', 'done', ARN, { status: 204, released: true, objectLockVersionsReleased: 0 }],
      ['recording.release', 'not-held', ARN, { status: 204, released: false, objectLockVersionsReleased: 0 }],
    ]);
  });

  it('enters a release that cleared S3 legal holds the ledger never knew as done, with how many', async () => {
    const { recordingSid, key } = await givenLedgered();
    const lock = objectLockDouble();
    // Set in S3 by hand.
    await lock.setLegalHold(key, 'v1', true);
    const hold = auditedHold(lock);

    expect((await hold(holdEvent(recordingSid, 'DELETE'))).statusCode).toBe(204);
    expect((await hold(holdEvent(recordingSid, 'DELETE'))).statusCode).toBe(204);

    expect(await entriesOf(recordingSid)).toEqual([
      ['recording.release', 'done', ARN, { status: 204, released: false, objectLockVersionsReleased: 1 }],
      ['recording.release', 'not-held', ARN, { status: 204, released: false, objectLockVersionsReleased: 0 }],
    ]);
  });

  it('enters the hold as done when its S3 step failed (503) and the caller repeats the PUT, once', async () => {
    const { recordingSid } = await givenLedgered();
    const hold = auditedHold(objectLockDouble({ failSets: 1 }));
    const other = 'arn:aws:iam::123456789012:user/counsel';

    expect((await hold(holdEvent(recordingSid, 'PUT'))).statusCode).toBe(503);
    expect((await hold(holdEvent(recordingSid, 'PUT'))).statusCode).toBe(200);
    // Repeats once the hold is whole placed nothing: already-held, whoever sends them.
    expect((await hold(holdEvent(recordingSid, 'PUT', 'case 43'))).statusCode).toBe(200);
    expect((await hold(holdEvent(recordingSid, 'PUT', 'case 44', other))).statusCode).toBe(200);

    const heldAt = ((await aws.getLedger(recordingSid))?.hold as { at: string } | undefined)?.at;
    expect((await read(recordingSid)).body.entries[0].at).toBe(heldAt);
    expect(await entriesOf(recordingSid)).toEqual([
      // At the time of the hold, so before the failure entered after it.
      [
        'recording.hold',
        'done',
        ARN,
        { status: 200, reason: 'case 42', placed: true, repeat: true, objectLockVersionsHeld: 1 },
      ],
      ['recording.hold', 'failed', ARN, { status: 503 }],
      [
        'recording.hold',
        'already-held',
        ARN,
        { status: 200, reason: 'case 43', placed: false, objectLockVersionsHeld: 1 },
      ],
      [
        'recording.hold',
        'already-held',
        other,
        { status: 200, reason: 'case 44', placed: false, objectLockVersionsHeld: 1 },
      ],
    ]);
  });
});

describe('GET /recordings/{recordingSid}/audit', () => {
  it('pages with limit and cursor, oldest first', async () => {
    const recordingSid = newRecordingSid();
    let clock = Date.parse('2024-07-22T09:00:00.000Z');
    const writer = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME, () => {
      clock += 1000;
      return new Date(clock);
    });
    for (const outcome of ['a', 'b', 'c']) {
      await writer.record({ actor: 'u', kind: 'jwt', recordingSid, action: 'playback.url', outcome });
    }

    const first = await read(recordingSid, 'limit=2');
    const second = await read(recordingSid, `limit=2&cursor=${first.body.nextCursor}`);

    expect(first.body.entries.map((e: { outcome: string }) => e.outcome)).toEqual(['a', 'b']);
    expect(second.body.entries.map((e: { outcome: string }) => e.outcome)).toEqual(['c']);
    expect(second.body.nextCursor).toBeNull();
  });

  it("answers 400 for another recording's cursor and for an altered cursor", async () => {
    const [a, b] = [newRecordingSid(), newRecordingSid()];
    const writer = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME);
    for (const recordingSid of [a, a, b, b]) {
      await writer.record({ actor: 'u', kind: 'jwt', recordingSid, action: 'playback.url', outcome: 'issued' });
    }
    const cursor = (await read(a, 'limit=1')).body.nextCursor as string;

    expect(await read(b, `limit=1&cursor=${cursor}`)).toEqual({
      status: 400,
      body: { error: expect.stringContaining('another recording') },
    });
    expect((await read(a, `limit=1&cursor=${cursor}x`)).status).toBe(400);
    expect((await read(a, `limit=1&cursor=${cursor}`)).status).toBe(200);
  });

  it('answers an empty list for a recording nobody accessed', async () => {
    expect(await read(newRecordingSid())).toEqual({
      status: 200,
      body: expect.objectContaining({ entries: [], nextCursor: null }),
    });
  });

  it.each([
    ['a malformed RecordingSid', 'RE123', ''],
    ['an unknown parameter', newRecordingSid(), 'from=2024-01-01'],
    ['a limit out of range', newRecordingSid(), 'limit=0'],
    ['a cursor it did not issue', newRecordingSid(), 'cursor=abc'],
  ])('answers 400 for %s', async (_name, recordingSid, query) => {
    const { status, body } = await read(recordingSid, query);
    expect(status).toBe(400);
    expect(body).toEqual({ error: expect.any(String) });
  });
});
