/**
 * The read function's entries in the access audit trail (dynalite, s3rver): each presigned URL it
 * issues and each listing page is entered with who asked, from where, before the answer leaves;
 * without an entry there is no URL.
 */
import '../../helpers/setup-env';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createPlaybackHandler } from '../../../lambda/recordings-read/handler';
import type { AuditEntryInput } from '../../../lambda/shared/audit/audit-record';
import { AuditReader, AuditWriter } from '../../../lambda/shared/audit/audit-trail';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { generateStorageKey } from '../../../lambda/shared/storage/recording-store';
import { AUDIT_TABLE_NAME } from '../../../lib/local/config';
import { captureObs } from '../../helpers/capture-obs';
import { CALLS_TABLE, type Emulators, LEDGER_TABLE, RECORDINGS_BUCKET, startEmulators } from '../../helpers/emulators';
import { httpApiEvent } from '../../helpers/events';
import { newCallSid, newRecordingSid } from '../../helpers/twilio-fixtures';

let aws: Emulators;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

const JWT = { jwt: { claims: { sub: 'user-42', client_id: 'console-client', scope: 'recordings/read' } } };

function handler(
  audit: { record(entry: AuditEntryInput): Promise<unknown> } = new AuditWriter(aws.ddb, AUDIT_TABLE_NAME),
  obs = createObservability('access-audit-test'),
) {
  return createPlaybackHandler({
    config: { bucketName: RECORDINGS_BUCKET, tableName: CALLS_TABLE, ledgerTableName: LEDGER_TABLE, urlTtlSeconds: 60 },
    listing: { ledgerTableName: LEDGER_TABLE, ledgerDayIndexName: 'byDayShard' },
    s3: aws.s3,
    ddb: aws.ddb,
    obs,
    audit: audit as AuditWriter,
  });
}

function withAuthorizer(event: APIGatewayProxyEventV2, authorizer: unknown = JWT): APIGatewayProxyEventV2 {
  Object.assign(event.requestContext, { authorizer });
  event.requestContext.http.userAgent = 'auditor-test/1.0';
  return event;
}

async function storedCall(count: number): Promise<{ callId: string; sids: string[] }> {
  const callId = `call-${newCallSid().slice(2, 14)}`;
  const recordings: Record<string, unknown> = {};
  const sids: string[] = [];
  for (let i = 0; i < count; i++) {
    const recordingSid = newRecordingSid();
    const startedAt = `2024-07-22T17:0${i}:00.000Z`;
    const key = generateStorageKey(callId, recordingSid, startedAt, 'mp3');
    await aws.s3.send(new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: Buffer.from('ID3 audio') }));
    recordings[recordingSid] = { status: 'stored', key, contentType: 'audio/mpeg', startedAt };
    sids.push(recordingSid);
  }
  const callSid = newCallSid();
  await aws.putItem({ callId, twilioCallSid: callSid, recordings });
  // The ledger items the transfer writes first: playback takes each key from them.
  for (const [recordingSid, entry] of Object.entries(recordings)) {
    const { startedAt } = entry as { startedAt: string };
    await aws.ddb.send(
      new PutCommand({
        TableName: LEDGER_TABLE,
        Item: {
          ...(entry as object),
          recordingSid,
          callId,
          callSid,
          day: startedAt.slice(0, 10),
          updatedAt: startedAt,
        },
      }),
    );
  }
  return { callId, sids };
}

const reader = () => new AuditReader(aws.ddb, AUDIT_TABLE_NAME);

describe('playback URLs in the audit trail', () => {
  it('enters the URL issued with the JWT subject, client id, source IP and user agent', async () => {
    const { callId, sids } = await storedCall(1);

    const response = await handler()(
      withAuthorizer(
        httpApiEvent({
          path: `/calls/${callId}/recording`,
          routeKey: 'GET /calls/{callId}/recording',
          pathParameters: { callId },
        }),
      ),
    );

    expect(response.statusCode).toBe(200);
    const entries = await reader().allForRecording(sids[0] as string);
    expect(entries).toEqual([
      expect.objectContaining({
        action: 'playback.url',
        outcome: 'issued',
        actor: 'user-42',
        kind: 'jwt',
        clientId: 'console-client',
        sourceIp: '203.0.113.7',
        userAgent: 'auditor-test/1.0',
        details: expect.objectContaining({ callId, route: 'GET /calls/{callId}/recording' }),
      }),
    ]);
    // Never the URL itself.
    expect(JSON.stringify(entries)).not.toContain('X-Amz-Signature');
  });

  it('enters one entry per recording of a call listing, under the IAM principal', async () => {
    const { callId, sids } = await storedCall(2);
    const arn = 'arn:aws:sts::123456789012:assumed-role/support/alice';

    const response = await handler()(
      withAuthorizer(
        httpApiEvent({
          path: `/calls/${callId}/recordings`,
          routeKey: 'GET /calls/{callId}/recordings',
          pathParameters: { callId },
        }),
        { iam: { userArn: arn } },
      ),
    );

    expect(response.statusCode).toBe(200);
    for (const sid of sids) {
      expect(await reader().allForRecording(sid)).toEqual([expect.objectContaining({ actor: arn, kind: 'iam' })]);
    }
  });

  it('answers 503 without a URL when the entry cannot be written, and counts it (AuditWriteFailed)', async () => {
    const { callId } = await storedCall(1);
    // DynamoDB refusing the put: the emulator cannot be made to throttle.
    const refusing = {
      send: () =>
        Promise.reject(
          Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
            name: 'ProvisionedThroughputExceededException',
          }),
        ),
    };
    const captured = captureObs();

    const response = await handler(
      new AuditWriter(refusing, AUDIT_TABLE_NAME),
      captured.obs,
    )(
      withAuthorizer(
        httpApiEvent({
          path: `/calls/${callId}/recording`,
          routeKey: 'GET /calls/{callId}/recording',
          pathParameters: { callId },
        }),
      ),
    );

    expect(response.statusCode).toBe(503);
    expect(response.body).not.toContain('http');
    expect(JSON.parse(response.body ?? '{}')).toEqual({ error: expect.stringContaining('audit trail') });
    expect(captured.sum('AuditWriteFailed')).toBe(1);
    // The log names what was refused, never the URL that was not issued.
    expect(captured.text()).toContain('Could not write an audit entry');
    expect(captured.text()).not.toMatch(/X-Amz-Signature|https?:\/\//);
  });

  it('refuses a request that names no caller (no authorizer context) with 403', async () => {
    const { callId } = await storedCall(1);

    const response = await handler()(
      httpApiEvent({
        path: `/calls/${callId}/recording`,
        routeKey: 'GET /calls/{callId}/recording',
        pathParameters: { callId },
      }),
    );

    expect(response.statusCode).toBe(403);
  });
});

describe('GET /recordings/{recordingSid} in the audit trail', () => {
  it('enters the URL issued for one recording found by its RecordingSid', async () => {
    const recordingSid = newRecordingSid();
    const startedAt = '2024-07-22T18:00:00.000Z';
    const key = generateStorageKey(`CF${'a'.repeat(32)}`, recordingSid, startedAt, 'mp3');
    await aws.s3.send(new PutObjectCommand({ Bucket: RECORDINGS_BUCKET, Key: key, Body: Buffer.from('ID3 audio') }));
    await aws.ddb.send(
      new PutCommand({
        TableName: LEDGER_TABLE,
        Item: { recordingSid, status: 'stored', bucket: RECORDINGS_BUCKET, key, startedAt, day: '2024-07-22' },
      }),
    );

    const response = await handler()(
      withAuthorizer(
        httpApiEvent({
          path: `/recordings/${recordingSid}`,
          routeKey: 'GET /recordings/{recordingSid}',
          pathParameters: { recordingSid },
        }),
      ),
    );

    expect(response.statusCode).toBe(200);
    expect(await reader().allForRecording(recordingSid)).toEqual([
      expect.objectContaining({
        action: 'playback.url',
        outcome: 'issued',
        actor: 'user-42',
        details: expect.objectContaining({ route: 'GET /recordings/{recordingSid}' }),
      }),
    ]);
  });
});

describe('listing pages in the audit trail', () => {
  it('enters each page of GET /recordings with its query and count', async () => {
    const actor = `lister-${newRecordingSid()}`;
    const rawQueryString = 'from=2031-01-01&to=2031-01-02&limit=5';

    const response = await handler()(
      withAuthorizer(httpApiEvent({ path: '/recordings', routeKey: 'GET /recordings', rawQueryString }), {
        jwt: { claims: { sub: actor } },
      }),
    );

    expect(response.statusCode).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    const entries = await reader().forActorDay(actor, today);
    expect(entries).toEqual([
      expect.objectContaining({
        recordingSid: `~listing#${today}`,
        action: 'recordings.list',
        outcome: 'listed',
        details: { from: '2031-01-01T00:00:00.000Z', to: '2031-01-02T00:00:00.000Z', limit: 5, count: 0 },
      }),
    ]);
  });

  it('enters a page of GET /recordings?hold=true as a listing of holds (hold: true)', async () => {
    const actor = `lister-${newRecordingSid()}`;
    const rawQueryString = 'from=2031-01-01&to=2031-01-02&hold=true&limit=5';

    const response = await handler()(
      withAuthorizer(httpApiEvent({ path: '/recordings', routeKey: 'GET /recordings', rawQueryString }), {
        jwt: { claims: { sub: actor } },
      }),
    );

    expect(response.statusCode).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(await reader().forActorDay(actor, today)).toEqual([
      expect.objectContaining({
        action: 'recordings.list',
        outcome: 'listed',
        details: { from: '2031-01-01T00:00:00.000Z', to: '2031-01-02T00:00:00.000Z', hold: true, limit: 5, count: 0 },
      }),
    ]);
  });

  it('enters a page of every hold (hold=true without a range) with no from or to', async () => {
    const actor = `lister-${newRecordingSid()}`;

    const response = await handler()(
      withAuthorizer(httpApiEvent({ path: '/recordings', routeKey: 'GET /recordings', rawQueryString: 'hold=true' }), {
        jwt: { claims: { sub: actor } },
      }),
    );

    expect(response.statusCode).toBe(200);
    const today = new Date().toISOString().slice(0, 10);
    expect(await reader().forActorDay(actor, today)).toEqual([
      expect.objectContaining({
        action: 'recordings.list',
        outcome: 'listed',
        details: { hold: true, limit: 100, count: 0 },
      }),
    ]);
  });
});
