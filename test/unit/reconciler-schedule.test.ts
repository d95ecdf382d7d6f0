/**
 * The reconciler's schedule construct (lib/constructs/reconciler-schedule.ts): the rule, the
 * function's reconcile settings, the metrics the alarms use, and cdk-nag.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import {
  RECONCILER_METRICS_FUNCTION,
  ReconcilerSchedule,
  type ReconcilerScheduleProps,
} from '../../lib/constructs/reconciler-schedule';

function synth(props: Partial<Omit<ReconcilerScheduleProps, 'function'>> = {}) {
  const stack = new Stack(new App(), 'Test');
  const fn = new lambda.Function(stack, 'Reconciler', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => undefined;'),
  });
  const schedule = new ReconcilerSchedule(stack, 'Reconcile', {
    function: fn,
    intervalMinutes: 15,
    lookbackMinutes: 120,
    settleMinutes: 5,
    ...props,
  });
  return { stack, schedule, template: Template.fromStack(stack) };
}

it('invokes the function every intervalMinutes, events older than one interval dropped', () => {
  const { template } = synth();
  template.hasResourceProperties('AWS::Events::Rule', {
    ScheduleExpression: 'rate(15 minutes)',
    State: 'ENABLED',
    Targets: [
      Match.objectLike({
        Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Reconciler'), 'Arn'] },
        RetryPolicy: { MaximumEventAgeInSeconds: 900, MaximumRetryAttempts: 2 },
      }),
    ],
  });
  template.hasResourceProperties('AWS::Lambda::Permission', {
    Action: 'lambda:InvokeFunction',
    Principal: 'events.amazonaws.com',
  });
});

it('sets the reconcile lookback and settle time of the function', () => {
  const { template } = synth({ lookbackMinutes: 90, settleMinutes: 10 });
  template.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: { RECONCILE_LOOKBACK_MINUTES: '90', RECONCILE_SETTLE_MINUTES: '10' } },
  });
});

it('schedules nothing when intervalMinutes is 0', () => {
  const { template, schedule } = synth({ intervalMinutes: 0 });
  template.resourceCountIs('AWS::Events::Rule', 0);
  expect(schedule.rule).toBeUndefined();
});

it('refuses numbers outside the design ranges, naming each', () => {
  expect(() => synth({ intervalMinutes: 1.5, lookbackMinutes: 0 })).toThrow(
    /intervalMinutes must be a whole number from 0 to 1440 \(got 1\.5\); lookbackMinutes must be a whole number from 1 to 10080/,
  );
});

it('gives the metrics the dimensions Powertools writes for the reconciler', () => {
  const { schedule } = synth();
  expect(schedule.metricMissedCallback().toMetricConfig().metricStat).toMatchObject({
    namespace: 'RecordingVault',
    metricName: 'MissedCallback',
    statistic: 'Sum',
    dimensions: expect.arrayContaining([
      { name: 'service', value: 'recording-vault' },
      { name: 'function', value: 'recording-reconciler' },
    ]),
  });
  expect(RECONCILER_METRICS_FUNCTION).toBe('recording-reconciler');
});

it('leaves cdk-nag nothing to report on the rule', () => {
  const { stack, schedule } = synth();
  const rulePath = schedule.rule?.node.path ?? '';
  const findings = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(stack)
      .violations.filter((v) => v.violatingResources.some((r) => r.constructPath?.startsWith(rulePath)))
      .map((v) => v.ruleName),
  );
  expect(findings).toEqual([]);
});
