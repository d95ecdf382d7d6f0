/**
 * Legal holds in the ledger against dynalite and s3rver: placing and releasing, repeats, and the
 * guarantee that a hold and an erasure never both win: a held recording refuses DELETE with 409
 * naming the hold before anything is touched, and a hold cannot be placed once an erasure began.
 */
import '../../../helpers/setup-env';
import { createErasureHandler } from '../../../../lambda/erasure/handler';
import type { VaultEvent } from '../../../../lambda/shared/ledger/events';
import { LedgerErasure } from '../../../../lambda/shared/ledger/ledger-erasure';
import { LedgerHold } from '../../../../lambda/shared/ledger/ledger-hold';
import { createObservability } from '../../../../lambda/shared/runtime/observability';
import type { TwilioApi } from '../../../../lambda/shared/twilio/rest-api';
import { staticTokens } from '../../../../lambda/shared/twilio/signature';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../../../helpers/emulators';
import { ERASURE_TEST_CONFIG } from '../../../helpers/erasure-suite';
import { httpApiEvent } from '../../../helpers/events';
import { givenStoredRecording } from '../../../helpers/stored-recording';
import { newRecordingSid } from '../../../helpers/twilio-fixtures';

const NOW = new Date('2024-07-23T09:00:00.000Z');
const LEGAL = 'arn:aws:sts::123456789012:assumed-role/legal/carol';
const HOLD = { by: LEGAL, at: NOW.toISOString(), reason: 'Case 24-117: preserve all calls of cust-7' };

let aws: Emulators;
let holds: LedgerHold;
let ledgerErasure: LedgerErasure;
const twilioDeletes: string[] = [];
const published: VaultEvent[] = [];

beforeAll(async () => {
  aws = await startEmulators();
  holds = new LedgerHold(aws.ddb, LEDGER_TABLE);
  ledgerErasure = new LedgerErasure(aws.ddb, LEDGER_TABLE);
});

afterAll(async () => {
  await aws.stop();
});

beforeEach(() => {
  twilioDeletes.length = 0;
  published.length = 0;
});

const givenStored = () => givenStoredRecording(aws, NOW);

const twilio: TwilioApi = {
  async deleteRecording(recordingSid) {
    twilioDeletes.push(recordingSid);
  },
  fetchRecordingAudio: async () => {
    throw new Error('unused');
  },
  getRecordingDetails: async () => {
    throw new Error('unused');
  },
  getCallDetails: async () => {
    throw new Error('unused');
  },
};

async function erase(callId: string, recordingSid: string) {
  const handler = createErasureHandler({
    config: ERASURE_TEST_CONFIG,
    tokens: staticTokens('unused'),
    s3: aws.s3,
    ddb: aws.ddb,
    twilio,
    events: { publish: async (event) => void published.push(event) },
    obs: createObservability('hold-test'),
    now: () => NOW,
  });
  const event = httpApiEvent({
    method: 'DELETE',
    path: `/calls/${callId}/recordings/${recordingSid}`,
    routeKey: 'DELETE /calls/{callId}/recordings/{recordingSid}',
    pathParameters: { callId, recordingSid },
  });
  Object.assign(event.requestContext, { authorizer: { iam: { userArn: 'arn:aws:iam::123456789012:user/ops' } } });
  const response = await handler(event);
  return { status: response.statusCode, body: JSON.parse(response.body || '{}') as Record<string, unknown> };
}

describe('LedgerHold', () => {
  it('records who, when and why, marks the item held, and leaves the first hold standing on a repeat', async () => {
    const { recordingSid } = await givenStored();
    const placed = await holds.placeHold(recordingSid, HOLD, NOW);
    expect(placed.result).toBe('held');
    const again = await holds.placeHold(recordingSid, { ...HOLD, by: 'someone-else', reason: 'other' }, NOW);
    expect(again.result).toBe('already-held');
    const item = await aws.getLedger(recordingSid);
    expect(item).toMatchObject({ status: 'stored', hold: HOLD, holdState: 'held' });
    expect(item?.notes).toEqual([`${HOLD.at} legal hold placed by ${LEGAL}: ${HOLD.reason}`]);
  });

  it('keeps a reason of 500 emoji whole in its note, never half a character', async () => {
    const { recordingSid } = await givenStored();
    const reason = '\u{1F4DE}'.repeat(500);

    await holds.placeHold(recordingSid, { ...HOLD, reason }, NOW);

    const [note = ''] = ((await aws.getLedger(recordingSid))?.notes as string[] | undefined) ?? [];
    expect(note.endsWith(`: ${reason}`)).toBe(true);
    expect(note).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
  });

  it('releases with a note naming who released it, and keeps the item findable as released', async () => {
    const { recordingSid } = await givenStored();
    await holds.placeHold(recordingSid, HOLD, NOW);
    const later = new Date(NOW.getTime() + 60_000);
    const released = await holds.releaseHold(recordingSid, 'arn:aws:iam::123456789012:user/counsel', later);
    expect(released).toMatchObject({ result: 'released', hold: HOLD });
    expect((await holds.releaseHold(recordingSid, 'x', later)).result).toBe('not-held');
    const item = await aws.getLedger(recordingSid);
    expect(item?.hold).toBeUndefined();
    expect(item).toMatchObject({ status: 'stored', holdState: 'released' });
    expect(item?.notes).toContain(
      `${later.toISOString()} legal hold released by arn:aws:iam::123456789012:user/counsel`,
    );
  });

  it('answers not-found for a recording the ledger does not know, and creates nothing', async () => {
    const recordingSid = newRecordingSid();
    expect((await holds.placeHold(recordingSid, HOLD, NOW)).result).toBe('not-found');
    expect((await holds.releaseHold(recordingSid, LEGAL, NOW)).result).toBe('not-found');
    expect(await aws.getLedger(recordingSid)).toBeUndefined();
  });

  it('refuses a hold once an erasure has started', async () => {
    const { callId, callSid, recordingSid } = await givenStored();
    expect(await ledgerErasure.markErasing(recordingSid, { callId, callSid }, NOW)).toBeDefined();
    const outcome = await holds.placeHold(recordingSid, HOLD, NOW);
    expect(outcome.result).toBe('erased');
    expect((await aws.getLedger(recordingSid))?.hold).toBeUndefined();
  });

  it('keeps an erasure from starting on a held recording, whatever the erasure read before', async () => {
    const { callId, callSid, recordingSid } = await givenStored();
    await holds.placeHold(recordingSid, HOLD, NOW);
    expect(await ledgerErasure.markErasing(recordingSid, { callId, callSid }, NOW)).toBeUndefined();
    expect((await aws.getLedger(recordingSid))?.status).toBe('stored');
  });
});

describe('erasure of a held recording', () => {
  it('answers 409 naming the hold and touches nothing: object, Twilio, ledger, call item, events', async () => {
    const { callId, recordingSid, key } = await givenStored();
    await holds.placeHold(recordingSid, HOLD, NOW);
    const before = await aws.getItem(callId);

    const response = await erase(callId, recordingSid);

    expect(response.status).toBe(409);
    expect(response.body.hold).toEqual(HOLD);
    expect(response.body.error).toContain('legal hold');
    expect(response.body.error).toContain(HOLD.reason);
    expect(await aws.getObject(key)).toBeDefined();
    expect(twilioDeletes).toEqual([]);
    expect(published).toEqual([]);
    expect((await aws.getLedger(recordingSid))?.status).toBe('stored');
    expect(await aws.getItem(callId)).toEqual(before);
  });

  it('erases normally once the hold is released, and the item leaves the hold index', async () => {
    const { callId, recordingSid, key } = await givenStored();
    await holds.placeHold(recordingSid, HOLD, NOW);
    await holds.releaseHold(recordingSid, LEGAL, NOW);

    expect((await erase(callId, recordingSid)).status).toBe(204);

    expect(await aws.getObject(key)).toBeUndefined();
    const item = await aws.getLedger(recordingSid);
    expect(item?.status).toBe('erased');
    expect(item?.holdState).toBeUndefined();
  });
});
