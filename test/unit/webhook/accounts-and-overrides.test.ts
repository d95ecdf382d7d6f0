import '../../helpers/setup-env';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { parseRecordingJob } from '../../../lambda/shared/job/recording-job';
import { createObservability } from '../../../lambda/shared/runtime/observability';
import { staticAccountTokens } from '../../../lambda/shared/twilio/accounts';
import { staticTokens } from '../../../lambda/shared/twilio/signature';
import { createWebhookHandler } from '../../../lambda/webhook/handler';
import { DEFAULT_DOMAIN, twilioCallbackEvent } from '../../helpers/events';
import {
  recordingCallbackParams,
  sid,
  TEST_ACCOUNT_SID,
  TEST_AUTH_TOKEN,
  TEST_AUTH_TOKEN_SECONDARY,
} from '../../helpers/twilio-fixtures';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/recording-transfer';
const SUBACCOUNT_A = sid('AC');
const SUBACCOUNT_B = sid('AC');
const TOKEN_A = 'subaccount-a-token-0123456789abcd';
const TOKEN_B = 'subaccount-b-token-0123456789abcd';
const WEBHOOK_URL = `https://${DEFAULT_DOMAIN}/twilio/recording`;
const sqs = mockClient(SQSClient);

function handlerWith(options: { connectionOverrides?: string; subaccounts?: boolean } = {}) {
  const subaccounts = options.subaccounts ?? true;
  return createWebhookHandler({
    config: {
      accountSid: TEST_ACCOUNT_SID,
      publicBaseUrl: undefined,
      transferQueueUrl: QUEUE_URL,
      subaccountSids: subaccounts ? [SUBACCOUNT_A, SUBACCOUNT_B] : [],
      connectionOverrides: options.connectionOverrides,
    },
    tokens: staticTokens(TEST_AUTH_TOKEN, TEST_AUTH_TOKEN_SECONDARY),
    subaccountTokens: staticAccountTokens(
      new Map([
        [SUBACCOUNT_A, { primary: TOKEN_A }],
        [SUBACCOUNT_B, { primary: TOKEN_B }],
      ]),
    ),
    sqs: new SQSClient({ region: 'us-east-1' }),
    obs: createObservability('recording-webhook-test'),
  });
}

function sentJobs() {
  return sqs.commandCalls(SendMessageCommand).map((call) => parseRecordingJob(call.args[0].input.MessageBody ?? ''));
}

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});

afterAll(() => {
  sqs.restore();
});

describe('several accounts', () => {
  it('accepts a callback from each listed subaccount signed with its own token, and queues it under that account', async () => {
    const handler = handlerWith();
    const fromA = recordingCallbackParams({ accountSid: SUBACCOUNT_A });
    const fromB = recordingCallbackParams({ accountSid: SUBACCOUNT_B });

    const answers = [
      await handler(twilioCallbackEvent({ params: fromA, token: TOKEN_A })),
      await handler(twilioCallbackEvent({ params: fromB, token: TOKEN_B })),
    ];

    expect(answers.map((a) => a.statusCode)).toEqual([204, 204]);
    expect(sentJobs().map((job) => [job.accountSid, job.recordingSid])).toEqual([
      [SUBACCOUNT_A, fromA.RecordingSid],
      [SUBACCOUNT_B, fromB.RecordingSid],
    ]);
  });

  it("still accepts the parent account's callbacks signed with the parent's token", async () => {
    const response = await handlerWith()(twilioCallbackEvent({ params: recordingCallbackParams() }));

    expect(response.statusCode).toBe(204);
    expect(sentJobs()[0]?.accountSid).toBe(TEST_ACCOUNT_SID);
  });

  it("answers 403 to a subaccount's callback signed with another account's token", async () => {
    const handler = handlerWith();

    const withParentToken = await handler(
      twilioCallbackEvent({ params: recordingCallbackParams({ accountSid: SUBACCOUNT_A }), token: TEST_AUTH_TOKEN }),
    );
    const withSiblingToken = await handler(
      twilioCallbackEvent({ params: recordingCallbackParams({ accountSid: SUBACCOUNT_A }), token: TOKEN_B }),
    );

    expect([withParentToken.statusCode, withSiblingToken.statusCode]).toEqual([403, 403]);
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 403 to an account that is not listed, whatever token signed it', async () => {
    const handler = handlerWith();
    const params = recordingCallbackParams({ accountSid: sid('AC') });

    const answers = [
      await handler(twilioCallbackEvent({ params })),
      await handler(twilioCallbackEvent({ params, token: TOKEN_A })),
    ];

    expect(answers.map((a) => a.statusCode)).toEqual([403, 403]);
    expect(JSON.parse(answers[0]?.body ?? '')).toEqual({ error: 'AccountSid does not belong to this deployment' });
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 403 to a subaccount the stage does not list, even signed with its real token', async () => {
    const response = await handlerWith({ subaccounts: false })(
      twilioCallbackEvent({ params: recordingCallbackParams({ accountSid: SUBACCOUNT_A }), token: TOKEN_A }),
    );

    expect(response.statusCode).toBe(403);
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 403 to a callback naming two listed accounts at once', async () => {
    const params = {
      ...recordingCallbackParams({ accountSid: SUBACCOUNT_A }),
      AccountSid: [SUBACCOUNT_A, SUBACCOUNT_B],
    };

    const response = await handlerWith()(twilioCallbackEvent({ params, token: TOKEN_A }));

    expect(response.statusCode).toBe(403);
    expect(sentJobs()).toHaveLength(0);
  });
});

describe('connection-override fragment', () => {
  const FRAGMENT = 'rc=3&rp=all';

  it('accepts a signature over the URL with the stage fragment, and over the URL without it', async () => {
    const handler = handlerWith({ connectionOverrides: FRAGMENT });

    const withFragment = await handler(
      twilioCallbackEvent({ params: recordingCallbackParams(), signedUrl: `${WEBHOOK_URL}#${FRAGMENT}` }),
    );
    const without = await handler(twilioCallbackEvent({ params: recordingCallbackParams() }));

    expect([withFragment.statusCode, without.statusCode]).toEqual([204, 204]);
    expect(sentJobs()).toHaveLength(2);
  });

  it('answers 403 to a signature over the URL with another fragment', async () => {
    const response = await handlerWith({ connectionOverrides: FRAGMENT })(
      twilioCallbackEvent({ params: recordingCallbackParams(), signedUrl: `${WEBHOOK_URL}#rc=5&rp=all` }),
    );

    expect(response.statusCode).toBe(403);
    expect(sentJobs()).toHaveLength(0);
  });

  it('answers 403 to a signature over the URL with a fragment when the stage names none', async () => {
    const response = await handlerWith()(
      twilioCallbackEvent({ params: recordingCallbackParams(), signedUrl: `${WEBHOOK_URL}#${FRAGMENT}` }),
    );

    expect(response.statusCode).toBe(403);
  });

  it("accepts a subaccount's callback signed over the URL with the fragment", async () => {
    const response = await handlerWith({ connectionOverrides: FRAGMENT })(
      twilioCallbackEvent({
        params: recordingCallbackParams({ accountSid: SUBACCOUNT_B }),
        token: TOKEN_B,
        signedUrl: `${WEBHOOK_URL}#${FRAGMENT}`,
      }),
    );

    expect(response.statusCode).toBe(204);
  });
});
