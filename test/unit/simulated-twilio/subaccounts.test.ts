import { SimulatedTwilio } from '../../../lib/simulated-twilio';

const PARENT = { accountSid: `AC${'0'.repeat(32)}`, authToken: 'parent-token' };
const SUB = { accountSid: `AC${'a'.repeat(32)}`, authToken: 'sub-token' };

let twilio: SimulatedTwilio;

beforeAll(async () => {
  twilio = await SimulatedTwilio.start({ ...PARENT, subaccounts: [SUB] });
});

afterAll(async () => {
  await twilio.close();
});

beforeEach(() => twilio.reset());

const basic = (sid: string, token: string) => `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
const get = (path: string, authorization: string) =>
  fetch(`${twilio.baseUrl}${path}`, { headers: { authorization } }).then((r) => r.status);

describe('subaccounts', () => {
  it("serves a subaccount's media under its own path, to its own or its parent's credentials", async () => {
    const recording = twilio.addRecording({ accountSid: SUB.accountSid, size: 100 });

    expect(twilio.recordingPath(recording.sid, 'mp3')).toBe(
      `/2010-04-01/Accounts/${SUB.accountSid}/Recordings/${recording.sid}.mp3`,
    );
    expect(await get(twilio.recordingPath(recording.sid, 'mp3'), basic(SUB.accountSid, SUB.authToken))).toBe(200);
    expect(await get(twilio.recordingPath(recording.sid, 'mp3'), basic(PARENT.accountSid, PARENT.authToken))).toBe(200);
    expect(await get(twilio.recordingPath(recording.sid, 'mp3'), basic(SUB.accountSid, 'wrong'))).toBe(401);
  });

  it("finds a recording under its own account's path only, and lists each account's own", async () => {
    const ofSub = twilio.addRecording({ accountSid: SUB.accountSid, size: 100 });
    const ofParent = twilio.addRecording({ size: 100 });
    const parentAuth = basic(PARENT.accountSid, PARENT.authToken);

    expect(await get(`/2010-04-01/Accounts/${PARENT.accountSid}/Recordings/${ofSub.sid}.mp3`, parentAuth)).toBe(404);
    const list = async (accountSid: string) => {
      const response = await fetch(`${twilio.baseUrl}${twilio.listPath(accountSid)}`, {
        headers: { authorization: parentAuth },
      });
      return ((await response.json()) as { recordings: { sid: string }[] }).recordings.map((r) => r.sid);
    };
    expect(await list(SUB.accountSid)).toEqual([ofSub.sid]);
    expect(await list(PARENT.accountSid)).toEqual([ofParent.sid]);
  });

  it("signs a subaccount's callback with the subaccount's token", async () => {
    const recording = twilio.addRecording({ accountSid: SUB.accountSid, size: 100 });
    const params = twilio.callbackParams(recording);

    expect(params.AccountSid).toBe(SUB.accountSid);
    expect(params.RecordingUrl).toContain(`/Accounts/${SUB.accountSid}/Recordings/`);
    expect(twilio.subaccounts).toEqual([SUB]);
  });
});
