/**
 * Erasures of one recording that run at once (DELETEs, and a DELETE against the retention sweep's
 * expiry) against dynalite and s3rver: exactly one of them erases it, announces it and is entered
 * as `done`; the others answer 204 like any repeat, are entered as `already-erased` and announce
 * nothing. Twilio is a gate that holds every request until all have started, so that all of them
 * are past the `erasing` write before any finishes (no sleeps; outcomes compared as multisets).
 */
import '../../helpers/setup-env';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createAuditReadHandler } from '../../../lambda/audit-read/handler';
import { ERASURE_AUDIT_ACTIONS } from '../../../lambda/erasure/audit-actions';
import { createErasureHandler } from '../../../lambda/erasure/handler';
import { expireRecording } from '../../../lambda/retention/expire-recording';
import { AuditWriter } from '../../../lambda/shared/audit/audit-trail';
import { auditedRoute } from '../../../lambda/shared/audit/audited-route';
import { erasureDeps } from '../../../lambda/shared/erasure/erasure-deps';
import type { EventPublisher, VaultEvent } from '../../../lambda/shared/ledger/events';
import { ERASURE_ANNOUNCE_LEASE_MS, LedgerErasure } from '../../../lambda/shared/ledger/ledger-erasure';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import type { TwilioApi } from '../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { AUDIT_TABLE_NAME } from '../../../lib/local/config';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../helpers/emulators';
import { ERASURE_TEST_CONFIG } from '../../helpers/erasure-suite';
import { httpApiEvent } from '../../helpers/events';
import { givenStoredRecording } from '../../helpers/stored-recording';

const NOW = new Date('2024-07-23T09:00:00.000Z');
const obs = createObservability('concurrent-erasure-test');

let aws: Emulators;

beforeAll(async () => {
  aws = await startEmulators();
});

afterAll(async () => {
  await aws.stop();
});

/** Twilio whose deleteRecording holds each caller until `parties` of them have arrived. */
function gatedTwilio(parties: number): TwilioApi {
  let arrived = 0;
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    async deleteRecording() {
      arrived++;
      if (arrived >= parties) open();
      await gate;
    },
    fetchRecordingAudio: async () => Promise.reject(new Error('unused')),
    getRecordingDetails: async () => Promise.reject(new Error('unused')),
    getCallDetails: async () => Promise.reject(new Error('unused')),
  };
}

function runtime(twilio: TwilioApi, events: EventPublisher) {
  return {
    config: ERASURE_TEST_CONFIG,
    tokens: staticTokens('unused'),
    s3: aws.s3,
    ddb: aws.ddb,
    twilio,
    events,
    obs,
    now: () => NOW,
  };
}

function auditedErasure(twilio: TwilioApi, events: EventPublisher) {
  return auditedRoute(createErasureHandler(runtime(twilio, events)), {
    recorder: new AuditWriter(aws.ddb, AUDIT_TABLE_NAME),
    actions: ERASURE_AUDIT_ACTIONS,
    defaultPrincipal: 'local',
  });
}

function deleteEvent(callId: string, recordingSid: string, userArn: string): APIGatewayProxyEventV2 {
  const event = httpApiEvent({
    method: 'DELETE',
    path: `/calls/${callId}/recordings/${recordingSid}`,
    routeKey: 'DELETE /calls/{callId}/recordings/{recordingSid}',
    pathParameters: { callId, recordingSid },
  });
  Object.assign(event.requestContext, { authorizer: { iam: { userArn } } });
  return event;
}

interface Entry {
  action: string;
  outcome: string;
  actor: string;
  details: Record<string, unknown>;
}

async function auditOf(recordingSid: string): Promise<Entry[]> {
  const read = createAuditReadHandler({ config: { auditTableName: AUDIT_TABLE_NAME }, ddb: aws.ddb, obs });
  const response = await read(
    httpApiEvent({
      path: `/recordings/${recordingSid}/audit`,
      routeKey: 'GET /recordings/{recordingSid}/audit',
      pathParameters: { recordingSid },
    }),
  );
  return (JSON.parse(response.body ?? '{}') as { entries: Entry[] }).entries;
}

function recorder(published: VaultEvent[]): EventPublisher {
  return {
    async publish(event) {
      published.push(event);
    },
  };
}

describe('concurrent erasures of one recording', () => {
  test('five DELETEs at once: all 204, one erasure done and announced, four already-erased that announce nothing', async () => {
    const { callId, recordingSid } = await givenStoredRecording(aws, NOW);
    const published: VaultEvent[] = [];
    const erase = auditedErasure(gatedTwilio(5), recorder(published));
    const callers = [1, 2, 3, 4, 5].map((n) => `arn:aws:iam::123456789012:user/officer-${n}`);

    const answers = await Promise.all(callers.map((arn) => erase(deleteEvent(callId, recordingSid, arn))));

    expect(answers.map((a) => a.statusCode)).toEqual([204, 204, 204, 204, 204]);
    expect(published.map((e) => e.detailType)).toEqual(['Recording Erased']);
    const ledgerItem = await aws.getLedger(recordingSid);
    expect(ledgerItem).toMatchObject({ status: 'erased', erasedEventAt: expect.any(String) });
    const entries = await auditOf(recordingSid);
    const outcomes = entries.map((e) => e.outcome).sort();
    expect(outcomes).toEqual(['already-erased', 'already-erased', 'already-erased', 'already-erased', 'done']);
    const done = entries.find((e) => e.outcome === 'done');
    expect(done?.actor).toBe(ledgerItem?.erasedBy);
    expect(published[0]?.detail).toMatchObject({ erasedBy: ledgerItem?.erasedBy });
    expect(new Set(entries.map((e) => e.actor))).toEqual(new Set(callers));
    for (const entry of entries.filter((e) => e.outcome === 'already-erased')) {
      expect(entry.details.erasedBy).toBe(ledgerItem?.erasedBy);
    }
  });

  test('five DELETEs at once by the same caller: one done entry, four already-erased, one event', async () => {
    const { callId, recordingSid } = await givenStoredRecording(aws, NOW);
    const published: VaultEvent[] = [];
    const erase = auditedErasure(gatedTwilio(5), recorder(published));
    const arn = 'arn:aws:iam::123456789012:user/officer';

    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => erase(deleteEvent(callId, recordingSid, arn))));

    expect(answers.map((a) => a.statusCode)).toEqual([204, 204, 204, 204, 204]);
    expect(published.map((e) => e.detailType)).toEqual(['Recording Erased']);
    const outcomes = (await auditOf(recordingSid)).map((e) => e.outcome).sort();
    expect(outcomes).toEqual(['already-erased', 'already-erased', 'already-erased', 'already-erased', 'done']);
  });

  test('a DELETE racing the retention sweep: one of them erases it, one event, by the one that won', async () => {
    const { callId, recordingSid } = await givenStoredRecording(aws, NOW);
    const published: VaultEvent[] = [];
    const twilio = gatedTwilio(2);
    const events = recorder(published);
    const erase = auditedErasure(twilio, events);

    const [answer, expiry] = await Promise.all([
      erase(deleteEvent(callId, recordingSid, 'arn:aws:iam::123456789012:user/officer')),
      expireRecording(recordingSid, erasureDeps(runtime(twilio, events), obs)),
    ]);

    expect(answer.statusCode).toBe(204);
    const ledgerItem = await aws.getLedger(recordingSid);
    expect(['erased', 'expired']).toContain(ledgerItem?.status);
    expect(published).toHaveLength(1);
    const entries = await auditOf(recordingSid);
    if (ledgerItem?.status === 'expired') {
      expect(expiry).toMatchObject({ outcome: 'expired' });
      expect(published[0]).toMatchObject({ detailType: 'Recording Expired', detail: { by: 'retention' } });
      expect(entries.map((e) => e.outcome)).toEqual(['already-erased']);
    } else {
      expect(expiry).toEqual({ outcome: 'gone' });
      expect(published[0]?.detailType).toBe('Recording Erased');
      expect(entries.map((e) => e.outcome)).toEqual(['done']);
    }
  });

  test('a DELETE while the sweep announces its expiry: one Recording Expired, by retention', async () => {
    const { callId, recordingSid } = await givenStoredRecording(aws, NOW);
    const published: VaultEvent[] = [];
    const twilio = gatedTwilio(1);
    const erase = auditedErasure(twilio, recorder(published));
    let answer: number | undefined;
    // The sweep's event is held until a DELETE has come and gone in between.
    const events: EventPublisher = {
      async publish(event) {
        if (answer === undefined) answer = (await erase(deleteEvent(callId, recordingSid, 'local-officer'))).statusCode;
        published.push(event);
      },
    };

    const expiry = await expireRecording(recordingSid, erasureDeps(runtime(twilio, events), obs));

    expect(expiry).toMatchObject({ outcome: 'expired' });
    expect(answer).toBe(204);
    expect(published).toEqual([
      expect.objectContaining({
        detailType: 'Recording Expired',
        detail: expect.objectContaining({ by: 'retention' }),
      }),
    ]);
    expect((await auditOf(recordingSid)).map((e) => e.outcome)).toEqual(['already-erased']);
  });
});

describe('the event of an erasure whose request died after the ledger turned erased', () => {
  test('a repeat within the lease sends nothing; one after it sends the event once', async () => {
    const { callId, recordingSid } = await givenStoredRecording(aws, NOW);
    const ledgerErasure = new LedgerErasure(aws.ddb, LEDGER_TABLE);
    // What a request that died between the ledger's `erased` write and its event leaves.
    expect(await ledgerErasure.markErasing(recordingSid, { callId, callSid: 'unknown' }, NOW)).toBeDefined();
    const finished = await ledgerErasure.markErased(recordingSid, { erasedAt: NOW.toISOString(), erasedBy: 'a' }, NOW);
    expect(finished?.won).toBe(true);
    const published: VaultEvent[] = [];
    const at = (ms: number) =>
      createErasureHandler({
        ...runtime(gatedTwilio(1), recorder(published)),
        now: () => new Date(NOW.getTime() + ms),
      });

    const during = await at(ERASURE_ANNOUNCE_LEASE_MS - 1)(deleteEvent(callId, recordingSid, 'b'));
    expect(during.statusCode).toBe(204);
    expect(published).toEqual([]);

    const after = await at(ERASURE_ANNOUNCE_LEASE_MS + 1)(deleteEvent(callId, recordingSid, 'b'));
    const again = await at(ERASURE_ANNOUNCE_LEASE_MS + 2)(deleteEvent(callId, recordingSid, 'b'));

    expect([after.statusCode, again.statusCode]).toEqual([204, 204]);
    expect(published).toEqual([
      expect.objectContaining({ detailType: 'Recording Erased', detail: expect.objectContaining({ erasedBy: 'a' }) }),
    ]);
  });
});
