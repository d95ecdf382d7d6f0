import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

export interface ReconcilerScheduleProps {
  /** The recording-reconciler function (lambda/recording-reconciler). */
  readonly function: lambda.IFunction;
  /** A run every this many minutes (stage `reconcile.intervalMinutes`, 1 … 1440); 0: no schedule. */
  readonly intervalMinutes: number;
}

/**
 * The reconciler's schedule: an EventBridge rule that invokes the function every
 * `intervalMinutes`. Nothing is scheduled for 0 (the stage turned the reconciler off).
 */
export class ReconcilerSchedule extends Construct {
  /** Undefined when `intervalMinutes` is 0. */
  readonly rule: events.Rule | undefined;

  constructor(scope: Construct, id: string, props: ReconcilerScheduleProps) {
    super(scope, id);
    const minutes = props.intervalMinutes;
    if (!Number.isInteger(minutes) || minutes < 0 || minutes > 24 * 60) {
      throw new Error(`ReconcilerSchedule: intervalMinutes must be a whole number from 0 to 1440 (got ${minutes})`);
    }
    if (minutes === 0) return;

    const interval = Duration.minutes(minutes);
    this.rule = new events.Rule(this, 'Rule', {
      description: `Runs the Recording Vault reconciler every ${minutes} minutes`,
      schedule: events.Schedule.rate(interval),
      // A run that could not start before the next one is due is that next run's work.
      targets: [new targets.LambdaFunction(props.function, { maxEventAge: interval, retryAttempts: 2 })],
    });
    Validations.of(this.rule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason:
        'A scheduled reconcile run that is never delivered loses nothing: the checkpoint moves only after a finished run, so the next run lists the same window again.',
    });
  }
}
