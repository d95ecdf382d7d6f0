import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME } from './vault-function';

export interface ReconcilerScheduleProps {
  /** The recording-reconciler function (lambda/recording-reconciler). */
  readonly function: lambda.Function;
  /** A run every this many minutes (stage `reconcile.intervalMinutes`); 0: no schedule. */
  readonly intervalMinutes: number;
  /** Stage `reconcile.lookbackMinutes`: each run lists again from this long before the last one's end. */
  readonly lookbackMinutes: number;
  /** Stage `reconcile.settleMinutes`: recordings younger than this are left to their callback. */
  readonly settleMinutes: number;
}

/** The `function` dimension the reconciler's metrics carry (its createObservability name). */
export const RECONCILER_METRICS_FUNCTION = 'recording-reconciler';

/**
 * The reconciler's schedule: an EventBridge rule that invokes the function every
 * `intervalMinutes`, and the function's RECONCILE_LOOKBACK_MINUTES / RECONCILE_SETTLE_MINUTES, so
 * that the stage's `reconcile` numbers are set in one place. Also the reconciler's metrics, for
 * the alarms the stack adds.
 */
export class ReconcilerSchedule extends Construct {
  /** Undefined when `intervalMinutes` is 0. */
  readonly rule: events.Rule | undefined;

  constructor(scope: Construct, id: string, props: ReconcilerScheduleProps) {
    super(scope, id);
    const problems = [
      wholeIn('intervalMinutes', props.intervalMinutes, 0, 24 * 60),
      wholeIn('lookbackMinutes', props.lookbackMinutes, 1, 7 * 24 * 60),
      wholeIn('settleMinutes', props.settleMinutes, 0, 24 * 60),
    ].filter((p): p is string => p !== undefined);
    if (problems.length > 0) throw new Error(`ReconcilerSchedule: ${problems.join('; ')}`);

    props.function.addEnvironment('RECONCILE_LOOKBACK_MINUTES', String(props.lookbackMinutes));
    props.function.addEnvironment('RECONCILE_SETTLE_MINUTES', String(props.settleMinutes));
    if (props.intervalMinutes === 0) return;

    const interval = Duration.minutes(props.intervalMinutes);
    this.rule = new events.Rule(this, 'Rule', {
      description: `Runs the Recording Vault reconciler every ${props.intervalMinutes} minutes`,
      schedule: events.Schedule.rate(interval),
      // A run that could not start before the next one is due is that next run's work.
      targets: [new targets.LambdaFunction(props.function, { maxEventAge: maxEventAge(interval), retryAttempts: 2 })],
    });
    Validations.of(this.rule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason:
        'A scheduled reconcile run that is never delivered loses nothing: the checkpoint moves only after a finished run, so the next run lists the same window again.',
    });
  }

  /** Recordings a run queued because the ledger lacked them (callbacks that never arrived): alarm on any. */
  metricMissedCallback(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('MissedCallback', options);
  }

  /** Recordings each run listed; a run that failed reports 0. */
  metricListed(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('ReconcileListed', options);
  }

  /** Runs cut short by their time budget (the checkpoint stayed; repeated ones mean the window is too big for the timeout). */
  metricIncomplete(options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('ReconcileIncomplete', options);
  }

  private metric(metricName: string, options: cloudwatch.MetricOptions): cloudwatch.Metric {
    // Powertools Metrics adds the `service` dimension to the handler's own `function` one.
    return new cloudwatch.Metric({
      namespace: POWERTOOLS_METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: POWERTOOLS_SERVICE_NAME, function: RECONCILER_METRICS_FUNCTION },
      statistic: 'Sum',
      period: Duration.minutes(5),
      ...options,
    });
  }
}

/** EventBridge accepts 60 s … 24 h. */
function maxEventAge(interval: Duration): Duration {
  return Duration.seconds(Math.min(24 * 60 * 60, Math.max(60, interval.toSeconds())));
}

function wholeIn(name: string, value: number, min: number, max: number): string | undefined {
  return Number.isInteger(value) && value >= min && value <= max
    ? undefined
    : `${name} must be a whole number from ${min} to ${max} (got ${value})`;
}
