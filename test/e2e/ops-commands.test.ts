/**
 * The `npm run redrive` and `npm run status` commands as an operator runs them (tsx, a child
 * process) against the local stack's emulators, found through the same variables as `npm start`;
 * and the resolution of a deployed stage from its CloudFormation outputs (mocked).
 */
import { randomBytes } from 'node:crypto';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { resolveTarget, TargetError } from '../../lib/ops/target';
import { type Emulators, LEDGER_TABLE, startEmulators } from '../helpers/emulators';
import { type SqsEmulator, startSqsEmulator } from '../helpers/sqs-emulator';
import { type CliRun, operatorEnv, runCli } from './harness';

const QUEUE = 'recording-transfer';
const DLQ = 'recording-transfer-dlq';

let aws: Emulators;
let sqs: SqsEmulator;

beforeAll(async () => {
  [aws, sqs] = await Promise.all([startEmulators(), startSqsEmulator([QUEUE, DLQ])]);
});

afterAll(async () => {
  await Promise.all([aws?.stop(), sqs?.stop()]);
});

/** The environment of an operator's shell pointed at these emulators (nothing of this process's AWS_* settings). */
function localEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return operatorEnv({ ...aws.env, AWS_ENDPOINT_URL_SQS: sqs.endpoint, ...extra });
}

function run(script: 'status' | 'redrive', args: string[], env = localEnv()): Promise<CliRun> {
  return runCli(script, args, env);
}

const hex = (n: number) => randomBytes(n).toString('hex');

/** No stack trace, no multi-line dump: one line an operator can act on. */
function expectOneLine(result: CliRun, pattern: RegExp): void {
  expect(result.code).not.toBe(0);
  expect(result.stdout).toBe('');
  expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(pattern)]);
  expect(result.stderr).not.toMatch(/\bat .+:\d+:\d+/);
}

describe('npm run status', () => {
  test('a failed recording with its dead-lettered job, readable and as JSON', async () => {
    const recordingSid = `RE${hex(16)}`;
    const callId = `call-${hex(4)}`;
    const callSid = `CA${hex(16)}`;
    const failure = { errorCode: 'twilio-500', error: 'Twilio answered 500 for the media' };
    await aws.putItem({
      callId,
      twilioCallSid: callSid,
      recordings: { [recordingSid]: { status: 'failed', ...failure } },
    });
    await aws.ddb.send(
      new PutCommand({
        TableName: LEDGER_TABLE,
        Item: {
          recordingSid,
          callId,
          callSid,
          status: 'failed',
          ...failure,
          startedAt: '2024-07-22T17:00:00.000Z',
          day: '2024-07-22',
          updatedAt: '2024-07-22T17:05:00.000Z',
        },
      }),
    );
    await sqs.client.send(
      new SendMessageCommand({
        QueueUrl: sqs.queueUrl(DLQ),
        MessageBody: JSON.stringify({ version: 1, recordingSid, callSid }),
        MessageAttributes: {
          errorCode: { DataType: 'String', StringValue: failure.errorCode },
          error: { DataType: 'String', StringValue: failure.error },
          attempts: { DataType: 'Number', StringValue: '4' },
        },
      }),
    );

    const text = await run('status', ['--recording', recordingSid]);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`call ${callId} (CallSid ${callSid})`);
    expect(text.stdout).toMatch(/ledger +failed \(twilio-500: Twilio answered 500 for the media\)/);
    expect(text.stdout).toMatch(/dead letter +twilio-500 after 4 attempt\(s\)/);

    const json = await run('status', ['--call', callId, '--json']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as { recordings: Array<Record<string, unknown>> };
    expect(report.recordings).toEqual([
      expect.objectContaining({
        recordingSid,
        ledger: expect.objectContaining({ status: 'failed', ...failure }),
        deadLetters: [expect.objectContaining({ errorCode: 'twilio-500', attempts: 4 })],
      }),
    ]);

    // Redrive moves it, and status no longer finds a dead letter for it.
    const redriven = await run('redrive', []);
    expect(redriven.code).toBe(0);
    expect(redriven.stdout.trimEnd().split('\n').at(-1)).toBe('redrive: moved 1');
    expect(redriven.stderr).toContain('the local stack');
    const after = await run('status', ['--recording', recordingSid, '--json']);
    expect(
      (JSON.parse(after.stdout) as { recordings: Array<{ deadLetters: unknown[] }> }).recordings[0]?.deadLetters,
    ).toEqual([]);
    expect((await sqs.visibleMessages(QUEUE)).map((m) => JSON.parse(m.Body ?? '{}').recordingSid)).toContain(
      recordingSid,
    );
  });

  // One test per command line: each spawns a CLI, seconds apiece on a busy machine.
  interface BadArguments {
    readonly name: string;
    readonly script: 'status' | 'redrive';
    readonly args: () => string[];
    readonly error: RegExp;
    readonly env?: () => NodeJS.ProcessEnv;
  }
  const badArguments: BadArguments[] = [
    {
      name: 'no target',
      script: 'status',
      args: () => [],
      error: /^status: give either --recording <RecordingSid> or --call <callId>$/,
    },
    {
      name: 'a malformed RecordingSid',
      script: 'status',
      args: () => ['--recording', 'RE123'],
      error: /^status: --recording must be a RecordingSid/,
    },
    {
      name: 'both --recording and --call',
      script: 'status',
      args: () => ['--recording', `RE${hex(16)}`, '--call', 'x'],
      error: /^status: give either --recording/,
    },
    {
      name: '--recording without its value',
      script: 'status',
      args: () => ['--recording'],
      error: /^status: option '--recording <RecordingSid>' argument missing/,
    },
    {
      name: '--retention with --recording',
      script: 'status',
      args: () => ['--retention', '--recording', `RE${hex(16)}`],
      error: /^status: option '--retention' cannot be used with option '--recording <RecordingSid>'$/,
    },
    {
      name: 'a RETENTION_DAYS that is no number',
      script: 'status',
      args: () => ['--retention'],
      error: /^status: the local stack's retention settings: RETENTION_DAYS must be a whole number/,
      env: () => localEnv({ RETENTION_DAYS: 'thirty' }),
    },
    {
      name: 'an unknown option',
      script: 'redrive',
      args: () => ['--bogus'],
      error: /^redrive: unknown option '--bogus'$/,
    },
    {
      name: 'a stage name with a slash',
      script: 'status',
      args: () => ['--stage', 'no/such', '--call', 'x'],
      error: /^status: --stage must be a stage name/,
    },
  ];
  test.each(badArguments)('bad arguments ($name): one line on stderr, exit 1', async ({ script, args, error, env }) => {
    expectOneLine(await run(script, args(), env?.()), error);
  });

  test('unknown recording: exit 3 with one line', async () => {
    const result = await run('status', ['--recording', `RE${hex(16)}`]);
    expect(result.code).toBe(3);
    expectOneLine(result, /^status: recording RE[0-9a-f]{32} is unknown to the vault: .* \(the local stack\)$/);
  });

  test('the local stack not running: one line that says so, exit 1', async () => {
    const env = localEnv();
    delete env.AWS_ENDPOINT_URL_SQS;
    env.SQS_PORT = String(await closedPort());
    for (const script of ['status', 'redrive'] as const) {
      const result = await run(script, script === 'status' ? ['--call', 'x'] : [], env);
      expect(result.code).toBe(1);
      expectOneLine(
        result,
        new RegExp(`^${script}: the local stack is not reachable: nothing answers at http://127.0.0.1:\\d+ \\(SQS\\)`),
      );
    }
  });
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((done) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

describe('resolveTarget --stage', () => {
  const cfn = mockClient(CloudFormationClient);
  afterEach(() => cfn.reset());

  const outputs = {
    ApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com',
    LedgerTableName: 'RecordingVault-prod-LedgerTable',
    CallsTableName: 'RecordingVault-prod-CallsTable',
    RecordingsBucketName: 'recordingvault-prod-recordings',
    TransferQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/transfer',
    TransferDeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/transfer-dlq',
  };

  test('names come from the outputs of RecordingVault-<stage>; local endpoint variables are ignored', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'RecordingVault-prod' }).resolves({
      Stacks: [
        {
          StackName: 'RecordingVault-prod',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: Object.entries(outputs).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        },
      ],
    });
    const target = await resolveTarget({
      stage: 'prod',
      env: { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9324' },
      cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
    });
    try {
      expect(target).toMatchObject({
        name: 'stage prod (RecordingVault-prod)',
        ledgerTableName: outputs.LedgerTableName,
        callsTableName: outputs.CallsTableName,
        bucketName: outputs.RecordingsBucketName,
        transferQueueUrl: outputs.TransferQueueUrl,
        deadLetterQueueUrl: outputs.TransferDeadLetterQueueUrl,
        callSidIndexName: 'byTwilioCallSid',
      });
      expect(target.sqs.config.ignoreConfiguredEndpointUrls).toBe(true);
      expect(await target.sqs.config.region()).toBe('eu-west-1');
    } finally {
      target.close();
    }
  });

  test('a missing stack or output is a TargetError an operator can act on', async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack with id RecordingVault-qa does not exist'), { name: 'ValidationError' }));
    const client = new CloudFormationClient({ region: 'eu-west-1' });
    await expect(resolveTarget({ stage: 'qa', env: {}, cloudFormation: client })).rejects.toThrow(
      new TargetError(
        'stack RecordingVault-qa does not exist in this account and region: check --stage, AWS_REGION and AWS_PROFILE',
      ),
    );
    cfn.reset();
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'RecordingVault-qa',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [{ OutputKey: 'LedgerTableName', OutputValue: 'x' }],
        },
      ],
    });
    await expect(resolveTarget({ stage: 'qa', env: {}, cloudFormation: client })).rejects.toThrow(
      /lacks the output\(s\) CallsTableName, RecordingsBucketName, TransferQueueUrl, TransferDeadLetterQueueUrl/,
    );
  });
});
