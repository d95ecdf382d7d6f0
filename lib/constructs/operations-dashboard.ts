import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AUDIT_WRITE_FAILED } from '../../lambda/shared/audit/audit-trail';
import { POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_SERVICE_NAME } from './vault-function';

/** The `function` dimension each handler reports its metrics under (lambda/<name>/handler.ts). */
export const VAULT_FUNCTION_NAMES = [
  'recording-webhook',
  'recording-transfer',
  'recordings-read',
  'recording-reconciler',
  'recording-erasure',
  'recording-hold',
  'recording-retention',
] as const;
export type VaultFunctionName = (typeof VAULT_FUNCTION_NAMES)[number];

/** The stack's functions by their metric name; a function a stage does not deploy is left out. */
export type VaultFunctions = Readonly<Partial<Record<VaultFunctionName, lambda.IFunction>>>;

/** The functions that write the access audit trail, and count an entry they could not write (`AuditWriteFailed`). */
export const AUDIT_WRITERS = ['recordings-read', 'recording-erasure', 'recording-hold', 'recording-retention'] as const;

/** The audit writers the stage deploys (no retention function without `retention`). */
export function deployedAuditWriters(functions: VaultFunctions): VaultFunctionName[] {
  return AUDIT_WRITERS.filter((name) => functions[name] !== undefined);
}

/** How a function is called in titles and construct ids. */
export const FUNCTION_LABELS: Readonly<Record<VaultFunctionName, string>> = {
  'recording-webhook': 'Webhook',
  'recording-transfer': 'Transfer',
  'recordings-read': 'RecordingsRead',
  'recording-reconciler': 'Reconciler',
  'recording-erasure': 'Erasure',
  'recording-hold': 'Hold',
  'recording-retention': 'Retention',
};

export const DASHBOARD_PERIOD = Duration.minutes(5);

/**
 * One of the vault's own metrics. Powertools adds `service` to the `function` default dimension,
 * and CloudWatch matches the whole dimension set: a query on `function` alone finds nothing.
 */
export function vaultMetric(
  functionName: VaultFunctionName,
  metricName: string,
  options: { readonly statistic?: string; readonly period?: Duration; readonly label?: string } = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: POWERTOOLS_METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: POWERTOOLS_SERVICE_NAME, function: functionName },
    statistic: options.statistic ?? 'Sum',
    period: options.period ?? DASHBOARD_PERIOD,
    // A label would make an alarm's metric a query (`Metrics`) instead of a plain metric.
    ...(options.label === undefined ? {} : { label: options.label }),
  });
}

/** The transfer queue's oldest job age (seconds; SQS reports it per minute). */
export function oldestJobAge(queue: sqs.IQueue, period = Duration.minutes(1)): cloudwatch.Metric {
  return queue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum' });
}

export interface OperationsDashboardProps {
  readonly stage: string;
  readonly functions: VaultFunctions;
  readonly transferQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly api: apigwv2.IHttpApi;
  /** Drawn as a line on the oldest-job graph (the alarm's threshold). */
  readonly oldestJobAgeSeconds?: number;
}

/**
 * The stage's CloudWatch dashboard `RecordingVault-<stage>`: is every callback turned into a
 * stored recording, how long does it take, what is waiting or parked, and is anything failing.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    this.dashboardName = `RecordingVault-${props.stage}`;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: Duration.hours(24),
    });

    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 8, height: 6, ...extra });
    const fn = (name: VaultFunctionName, metric: string, label?: string) =>
      vaultMetric(name, metric, label === undefined ? {} : { label });

    const transfer = props.functions['recording-transfer'];
    const { transferQueue: queue, deadLetterQueue: dlq, api } = props;

    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# Recording Vault (${props.stage})\nCallbacks in, recordings stored, jobs waiting or parked in the dead-letter queue. A job in the DLQ: fix the cause (README, Operations), then \`npm run redrive -- --stage ${props.stage}\`; one recording: \`npm run status -- --stage ${props.stage} --recording <RecordingSid>\`.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('Callbacks', [
        fn('recording-webhook', 'CallbackAccepted', 'Accepted'),
        fn('recording-webhook', 'CallbackRejected', 'Rejected'),
        fn('recording-webhook', 'CallbackIgnored', 'Ignored'),
        fn('recording-webhook', 'CallbackFailed', 'Failed'),
      ]),
      graph('Transfers', [
        fn('recording-transfer', 'RecordingStored', 'Stored'),
        fn('recording-transfer', 'TransferRetried', 'Retried'),
        fn('recording-transfer', 'TransferFailed', 'Failed'),
        fn('recording-transfer', 'DuplicateJob', 'Duplicate jobs'),
        fn('recording-transfer', 'UnmatchedCallSid', 'Unmatched CallSid'),
      ]),
      graph('Bytes stored', [fn('recording-transfer', 'RecordingBytes', 'Bytes')]),
    );
    this.dashboard.addWidgets(
      graph(
        'Transfer duration',
        transfer
          ? [
              transfer.metricDuration({ statistic: 'p50', period: DASHBOARD_PERIOD, label: 'p50' }),
              transfer.metricDuration({ statistic: 'p99', period: DASHBOARD_PERIOD, label: 'p99' }),
            ]
          : [],
      ),
      graph(
        'Transfer queue',
        [
          queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: 'Waiting' }),
          queue.metricApproximateNumberOfMessagesNotVisible({
            statistic: 'Maximum',
            label: 'In flight or backing off',
          }),
        ],
        { right: [oldestJobAge(queue)] },
      ),
      graph(
        'Oldest queued job (s)',
        [oldestJobAge(queue)],
        props.oldestJobAgeSeconds === undefined
          ? {}
          : { leftAnnotations: [{ value: props.oldestJobAgeSeconds, label: 'Alarm' }] },
      ),
    );
    this.dashboard.addWidgets(
      new cloudwatch.SingleValueWidget({
        title: 'Dead-letter queue',
        metrics: [dlq.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: 'Jobs in the DLQ' })],
        width: 8,
        height: 6,
      }),
      graph('Missed callbacks (reconciler)', [
        fn('recording-reconciler', 'MissedCallback', 'Missed callbacks'),
        fn('recording-reconciler', 'ReconcileIncomplete', 'Runs cut short'),
      ]),
      graph('Playback and erasure', [
        fn('recordings-read', 'PlaybackUrlIssued', 'Playback URLs issued'),
        fn('recordings-read', 'PlaybackListed', 'Listings'),
        fn('recording-erasure', 'RecordingErased', 'Erased'),
      ]),
    );
    this.dashboard.addWidgets(
      graph('API 4xx / 5xx', [
        api.metricClientError({ period: DASHBOARD_PERIOD, statistic: 'Sum', label: '4xx' }),
        api.metricServerError({ period: DASHBOARD_PERIOD, statistic: 'Sum', label: '5xx' }),
      ]),
      graph('API latency (ms)', [
        api.metricLatency({ period: DASHBOARD_PERIOD, statistic: 'p50', label: 'p50' }),
        api.metricLatency({ period: DASHBOARD_PERIOD, statistic: 'p99', label: 'p99' }),
      ]),
      graph('Twilio and events', [
        fn('recording-transfer', 'TwilioDeleteFailed', 'Twilio deletes failed'),
        fn('recording-transfer', 'EventPublishFailed', 'Events not published'),
        fn('recording-reconciler', 'ReconcileListed', 'Listed by the reconciler'),
      ]),
    );

    this.dashboard.addWidgets(
      graph(
        'Audit entries not written',
        deployedAuditWriters(props.functions).map((name) => fn(name, AUDIT_WRITE_FAILED, FUNCTION_LABELS[name])),
        { width: 12 },
      ),
      graph(
        'Retention sweep',
        props.functions['recording-retention']
          ? [
              fn('recording-retention', 'RecordingsExpired', 'Expired'),
              fn('recording-retention', 'RetentionFailed', 'Failed (erasure or audit entry)'),
            ]
          : [],
        { width: 12 },
      ),
    );

    const deployed = VAULT_FUNCTION_NAMES.flatMap((name) => {
      const f = props.functions[name];
      return f ? [[name, f] as const] : [];
    });
    this.dashboard.addWidgets(
      graph(
        'Function errors',
        deployed.map(([name, f]) =>
          f.metricErrors({ period: DASHBOARD_PERIOD, statistic: 'Sum', label: FUNCTION_LABELS[name] }),
        ),
        { width: 12 },
      ),
      graph(
        'Function throttles',
        deployed.map(([name, f]) =>
          f.metricThrottles({ period: DASHBOARD_PERIOD, statistic: 'Sum', label: FUNCTION_LABELS[name] }),
        ),
        { width: 12 },
      ),
    );
  }

  /** The console address of the dashboard, in the stack's region. */
  get url(): string {
    const region = Stack.of(this).region;
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboardName}`;
  }
}
