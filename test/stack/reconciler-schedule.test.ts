/**
 * The reconciler's constructs: ReconcilerFunction (lib/constructs/reconciler-function.ts: its
 * environment, exactly its grants, no retries of a failed run) and ReconcilerSchedule (the rule),
 * synthesized in a stack of their own with bundling skipped, and cdk-nag on them.
 */
import * as path from 'node:path';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { RECONCILER_CHECKPOINT_KEY } from '../../lambda/shared/config/env-names';
import type { ReconcileConfig } from '../../lib/config';
import { ReconcilerFunction } from '../../lib/constructs/reconciler-function';
import { ReconcilerSchedule } from '../../lib/constructs/reconciler-schedule';
import { RecordingsLedger } from '../../lib/constructs/recordings-ledger';
import { TransferQueue } from '../../lib/constructs/transfer-queue';
import { twilioSecret } from '../../lib/constructs/twilio-secret';
import { VaultKey } from '../../lib/constructs/vault-key';

const ENTRY = path.join(__dirname, '..', '..', 'lambda', 'reconciler', 'index.ts');
const RECONCILE: ReconcileConfig = { intervalMinutes: 15, lookbackMinutes: 120, settleMinutes: 5 };

function synth(reconcile: ReconcileConfig = RECONCILE, kmsKey = false) {
  // Bundling skipped: these tests look at the template, not the code.
  const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
  const removalPolicy = RemovalPolicy.DESTROY;
  const encryptionKey = kmsKey ? new VaultKey(stack, 'Key', { stage: 'test', removalPolicy }).key : undefined;
  const ledger = new RecordingsLedger(stack, 'Ledger', { removalPolicy, encryptionKey, indexShards: 2 });
  const transferQueue = new TransferQueue(stack, 'Transfer', {
    consumerTimeout: Duration.minutes(5),
    maxReceiveCount: 5,
    removalPolicy,
    encryptionKey,
  });
  const reconciler = new ReconcilerFunction(stack, 'Reconciler', {
    entry: ENTRY,
    logRetention: 14,
    logRemovalPolicy: removalPolicy,
    twilioAccountSid: `AC${'0'.repeat(32)}`,
    twilioApiBaseUrl: 'https://api.twilio.com',
    twilioSecret: twilioSecret(stack, 'TwilioSecret', { stage: 'test', removalPolicy }),
    reconcile,
    ledger,
    transferQueue,
    encryptionKey,
  });
  return { stack, reconciler, template: Template.fromStack(stack) };
}

function nagFindings(stack: Stack): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(stack)
      .violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
  );
}

let dev: ReturnType<typeof synth>;
beforeAll(() => {
  dev = synth();
});

it('invokes the function every intervalMinutes; an event older than one interval is dropped', () => {
  dev.template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(15 minutes)',
    State: 'ENABLED',
    Targets: [
      Match.objectLike({
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReconcilerFunction'), 'Arn'] },
        RetryPolicy: { MaximumEventAgeInSeconds: 900, MaximumRetryAttempts: 2 },
      }),
    ],
  });
  dev.template.hasResourceProperties('AWS::Lambda::Permission', {
    Action: 'lambda:InvokeFunction',
    Principal: 'events.amazonaws.com',
  });
});

it('is told its account, secret, ledger, queue and window, and never retries a failed run', () => {
  dev.template.hasResourceProperties('AWS::Lambda::Function', {
    Timeout: 300,
    Environment: {
      Variables: Match.objectLike({
        TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
        TWILIO_SECRET_ARN: Match.anyValue(),
        TWILIO_API_BASE_URL: 'https://api.twilio.com',
        LEDGER_TABLE: Match.anyValue(),
        TRANSFER_QUEUE_URL: Match.anyValue(),
        RECONCILE_LOOKBACK_MINUTES: '120',
        RECONCILE_SETTLE_MINUTES: '5',
      }),
    },
  });
  dev.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 0 });
});

it('may look recordings up, keep its own checkpoint and nothing else of the ledger, and send jobs', () => {
  const policies = dev.template.findResources('AWS::IAM::Policy');
  const statements = Object.values(policies).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Array<Record<string, unknown>> } } }).Properties.PolicyDocument
        .Statement,
  );
  const actions = statements.flatMap((s) => [s.Action].flat() as string[]);
  expect(statements.find((s) => s.Sid === 'LookUpRecordings')).toMatchObject({ Action: 'dynamodb:BatchGetItem' });
  expect(statements.find((s) => s.Sid === 'KeepCheckpoint')).toMatchObject({
    Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
    Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [RECONCILER_CHECKPOINT_KEY] } },
  });
  expect(actions).toEqual(expect.arrayContaining(['sqs:SendMessage', 'secretsmanager:GetSecretValue']));
  expect(
    actions.filter((a) => /^(s3|dynamodb:(PutItem|DeleteItem|Query|Scan|BatchWriteItem))|sqs:(Receive|Delete)/.test(a)),
  ).toEqual([]);
});

it('gets the stage key for the ledger and the queue when the data is encrypted with one', () => {
  const { template } = synth(RECONCILE, true);
  const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Array<{ Action: unknown }> } } }).Properties.PolicyDocument
        .Statement,
  );
  expect(statements.flatMap((s) => [s.Action].flat())).toEqual(
    expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey']),
  );
});

it('schedules nothing when intervalMinutes is 0, and ends a run before the next one at short intervals', () => {
  const off = synth({ ...RECONCILE, intervalMinutes: 0 });
  off.template.resourceCountIs('AWS::Events::Rule', 0);
  expect(off.reconciler.schedule.rule).toBeUndefined();

  const often = synth({ ...RECONCILE, intervalMinutes: 2 });
  often.template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 120 });
  often.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(2 minutes)' });
});

it('refuses an interval outside 0 … 1440 minutes', () => {
  const stack = new Stack();
  const fn = lambda.Function.fromFunctionName(stack, 'Fn', 'reconciler');
  expect(() => new ReconcilerSchedule(stack, 'Schedule', { function: fn, intervalMinutes: 1.5 })).toThrow(
    'intervalMinutes must be a whole number from 0 to 1440 (got 1.5)',
  );
});

it('leaves cdk-nag nothing unacknowledged', () => {
  expect(nagFindings(dev.stack)).toEqual([]);
  expect(nagFindings(synth(RECONCILE, true).stack)).toEqual([]);
});
