/**
 * `npm run backfill` (bin/backfill.ts) as an operator runs it, in a child process, against the
 * local target (dynalite for the ledger, fauxqs, Twilio's list from the simulated Twilio); and
 * the Twilio account of a target (lib/ops/target.ts), a deployed stage's with CloudFormation and
 * Secrets Manager mocked.
 */
import '../helpers/setup-env';
import { join, resolve } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { parseRecordingJob } from '../../lambda/shared/job/recording-job';
import { resolveTarget, stageTokens, twilioAccount } from '../../lib/ops/target';
import { SimulatedTwilio } from '../../lib/simulated-twilio';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../helpers/emulators';
import { type SqsEmulator, startSqsEmulator } from '../helpers/sqs-emulator';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../helpers/twilio-fixtures';
import { type CliRun, runCli } from './harness';

const ROOT = resolve(__dirname, '..', '..');
const QUEUE = 'recording-transfer';

function backfill(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return runCli('backfill', args, {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...env,
  });
}

const lines = (text: string) => text.split('\n').filter((line) => line !== '');

describe('arguments and targets it cannot use', () => {
  it.each([
    [[], /required option '--from <date>'/],
    [
      ['--from', '2024-07-01', '--to', '2024-07-02', '--stage', 'prod', '--stage-typo'],
      /unknown option '--stage-typo'/,
    ],
    [['--from', '2024-07-01'], /required option '--to <date>'/],
    [['--from', '2024-02-30', '--to', '2024-03-02'], /'2024-02-30' is invalid.*ISO date/],
    [['--from', '2024-07-02', '--to', '2024-07-01'], /--from must be before --to/],
    [['--from', '2024-07-01', '--to', '2024-07-02', '--stage', 'nope'], /unknown stage; known stages: dev, prod/],
  ])('%j: one line on stderr, a non-zero exit', async (args, message) => {
    const result = await backfill(args, { TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID, TWILIO_AUTH_TOKEN: 'x' });
    expect(result.code).not.toBe(0);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(message)]);
    expect(result.stdout).toBe('');
  });

  it('names the local stack it cannot reach, without a stack trace', async () => {
    const result = await backfill(['--from', '2024-07-01', '--to', '2024-07-02'], {
      TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: 'x',
      SQS_PORT: '1', // nothing listens there
    });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([
      expect.stringMatching(
        /^backfill: the local stack is not reachable: nothing answers at http:\/\/127\.0\.0\.1:1 .*npm start/,
      ),
    ]);
  });
});

describe('a backfill of the local stack', () => {
  let aws: Emulators;
  let sqs: SqsEmulator;
  let twilio: SimulatedTwilio;
  let env: Record<string, string>;

  beforeAll(async () => {
    [aws, sqs, twilio] = await Promise.all([
      startEmulators(),
      startSqsEmulator([QUEUE, 'recording-transfer-dlq']),
      SimulatedTwilio.start({ accountSid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN }),
    ]);
    env = {
      TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
      TWILIO_API_BASE_URL: twilio.baseUrl,
      AWS_ENDPOINT_URL_DYNAMODB: aws.dynamodbEndpoint,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    };
    // Two days of recordings: 2024-07-01 and 2024-07-02, one an hour; the first five stored, the next three absent.
    for (let hour = 0; hour < 48; hour++) {
      const { sid } = twilio.addRecording({
        dateCreated: new Date(Date.UTC(2024, 6, 1, hour, 30)),
        status: hour >= 5 && hour < 8 ? 'absent' : 'completed',
        media: Buffer.alloc(0),
      });
      if (hour < 5) {
        await aws.ddb.send(new PutCommand({ TableName: LEDGER_TABLE, Item: { recordingSid: sid, status: 'stored' } }));
      }
    }
  });

  afterAll(async () => {
    await Promise.all([aws.stop(), sqs.stop(), twilio.close()]);
  });

  it('lists a dry run, queues nothing, and ends with the counts line', async () => {
    const result = await backfill(['--from', '2024-07-01', '--to', '2024-07-02', '--dry-run'], env);

    expect(result.code).toBe(0);
    expect(lines(result.stdout).at(-1)).toBe('backfill: listed 24, already stored 5, queued 16, skipped 3');
    expect(await sqs.depth(QUEUE)).toBe(0);
  });

  it('queues the completed recordings of [from, to) the ledger lacks, with plain progress lines off a terminal', async () => {
    const result = await backfill(['--from', '2024-07-01T00:00:00Z', '--to', '2024-07-02T12:00:00Z'], env);

    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual(['backfill: listed 36, already stored 5, queued 28, skipped 3']);
    expect(lines(result.stderr)[0]).toMatch(
      /^backfill: the local stack, recordings created from 2024-07-01T00:00:00.000Z/,
    );
    expect(lines(result.stderr).slice(1)).toContainEqual(
      expect.stringMatching(/^backfill: \d+% \(back to .*\), listed \d+, already stored \d+, queued \d+, skipped \d+/),
    );
    const jobs = (await sqs.visibleMessages(QUEUE)).map((m) => parseRecordingJob(m.Body ?? ''));
    expect(jobs).toHaveLength(28);
    expect(new Set(jobs.map((j) => j.origin))).toEqual(new Set(['backfill']));
    expect(jobs.every((j) => j.startedAt >= '2024-07-01' && j.startedAt < '2024-07-02T12')).toBe(true);
    expect(result.stderr).not.toContain(TEST_AUTH_TOKEN);
  });

  it('fails with one line when Twilio refuses the token', async () => {
    const result = await backfill(['--from', '2024-07-01', '--to', '2024-07-02'], {
      ...env,
      TWILIO_AUTH_TOKEN: 'not-the-token',
    });

    expect(result.code).toBe(1);
    expect(lines(result.stderr).at(-1)).toMatch(
      /^backfill: TwilioApiError: Twilio answered 401 \(code 20003\).*auth token$/,
    );
    expect(result.stderr).not.toContain('not-the-token');
  });
});

describe('the Twilio account of a deployed stage', () => {
  const cloudformation = mockClient(CloudFormationClient);
  const secrets = mockClient(SecretsManagerClient);
  const cdkJsonPath = join(ROOT, 'cdk.json');
  const outputs = {
    LedgerTableName: 'RecordingVault-prod-LedgerTable',
    TransferQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/transfer',
    TransferDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/transfer-dlq',
    TwilioSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:twilio-AbCdEf',
    CallsTableName: 'RecordingVault-prod-Calls',
    RecordingsBucketName: 'recordingvault-prod-recordings',
  };
  const stack = (values: Record<string, string>) => ({
    Stacks: [
      {
        StackName: 'RecordingVault-prod',
        StackStatus: 'UPDATE_COMPLETE' as const,
        CreationTime: new Date(),
        Outputs: Object.entries(values).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
  const env = { AWS_REGION: 'eu-west-1' };

  beforeEach(() => {
    cloudformation.reset();
    secrets.reset();
    cloudformation.on(DescribeStacksCommand, { StackName: 'RecordingVault-prod' }).resolves(stack(outputs));
  });

  afterAll(() => {
    cloudformation.restore();
    secrets.restore();
  });

  it('is the stage in cdk.json, with the token from the secret the stack names', async () => {
    secrets
      .on(GetSecretValueCommand, { SecretId: outputs.TwilioSecretArn })
      .resolves({ SecretString: JSON.stringify({ authToken: 'the-prod-token' }) });

    const account = twilioAccount({ stage: 'prod', cdkJsonPath, env });
    const target = await resolveTarget({ stage: 'prod', env });
    try {
      expect(account).toEqual({
        accountSid: 'AC00000000000000000000000000000000',
        twilioApiBaseUrl: 'https://api.twilio.com',
        tokens: undefined,
        subaccounts: [],
      });
      expect(target.twilioSecretArn).toBe(outputs.TwilioSecretArn);
      expect(await (await stageTokens(target))()).toEqual({ primary: 'the-prod-token', secondary: undefined });
    } finally {
      target.close();
    }
  });

  it('names the known stages for one cdk.json does not have, before asking AWS', () => {
    expect(() => twilioAccount({ stage: 'nope', cdkJsonPath, env })).toThrow(
      expect.objectContaining({
        name: 'TargetError',
        message: expect.stringMatching(/unknown stage; known stages: dev, prod .*--stage <name>/),
      }),
    );
    expect(cloudformation.calls()).toHaveLength(0);
  });

  it.each([
    [
      'a secret with no token yet',
      () => secrets.on(GetSecretValueCommand).resolves({ SecretString: 'generated-placeholder' }),
      /^stage prod \(RecordingVault-prod\): The Twilio secret has no authToken/,
    ],
    [
      'a secret the operator may not read',
      () =>
        secrets
          .on(GetSecretValueCommand)
          .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' })),
      /^cannot read the Twilio secret of stage prod \(RecordingVault-prod\): AccessDeniedException: not authorized$/,
    ],
  ])('fails with one line for %s', async (_what, given, message) => {
    given();
    const target = await resolveTarget({ stage: 'prod', env });
    try {
      await expect(stageTokens(target)).rejects.toMatchObject({
        name: 'TargetError',
        message: expect.stringMatching(message),
      });
    } finally {
      target.close();
    }
  });

  it("reads the local stack's account from the variables of npm start, every problem named", () => {
    expect(twilioAccount({ env: { TWILIO_ACCOUNT_SID: TEST_ACCOUNT_SID, TWILIO_AUTH_TOKEN: 't' } })).toMatchObject({
      accountSid: TEST_ACCOUNT_SID,
      twilioApiBaseUrl: 'https://api.twilio.com',
    });
    expect(() => twilioAccount({ env: { TWILIO_ACCOUNT_SID: 'AC1' } })).toThrow(
      "the local stack's Twilio settings: TWILIO_ACCOUNT_SID must look like AC followed by 32 hex characters; TWILIO_AUTH_TOKEN is required",
    );
  });
});
