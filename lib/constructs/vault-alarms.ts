import { CfnOutput, type Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { AUDIT_WRITE_FAILED } from '../../lambda/shared/audit/audit-trail';
import type { StageConfig } from '../config';
import { ALARM_PERIOD, type AlarmTopic } from './alarm-topic';
import {
  deployedAuditWriters,
  FUNCTION_LABELS,
  OperationsDashboard,
  oldestJobAge,
  VAULT_FUNCTION_NAMES,
  type VaultFunctions,
  vaultMetric,
} from './operations-dashboard';

export interface VaultOperationsProps {
  /** The stage's name (dashboard name) and alarm thresholds. */
  readonly config: Pick<StageConfig, 'name' | 'alarms'>;
  /** The stage's alarm topic; the alarms below are added to it. */
  readonly alarms: AlarmTopic;
  readonly functions: VaultFunctions;
  readonly transferQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly api: apigwv2.IHttpApi;
}

export interface VaultOperations {
  readonly dashboard: OperationsDashboard;
  /** The alarms added here, by construct id (the stack's own DLQ and 5xx alarms are not among them). */
  readonly alarms: Readonly<Record<string, cloudwatch.Alarm>>;
}

/**
 * The stage's operations view, wired in one call from the stack: the dashboard (and its URL as
 * the `DashboardUrl` output) and the alarms that say a recording may be late or lost. The stack
 * keeps its own DLQ-depth and API-5xx alarms.
 */
export function addVaultOperations(stack: Stack, props: VaultOperationsProps): VaultOperations {
  const { config, alarms: topic, functions, transferQueue } = props;
  const thresholds = config.alarms;
  const dashboard = new OperationsDashboard(stack, 'OperationsDashboard', {
    stage: config.name,
    functions,
    transferQueue,
    deadLetterQueue: props.deadLetterQueue,
    api: props.api,
    oldestJobAgeSeconds: thresholds.oldestJobAgeSeconds,
  });
  new CfnOutput(stack, 'DashboardUrl', {
    value: dashboard.url,
    description: 'CloudWatch dashboard of the stage: callbacks, transfers, queues, API, functions',
  });

  const added: Record<string, cloudwatch.Alarm> = {};
  const add = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
    added[id] = topic.addThresholdAlarm(id, metric, { threshold, description });
  };

  add(
    'TransferOldestJobAge',
    oldestJobAge(transferQueue),
    thresholds.oldestJobAgeSeconds,
    `A transfer job has waited ${thresholds.oldestJobAgeSeconds} s or more: transfers are stuck, throttled or failing and retrying. Check the transfer function's errors and logs.`,
  );
  add(
    'MissedCallbacks',
    vaultMetric('recording-reconciler', 'MissedCallback', { period: ALARM_PERIOD }),
    1,
    'The reconciler found recordings at Twilio whose callback never reached the vault, and queued them. Check the webhook URL configured at Twilio and the API during that time.',
  );
  add(
    'RejectedCallbacks',
    vaultMetric('recording-webhook', 'CallbackRejected', { period: ALARM_PERIOD }),
    thresholds.rejectedCallbacksPerPeriod,
    `The webhook rejected ${thresholds.rejectedCallbacksPerPeriod} or more callbacks in 5 minutes (bad signature, foreign account, malformed): a rotated auth token not yet in the secret, a wrong public URL, or an attack. Their recordings are picked up by the reconciler once the cause is fixed.`,
  );
  add(
    'EventsNotPublished',
    vaultMetric('recording-transfer', 'EventPublishFailed', { period: ALARM_PERIOD }),
    1,
    'The transfer could not publish an event to the stage bus (after retries). The recording is safe in the ledger; consumers missed its event. Check EventBridge and the function role, then re-announce from the ledger (npm run status shows the recording).',
  );
  add(
    'TwilioDeletesFailed',
    vaultMetric('recording-transfer', 'TwilioDeleteFailed', { period: ALARM_PERIOD }),
    1,
    'With deleteFromTwilioAfterCopy, a verified copy could not be deleted at Twilio: it is still stored (and billed) there. Check the Twilio credentials and Twilio status; then delete it at Twilio by hand (the vault holds a complete copy).',
  );

  // Every function that writes the audit trail, summed: one failed entry anywhere is one too many.
  const writers = deployedAuditWriters(functions);
  add(
    'AuditWriteFailures',
    new cloudwatch.MathExpression({
      expression: writers.map((_, i) => `FILL(m${i}, 0)`).join(' + '),
      usingMetrics: Object.fromEntries(
        writers.map((name, i) => [`m${i}`, vaultMetric(name, AUDIT_WRITE_FAILED, { period: ALARM_PERIOD })]),
      ),
      period: ALARM_PERIOD,
      label: 'Audit entries not written',
    }),
    1,
    "An access audit entry could not be written (recordings-read, erasure, hold or retention): callers were answered 503 and nothing was issued, or the retention run failed and owes the entry. Check the audit table (throttling, the KMS key, the role's PutItem). See docs/operations.md, runbook: AuditWriteFailures.",
  );

  for (const name of VAULT_FUNCTION_NAMES) {
    const fn = functions[name];
    if (!fn) continue;
    const label = FUNCTION_LABELS[name];
    // The stack already creates WebhookErrors and TransferErrors under these ids: keep those, one alarm each.
    if (!topic.node.tryFindChild(`${label}Errors`)) {
      add(
        `${label}Errors`,
        fn.metricErrors({ period: ALARM_PERIOD, statistic: 'Sum' }),
        1,
        name === 'recording-reconciler'
          ? 'The reconciler failed: missed callbacks are not being caught up. Its checkpoint stays put, so the next good run covers the gap.'
          : name === 'recording-retention'
            ? 'The retention sweep could not expire some recordings (or crashed). Its checkpoint stays on the day it could not finish; the next run tries again. See docs/compliance-hold-and-retention.md, runbook: RetentionErrors.'
            : `The ${name} function failed (crash or timeout).`,
      );
    }
    add(
      `${label}Throttles`,
      fn.metricThrottles({ period: ALARM_PERIOD, statistic: 'Sum' }),
      1,
      `Lambda throttled the ${name} function: the account's concurrency is exhausted or the function's reserved concurrency is too low.`,
    );
  }
  return { dashboard, alarms: added };
}
