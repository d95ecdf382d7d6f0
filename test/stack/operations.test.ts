import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { createObservability } from '../../lambda/shared/runtime/observability';
import { buildApp } from '../../lib/app';
import { vaultMetric } from '../../lib/constructs/operations-dashboard';
import type { VaultOperations } from '../../lib/constructs/vault-alarms';
import type { RecordingVaultStack } from '../../lib/recording-vault-stack';
import { cdkJson, type Json } from './synth-stage';

interface Synthesized {
  readonly stack: RecordingVaultStack;
  readonly operations: VaultOperations;
  readonly reconciler: lambda.Function | undefined;
  readonly template: Template;
  readonly resources: Record<string, Json>;
  readonly outputs: Record<string, Json>;
}

function synth(stage: string, overrides: Json = {}, withReconciler = false): Synthesized {
  const stages = { ...cdkJson.context.stages, [stage]: { ...cdkJson.context.stages[stage], ...overrides } };
  const { stack } = buildApp({
    appProps: { context: { ...cdkJson.context, stages, stage, 'aws:cdk:bundling-stacks': [] } },
    nag: false,
  });
  // The stack carries the wiring (lib/recording-vault-stack.ts); every stage has a reconciler.
  const operations = stack.operations;
  const reconciler = withReconciler ? stack.reconciler.function : undefined;
  const template = Template.fromStack(stack);
  const json = template.toJSON() as Json;
  return { stack, operations, reconciler, template, resources: json.Resources, outputs: json.Outputs };
}

const logicalId = (s: Synthesized, c: { node: { defaultChild?: unknown } }) =>
  s.stack.getLogicalId(c.node.defaultChild as CfnElement);

/** The dashboard body with every token written as `<Ref>` / `<Attr>`: plain JSON to look into. */
function dashboardBody(s: Synthesized): { widgets: Json[] } {
  const [dashboard] = Object.values(s.resources).filter((r) => r.Type === 'AWS::CloudWatch::Dashboard');
  const body = dashboard?.Properties.DashboardBody;
  const text =
    typeof body === 'string'
      ? body
      : (body['Fn::Join'][1] as unknown[])
          .map((part) => (typeof part === 'string' ? part : `<${Object.values(part as Json)[0]}>`))
          .join('');
  return JSON.parse(text);
}

function widget(s: Synthesized, title: string): Json {
  const found = dashboardBody(s).widgets.find((w) => w.properties.title === title);
  if (!found) throw new Error(`no widget "${title}"`);
  return found;
}

/** [namespace, metric name, ...dimension pairs sorted by name] of each metric of a widget, without its options. */
function metricsOf(w: Json): string[][] {
  const rows = w.properties.metrics as unknown[][];
  // A "." repeats the previous row's value in that place.
  const raw: string[][] = [];
  for (const row of rows) {
    const plain = row.filter((x): x is string => typeof x === 'string');
    raw.push(plain.map((x, i) => (x === '.' ? (raw[raw.length - 1]?.[i] ?? x) : x)));
  }
  return raw.map(([namespace = '', name = '', ...dims]) => {
    const pairs: string[][] = [];
    for (let i = 0; i < dims.length; i += 2) pairs.push([dims[i] ?? '', dims[i + 1] ?? '']);
    pairs.sort(([a = ''], [b = '']) => a.localeCompare(b));
    return [namespace, name, ...pairs.flat()];
  });
}

const vault = (fn: string, name: string) => ['RecordingVault', name, 'function', fn, 'service', 'recording-vault'];

function alarmsNamed(s: Synthesized, id: string): Json {
  const alarm = s.operations.alarms[id];
  if (!alarm) throw new Error(`no alarm ${id}`);
  return s.resources[logicalId(s, alarm)] as Json;
}

let dev: Synthesized;
let tuned: Synthesized;

beforeAll(() => {
  dev = synth('dev', {}, true);
  tuned = synth('prod', { alarms: { oldestJobAgeSeconds: 600, rejectedCallbacksPerPeriod: 5 } });
});

describe('dashboard', () => {
  test('is named after the stage', () => {
    dev.template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'RecordingVault-dev' });
    tuned.template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'RecordingVault-prod' });
  });

  test('the vault metrics, with the dimensions Powertools emits', () => {
    expect(metricsOf(widget(dev, 'Callbacks'))).toEqual(
      ['CallbackAccepted', 'CallbackRejected', 'CallbackIgnored', 'CallbackFailed'].map((m) =>
        vault('recording-webhook', m),
      ),
    );
    expect(metricsOf(widget(dev, 'Transfers'))).toEqual(
      expect.arrayContaining(
        ['RecordingStored', 'TransferRetried', 'TransferFailed'].map((m) => vault('recording-transfer', m)),
      ),
    );
    expect(metricsOf(widget(dev, 'Bytes stored'))).toEqual([vault('recording-transfer', 'RecordingBytes')]);
    expect(metricsOf(widget(dev, 'Missed callbacks (reconciler)'))).toContainEqual(
      vault('recording-reconciler', 'MissedCallback'),
    );
    expect(metricsOf(widget(dev, 'Playback and erasure'))).toEqual(
      expect.arrayContaining([
        vault('recordings-read', 'PlaybackUrlIssued'),
        vault('recording-erasure', 'RecordingErased'),
      ]),
    );
  });

  test('audit entries not written, per function that writes the trail; the retention sweep where it runs', () => {
    expect(metricsOf(widget(dev, 'Audit entries not written'))).toEqual(
      ['recordings-read', 'recording-erasure', 'recording-hold', 'recording-retention'].map((fn) =>
        vault(fn, 'AuditWriteFailed'),
      ),
    );
    expect(metricsOf(widget(tuned, 'Audit entries not written'))).toHaveLength(3);
    expect(metricsOf(widget(dev, 'Retention sweep'))).toEqual([
      vault('recording-retention', 'RecordingsExpired'),
      vault('recording-retention', 'RetentionFailed'),
    ]);
  });

  test('transfer duration p50 and p99 of the transfer function', () => {
    const w = widget(dev, 'Transfer duration');
    const fn = `<${logicalId(dev, dev.stack.transfer.function)}>`;
    expect(metricsOf(w)).toEqual([
      ['AWS/Lambda', 'Duration', 'FunctionName', fn],
      ['AWS/Lambda', 'Duration', 'FunctionName', fn],
    ]);
    expect(w.properties.metrics.map((row: unknown[]) => (row.at(-1) as Json).stat)).toEqual(['p50', 'p99']);
  });

  test('queue depth, age of the oldest job (with the alarm line) and DLQ depth', () => {
    const queue = `<${logicalId(dev, dev.stack.transferQueue.queue)},QueueName>`;
    const dlq = `<${logicalId(dev, dev.stack.transferQueue.deadLetterQueue)},QueueName>`;
    const queueMetrics = metricsOf(widget(dev, 'Transfer queue')).map((m) => m[1]);
    expect(queueMetrics).toEqual(
      expect.arrayContaining([
        'ApproximateNumberOfMessagesVisible',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateAgeOfOldestMessage',
      ]),
    );
    const oldest = widget(dev, 'Oldest queued job (s)');
    expect(metricsOf(oldest)).toEqual([['AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', queue]]);
    expect(oldest.properties.annotations.horizontal).toEqual([expect.objectContaining({ value: 900, yAxis: 'left' })]);
    expect(widget(tuned, 'Oldest queued job (s)').properties.annotations.horizontal[0].value).toBe(600);
    expect(metricsOf(widget(dev, 'Dead-letter queue'))).toEqual([
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', dlq],
    ]);
  });

  test('API 4xx, 5xx and latency', () => {
    const api = `<${logicalId(dev, dev.stack.api.api)}>`;
    expect(metricsOf(widget(dev, 'API 4xx / 5xx'))).toEqual([
      ['AWS/ApiGateway', '4xx', 'ApiId', api],
      ['AWS/ApiGateway', '5xx', 'ApiId', api],
    ]);
    expect(metricsOf(widget(dev, 'API latency (ms)'))).toEqual([
      ['AWS/ApiGateway', 'Latency', 'ApiId', api],
      ['AWS/ApiGateway', 'Latency', 'ApiId', api],
    ]);
  });

  test('errors and throttles of every function given', () => {
    const fns = [dev.stack.webhook.function, dev.stack.transfer.function, dev.stack.recordingsRead.function];
    const ids = [
      ...fns,
      dev.reconciler as lambda.Function,
      dev.stack.erasure.function,
      dev.stack.hold.function,
      dev.stack.retention?.function as lambda.Function,
    ].map((f) => `<${logicalId(dev, f)}>`);
    expect(metricsOf(widget(dev, 'Function errors'))).toEqual(
      ids.map((id) => ['AWS/Lambda', 'Errors', 'FunctionName', id]),
    );
    expect(metricsOf(widget(dev, 'Function throttles'))).toEqual(
      ids.map((id) => ['AWS/Lambda', 'Throttles', 'FunctionName', id]),
    );
  });

  test('its console URL is the DashboardUrl output', () => {
    const value = dev.outputs.DashboardUrl?.Value;
    const text = JSON.stringify(value);
    expect(text).toContain('console.aws.amazon.com/cloudwatch/home?region=');
    expect(text).toContain('#dashboards:name=RecordingVault-dev');
    expect(text).toContain('AWS::Region');
  });
});

describe('alarms', () => {
  const topicOf = (s: Synthesized) => ({ Ref: logicalId(s, s.stack.alarms.topic) });

  test('oldest queued job older than alarms.oldestJobAgeSeconds', () => {
    for (const [s, threshold] of [
      [dev, 900],
      [tuned, 600],
    ] as const) {
      const alarm = alarmsNamed(s, 'TransferOldestJobAge').Properties;
      expect(alarm).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(s, s.stack.transferQueue.queue), 'QueueName'] } },
        ],
        Statistic: 'Maximum',
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [topicOf(s)],
        OKActions: [topicOf(s)],
      });
    }
  });

  test('an event that could not be published, and a verified copy that could not be deleted at Twilio', () => {
    for (const [id, metric] of [
      ['EventsNotPublished', 'EventPublishFailed'],
      ['TwilioDeletesFailed', 'TwilioDeleteFailed'],
    ] as const) {
      expect(alarmsNamed(dev, id).Properties).toMatchObject({
        MetricName: metric,
        Namespace: 'RecordingVault',
        Threshold: 1,
        Period: 300,
        AlarmActions: [topicOf(dev)],
      });
    }
  });

  test('any audit entry not written, by any function that writes the trail, in 5 minutes', () => {
    for (const [s, writers] of [
      // dev keeps 30 days: its retention sweep writes entries too; prod has no sweep.
      [dev, ['recordings-read', 'recording-erasure', 'recording-hold', 'recording-retention']],
      [tuned, ['recordings-read', 'recording-erasure', 'recording-hold']],
    ] as const) {
      const alarm = alarmsNamed(s, 'AuditWriteFailures').Properties;
      expect(alarm).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [topicOf(s)],
        OKActions: [topicOf(s)],
      });
      expect(alarm.AlarmDescription).toContain('AuditWriteFailures');
      const queries = alarm.Metrics as Json[];
      const summed = queries.find((q) => q.Expression !== undefined);
      expect(summed).toMatchObject({
        ReturnData: true,
        Expression: writers.map((_, i) => `FILL(m${i}, 0)`).join(' + '),
      });
      const metrics = queries.filter((q) => q.MetricStat !== undefined);
      expect(metrics.map((q) => q.MetricStat)).toEqual(
        writers.map((fn) => ({
          Metric: {
            Namespace: 'RecordingVault',
            MetricName: 'AuditWriteFailed',
            Dimensions: expect.arrayContaining([
              { Name: 'function', Value: fn },
              { Name: 'service', Value: 'recording-vault' },
            ]),
          },
          Period: 300,
          Stat: 'Sum',
        })),
      );
      expect(metrics.every((q) => q.ReturnData === false)).toBe(true);
    }
  });

  test('any missed callback', () => {
    expect(alarmsNamed(dev, 'MissedCallbacks').Properties).toMatchObject({
      Namespace: 'RecordingVault',
      MetricName: 'MissedCallback',
      Dimensions: expect.arrayContaining([
        { Name: 'function', Value: 'recording-reconciler' },
        { Name: 'service', Value: 'recording-vault' },
      ]),
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topicOf(dev)],
    });
  });

  test('a spike of rejected callbacks: alarms.rejectedCallbacksPerPeriod per 5 minutes', () => {
    for (const [s, threshold] of [
      [dev, 20],
      [tuned, 5],
    ] as const) {
      expect(alarmsNamed(s, 'RejectedCallbacks').Properties).toMatchObject({
        MetricName: 'CallbackRejected',
        Dimensions: expect.arrayContaining([{ Name: 'function', Value: 'recording-webhook' }]),
        Statistic: 'Sum',
        Period: 300,
        Threshold: threshold,
        AlarmActions: [topicOf(s)],
      });
    }
  });

  test('errors and throttles of every function: one errors alarm each, the stack’s own kept', () => {
    const fns = {
      Webhook: dev.stack.webhook.function,
      Transfer: dev.stack.transfer.function,
      RecordingsRead: dev.stack.recordingsRead.function,
      Reconciler: dev.reconciler as lambda.Function,
      Erasure: dev.stack.erasure.function,
      Hold: dev.stack.hold.function,
      Retention: dev.stack.retention?.function as lambda.Function,
    };
    const alarmsOn = (metric: string, fn: lambda.Function) =>
      Object.values(dev.resources).filter(
        (r) =>
          r.Type === 'AWS::CloudWatch::Alarm' &&
          r.Properties.MetricName === metric &&
          r.Properties.Dimensions?.[0]?.Value?.Ref === logicalId(dev, fn),
      );
    for (const [label, fn] of Object.entries(fns)) {
      for (const metric of ['Errors', 'Throttles']) {
        const found = alarmsOn(metric, fn);
        expect({ label, metric, count: found.length }).toEqual({ label, metric, count: 1 });
        expect(found[0]?.Properties).toMatchObject({ Threshold: 1, Period: 300, AlarmActions: [topicOf(dev)] });
      }
    }
    // The stack's WebhookErrors / TransferErrors are not doubled; the others' are added.
    expect(Object.keys(dev.operations.alarms).sort()).toEqual(
      [
        'AuditWriteFailures',
        'ErasureErrors',
        'ErasureThrottles',
        'EventsNotPublished',
        'HoldErrors',
        'HoldThrottles',
        'RetentionErrors',
        'RetentionThrottles',
        'MissedCallbacks',
        'RecordingsReadErrors',
        'RecordingsReadThrottles',
        'ReconcilerErrors',
        'ReconcilerThrottles',
        'RejectedCallbacks',
        'TransferOldestJobAge',
        'TransferThrottles',
        'TwilioDeletesFailed',
        'WebhookThrottles',
      ].sort(),
    );
    expect(alarmsNamed(dev, 'ReconcilerErrors').Properties.AlarmDescription).toMatch(/reconciler failed/);
  });

  test('the stack’s DLQ depth and API 5xx alarms are still there', () => {
    dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalId(dev, dev.stack.transferQueue.deadLetterQueue), 'QueueName'] },
        },
      ],
      Threshold: 1,
    });
    dev.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: '5xx', Threshold: 1 });
  });
});

test('cdk-nag: no unacknowledged finding from the operations view', () => {
  const violations = [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(tuned.stack)
      .violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`),
  );
  expect(violations).toEqual([]);
});

test('the dashboard and alarms query the dimensions the functions really emit', () => {
  // EMF as Powertools writes it: the dimension set must equal the metric's, or CloudWatch finds nothing.
  const lines: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const log = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map(String).join(' '));
  });
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  try {
    const obs = createObservability('recording-reconciler');
    obs.metric('MissedCallback');
    obs.flush();
  } finally {
    process.env.POWERTOOLS_METRICS_DISABLED = disabled;
    write.mockRestore();
    log.mockRestore();
  }
  const emf = lines.map((l) => l.trim()).find((l) => l.includes('"MissedCallback"'));
  expect(emf).toBeDefined();
  const parsed = JSON.parse(emf as string) as Json;
  const directive = parsed._aws.CloudWatchMetrics[0];
  const emitted = Object.fromEntries((directive.Dimensions[0] as string[]).map((d) => [d, parsed[d]]));
  const metric = vaultMetric('recording-reconciler', 'MissedCallback');
  expect(directive.Namespace).toBe(metric.namespace);
  expect(emitted).toEqual(metric.dimensions);
});
