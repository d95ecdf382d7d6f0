import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { buildApp } from '../../lib/app';
import { CONSOLE_PATHS } from '../../lib/constructs/vault-api';
import type { RecordingVaultStack } from '../../lib/recording-vault-stack';
import { cdkJson, type Json } from './synth-stage';

interface Synthesized {
  readonly stack: RecordingVaultStack;
  readonly template: Template;
  readonly json: Json;
  readonly resources: Record<string, Json>;
}

/** Synthesizes one stage from cdk.json (optionally with overrides), without bundling. */
function synth(stage: string, overrides: Json = {}): Synthesized {
  const stages = { ...cdkJson.context.stages, [stage]: { ...cdkJson.context.stages[stage], ...overrides } };
  const { stack } = buildApp({
    appProps: { context: { ...cdkJson.context, stages, stage, 'aws:cdk:bundling-stacks': [] } },
    nag: false,
  });
  const template = Template.fromStack(stack);
  const json = template.toJSON() as Json;
  return { stack, template, json, resources: json.Resources as Record<string, Json> };
}

function logicalId(s: Synthesized, element: { node: { defaultChild?: unknown } }): string {
  return s.stack.getLogicalId(element.node.defaultChild as CfnElement);
}

function ofType(s: Synthesized, type: string): [string, Json][] {
  return Object.entries(s.resources).filter(([, r]) => r.Type === type);
}

/** Statements of every inline policy attached to the role. */
function roleStatements(s: Synthesized, role: { node: { defaultChild?: unknown } }): Json[] {
  const roleId = logicalId(s, role);
  return ofType(s, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as Json[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
}

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

function nagViolations(stack: RecordingVaultStack): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(stack)
      .violations.map(
        (v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
  );
}

let dev: Synthesized;
let prod: Synthesized;
/** dev with JWT playback auth, an imported secret, alarm e-mail and a public base URL. */
let variant: Synthesized;

beforeAll(() => {
  dev = synth('dev');
  prod = synth('prod');
  variant = synth('dev', {
    playbackAuth: { type: 'jwt', issuer: 'https://auth.example.com/', audience: ['recording-vault'] },
    twilioSecretName: 'recording-vault/twilio',
    alarmEmail: 'oncall@example.com',
    publicWebhookBaseUrl: 'https://hooks.example.com/vault/',
  });
});

const stages = () =>
  [
    ['dev', dev],
    ['prod', prod],
    ['variant', variant],
  ] as const;

describe('cdk-nag', () => {
  test.each(['dev', 'prod', 'variant'])('%s: no unacknowledged AwsSolutions / Serverless findings', (name) => {
    const s = stages().find(([n]) => n === name)?.[1];
    if (!s) throw new Error(name);
    expect(nagViolations(s.stack)).toEqual([]);
  });
});

describe('recordings bucket', () => {
  const recordingsBucket = (s: Synthesized) => s.resources[logicalId(s, s.stack.storage.bucket)] as Json;

  test.each(['dev', 'prod'])('%s: private, encrypted, logged, aborts incomplete multipart uploads', (name) => {
    const s = name === 'dev' ? dev : prod;
    const props = recordingsBucket(s).Properties;
    expect(props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    // prod ships with encryption: "kms" (SSE-KMS; details in compliance.test.ts).
    expect(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe(
      s.stack.config.encryption === 'kms' ? 'aws:kms' : 'AES256',
    );
    expect(props.LoggingConfiguration.DestinationBucketName).toEqual({
      Ref: logicalId(s, s.stack.storage.accessLogBucket),
    });
    expect(props.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
      ]),
    );
  });

  test('every bucket (recordings and access logs) denies requests without TLS', () => {
    for (const s of [dev, prod]) {
      const buckets = ofType(s, 'AWS::S3::Bucket').map(([id]) => id);
      expect(buckets).toHaveLength(2);
      for (const id of buckets) {
        s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
          Bucket: { Ref: id },
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({
                Effect: 'Deny',
                Action: 's3:*',
                Principal: { AWS: '*' },
                Condition: { Bool: { 'aws:SecureTransport': 'false' } },
              }),
            ]),
          },
        });
        expect(s.resources[id]?.Properties.PublicAccessBlockConfiguration.RestrictPublicBuckets).toBe(true);
      }
      const logBucket = s.resources[logicalId(s, s.stack.storage.accessLogBucket)] as Json;
      expect(logBucket.Properties.LifecycleConfiguration.Rules).toEqual(
        expect.arrayContaining([expect.objectContaining({ ExpirationInDays: expect.any(Number) })]),
      );
    }
  });

  test('prod: versioned, non-current versions expire, transitions from the stage', () => {
    const props = recordingsBucket(prod).Properties;
    expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(props.LifecycleConfiguration.Rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } }),
        expect.objectContaining({
          Prefix: 'recordings/',
          Transitions: [
            { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
            { StorageClass: 'GLACIER', TransitionInDays: 90 },
          ],
        }),
      ]),
    );
  });

  test('dev: unversioned; recordings expire only through the retention sweep, never an S3 rule', () => {
    const props = recordingsBucket(dev).Properties;
    expect(props.VersioningConfiguration).toBeUndefined();
    for (const rule of props.LifecycleConfiguration.Rules) expect(rule.ExpirationInDays).toBeUndefined();
    expect(dev.stack.retention).toBeDefined();
  });
});

describe('removal policies', () => {
  const stateful = [
    'AWS::S3::Bucket',
    'AWS::DynamoDB::Table',
    'AWS::Logs::LogGroup',
    'AWS::SecretsManager::Secret',
    'AWS::SQS::Queue',
  ];

  test('prod retains every stateful resource; no auto-delete of objects; table deletion protection', () => {
    for (const type of stateful) {
      const found = ofType(prod, type);
      expect(found.length).toBeGreaterThan(0);
      for (const [, r] of found) {
        expect(r.DeletionPolicy).toBe('Retain');
        expect(r.UpdateReplacePolicy).toBe('Retain');
      }
    }
    expect(ofType(prod, 'Custom::S3AutoDeleteObjects')).toHaveLength(0);
    prod.template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
  });

  test('dev destroys them and empties its buckets', () => {
    for (const type of stateful) {
      for (const [, r] of ofType(dev, type)) expect(r.DeletionPolicy).toBe('Delete');
    }
    expect(ofType(dev, 'Custom::S3AutoDeleteObjects')).toHaveLength(2);
  });
});

describe('calls table', () => {
  test.each(['dev', 'prod'])('%s: callId key, byTwilioCallSid GSI, on-demand, PITR, encrypted', (name) => {
    const s = name === 'dev' ? dev : prod;
    // calls, the ledger and the audit trail (test/stack/audit.test.ts).
    s.template.resourceCountIs('AWS::DynamoDB::Table', 3);
    s.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'callId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byTwilioCallSid',
          KeySchema: [{ AttributeName: 'twilioCallSid', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
    expect(s.resources[logicalId(s, s.stack.calls.table)]?.Properties.TableName).toBeUndefined();
  });
});

describe('recordings ledger', () => {
  test.each(['dev', 'prod'])(
    '%s: recordingSid key, sharded day and sparse open-status GSIs projecting only what the listing reads, on-demand, PITR',
    (name) => {
      const s = name === 'dev' ? dev : prod;
      const ledger = s.resources[logicalId(s, s.stack.ledger.table)] as Json;
      expect(ledger.Properties).toMatchObject({
        KeySchema: [{ AttributeName: 'recordingSid', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
      const listed = [
        'callId',
        'callSid',
        'status',
        'durationSeconds',
        'channels',
        'source',
        'sizeBytes',
        'sha256',
        'contentType',
        'storedAt',
        'erasedAt',
        'expiredAt',
        'hold',
      ];
      const indexes = ledger.Properties.GlobalSecondaryIndexes as Json[];
      for (const [indexName, partition] of [
        ['byDayShard', 'dayShard'],
        ['byOpenStatus', 'openStatus'],
        ['byHold', 'holdState'],
      ]) {
        const index = indexes.find((i) => i.IndexName === indexName) as Json;
        expect(index.KeySchema).toEqual([
          { AttributeName: partition, KeyType: 'HASH' },
          { AttributeName: 'startedAt', KeyType: 'RANGE' },
        ]);
        expect(index.Projection.ProjectionType).toBe('INCLUDE');
        expect(index.Projection.NonKeyAttributes).toEqual(expect.arrayContaining(listed));
        // Leases, heartbeats, notes and event marks stay out: writing them writes no index.
        for (const internal of ['claimId', 'leaseExpiresAt', 'updatedAt', 'notes', 'storedEventAt', 'key', 'bucket']) {
          expect(index.Projection.NonKeyAttributes).not.toContain(internal);
        }
      }
      expect(indexes.map((i) => i.IndexName)).not.toContain('byDay');
      expect(ledger.DeletionPolicy).toBe(name === 'prod' ? 'Retain' : 'Delete');
    },
  );

  test('the stage has its own event bus, recording-vault-<stage>', () => {
    dev.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'recording-vault-dev' });
    prod.template.hasResourceProperties('AWS::Events::EventBus', { Name: 'recording-vault-prod' });
  });
});

describe('transfer queue', () => {
  test.each(['dev', 'prod'])('%s: encrypted, TLS-only, DLQ after maxAttempts, visibility ≥ 6 × timeout', (name) => {
    const s = name === 'dev' ? dev : prod;
    const queueId = logicalId(s, s.stack.transferQueue.queue);
    const dlqId = logicalId(s, s.stack.transferQueue.deadLetterQueue);
    const queue = s.resources[queueId] as Json;
    const dlq = s.resources[dlqId] as Json;
    for (const q of [queue, dlq]) {
      if (s.stack.config.encryption === 'kms') expect(q.Properties.KmsMasterKeyId).toBeDefined();
      else expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    }
    for (const id of [queueId, dlqId]) {
      s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
    expect(queue.Properties.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
      maxReceiveCount: s.stack.config.transfer.maxAttempts,
    });
    expect(dlq.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    const transferFn = s.resources[logicalId(s, s.stack.transfer.function)] as Json;
    expect(transferFn.Properties.Timeout).toBe(s.stack.config.transfer.timeoutSeconds);
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * transferFn.Properties.Timeout);
  });

  test('the transfer function consumes it in small batches, reports item failures and caps its concurrency', () => {
    dev.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(dev, dev.stack.transferQueue.queue), 'Arn'] },
      FunctionName: { Ref: logicalId(dev, dev.stack.transfer.function) },
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumBatchingWindowInSeconds: Match.anyValue(),
      ScalingConfig: { MaximumConcurrency: dev.stack.config.transfer.maxConcurrency },
    });
  });

  test('alarms watch the DLQ, the functions and API 5xx, and notify the encrypted topic', () => {
    for (const s of [dev, prod]) {
      const topicId = logicalId(s, s.stack.alarms.topic);
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: { 'Fn::GetAtt': [logicalId(s, s.stack.transferQueue.deadLetterQueue), 'QueueName'] },
          },
        ],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        AlarmActions: [{ Ref: topicId }],
      });
      for (const fn of [s.stack.transfer, s.stack.webhook]) {
        s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(s, fn.function) } }],
          AlarmActions: [{ Ref: topicId }],
        });
      }
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: '5xx',
        AlarmActions: [{ Ref: topicId }],
      });
      s.template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
      s.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
    dev.template.resourceCountIs('AWS::SNS::Subscription', 0);
    variant.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
  });
});

describe('functions', () => {
  const ours = (s: Synthesized) => [s.stack.webhook, s.stack.transfer, s.stack.recordingsRead];

  test.each(['dev', 'prod'])(
    '%s: Node.js 22 on arm64, JSON logs to own log group with stage retention, tracing',
    (name) => {
      const s = name === 'dev' ? dev : prod;
      for (const fn of ours(s)) {
        const props = (s.resources[logicalId(s, fn.function)] as Json).Properties;
        expect(props.Runtime).toBe('nodejs22.x');
        expect(props.Architectures).toEqual(['arm64']);
        expect(props.Handler).toBe('index.handler');
        expect(props.TracingConfig).toEqual({ Mode: 'Active' });
        expect(props.LoggingConfig).toEqual({ LogFormat: 'JSON', LogGroup: { Ref: logicalId(s, fn.logGroup) } });
        expect((s.resources[logicalId(s, fn.logGroup)] as Json).Properties.RetentionInDays).toBe(
          s.stack.config.logRetentionDays,
        );
        // No managed policy (AWSLambdaBasicExecutionRole allows every log group).
        expect((s.resources[logicalId(s, fn.role)] as Json).Properties.ManagedPolicyArns).toBeUndefined();
      }
      expect((s.resources[logicalId(s, s.stack.transfer.function)] as Json).Properties.MemorySize).toBe(512);
    },
  );

  test('each function gets exactly its environment contract (lambda/shared/config/function-config.ts)', () => {
    const common = ['POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_LOG_LEVEL', 'NODE_OPTIONS'];
    const expected: Record<'webhook' | 'transfer' | 'recordingsRead', string[]> = {
      webhook: ['TWILIO_ACCOUNT_SID', 'TWILIO_SECRET_ARN', 'TRANSFER_QUEUE_URL'],
      transfer: [
        'TWILIO_ACCOUNT_SID',
        'TWILIO_SECRET_ARN',
        'RECORDINGS_BUCKET',
        'CALLS_TABLE',
        'CALLS_BY_TWILIO_SID_INDEX',
        'LEDGER_TABLE',
        'LEDGER_INDEX_SHARDS',
        'EVENT_BUS_NAME',
        'TWILIO_API_BASE_URL',
        'RECORDING_FORMAT',
        'DELETE_FROM_TWILIO_AFTER_COPY',
        'TRANSFER_QUEUE_URL',
        'DEAD_LETTER_QUEUE_URL',
        'TRANSFER_MAX_ATTEMPTS',
        'TRANSFER_RETRY_BASE_SECONDS',
        'TRANSFER_LEASE_SECONDS',
      ],
      recordingsRead: [
        'RECORDINGS_BUCKET',
        'CALLS_TABLE',
        'PLAYBACK_URL_TTL_SECONDS',
        'LEDGER_TABLE',
        'LEDGER_DAY_INDEX',
        'LEDGER_OPEN_STATUS_INDEX',
        'LEDGER_HOLD_INDEX',
        'LEDGER_INDEX_SHARDS',
        'AUDIT_TABLE',
      ],
    };
    const env = (s: Synthesized, key: keyof typeof expected) =>
      (s.resources[logicalId(s, s.stack[key].function)] as Json).Properties.Environment.Variables as Json;
    for (const key of Object.keys(expected) as (keyof typeof expected)[]) {
      expect(Object.keys(env(dev, key)).sort()).toEqual([...expected[key], ...common].sort());
    }
    expect(Object.keys(env(variant, 'webhook')).sort()).toEqual(
      [...expected.webhook, 'PUBLIC_BASE_URL', ...common].sort(),
    );
    expect(env(variant, 'webhook').PUBLIC_BASE_URL).toBe('https://hooks.example.com/vault');
    expect(env(variant, 'webhook').TWILIO_SECRET_ARN).toBe('recording-vault/twilio');

    const transfer = env(dev, 'transfer');
    expect(transfer).toMatchObject({
      CALLS_BY_TWILIO_SID_INDEX: 'byTwilioCallSid',
      TWILIO_API_BASE_URL: 'https://api.twilio.com',
      RECORDING_FORMAT: 'mp3',
      DELETE_FROM_TWILIO_AFTER_COPY: 'false',
      TRANSFER_MAX_ATTEMPTS: '5',
      TRANSFER_RETRY_BASE_SECONDS: '30',
      TRANSFER_LEASE_SECONDS: String(dev.stack.config.transfer.timeoutSeconds),
      TRANSFER_QUEUE_URL: { Ref: logicalId(dev, dev.stack.transferQueue.queue) },
      DEAD_LETTER_QUEUE_URL: { Ref: logicalId(dev, dev.stack.transferQueue.deadLetterQueue) },
      CALLS_TABLE: { Ref: logicalId(dev, dev.stack.calls.table) },
      RECORDINGS_BUCKET: { Ref: logicalId(dev, dev.stack.storage.bucket) },
      TWILIO_SECRET_ARN: { Ref: logicalId(dev, dev.stack.twilioSecret as never) },
      POWERTOOLS_SERVICE_NAME: 'recording-vault',
      POWERTOOLS_METRICS_NAMESPACE: 'RecordingVault',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(env(dev, 'recordingsRead').PLAYBACK_URL_TTL_SECONDS).toBe('900');
  });
});

describe('no secrets in the template', () => {
  test.each(['dev', 'prod', 'variant'])('%s: no secret value, no token-shaped value, no secret in env', (name) => {
    const s = stages().find(([n]) => n === name)?.[1];
    if (!s) throw new Error(name);
    const text = JSON.stringify(s.json);
    // The secret is created empty-ish (generated) or imported: never a value in the template.
    for (const [, secret] of ofType(s, 'AWS::SecretsManager::Secret')) {
      expect(secret.Properties.SecretString).toBeUndefined();
    }
    expect(text).not.toMatch(/"SecretString"/);
    // A JSON auth token value (anything but the "…" placeholder in descriptions).
    expect(text).not.toMatch(/\\"authToken(Secondary)?\\"\s*:\s*\\"(?!…)[^\\"]+\\"/);
    // Twilio auth tokens and API key secrets are 32 hex characters.
    expect(text).not.toMatch(/(?<![0-9a-fA-F])[0-9a-f]{32}(?![0-9a-fA-F])/);
    for (const [, fn] of ofType(s, 'AWS::Lambda::Function')) {
      const vars = (fn.Properties.Environment?.Variables ?? {}) as Json;
      for (const key of Object.keys(vars)) expect(key).not.toMatch(/TOKEN|PASSWORD|API_KEY|SECRET(?!_ARN$)/);
    }
  });
});

describe('HTTP API', () => {
  const routes = (s: Synthesized) =>
    Object.fromEntries(ofType(s, 'AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey, r.Properties]));

  test('webhook route is public (signature checked in code); playback routes use IAM by default', () => {
    for (const s of [dev, prod]) {
      const r = routes(s);
      // GET /recordings and DELETE …/{recordingSid}: see test/stack/api.test.ts.
      expect(Object.keys(r).sort()).toEqual(
        [
          'GET /calls/{callId}/recording',
          'GET /calls/{callId}/recordings',
          'GET /recordings',
          'GET /recordings/{recordingSid}',
          'DELETE /calls/{callId}/recordings/{recordingSid}',
          'DELETE /recordings/{recordingSid}',
          'PUT /recordings/{recordingSid}/hold',
          'DELETE /recordings/{recordingSid}/hold',
          'GET /recordings/{recordingSid}/audit',
          'POST /twilio/recording',
          ...CONSOLE_PATHS.map((path) => `GET ${path}`),
        ].sort(),
      );
      expect(r['POST /twilio/recording']?.AuthorizationType).toBe('NONE');
      expect(r['GET /calls/{callId}/recording']?.AuthorizationType).toBe('AWS_IAM');
      expect(r['GET /calls/{callId}/recordings']?.AuthorizationType).toBe('AWS_IAM');
      s.template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 0);
    }
  });

  test('JWT authorizer when the stage says jwt', () => {
    const r = routes(variant);
    expect(r['POST /twilio/recording']?.AuthorizationType).toBe('NONE');
    for (const key of ['GET /calls/{callId}/recording', 'GET /calls/{callId}/recordings']) {
      expect(r[key]?.AuthorizationType).toBe('JWT');
      expect(r[key]?.AuthorizerId).toEqual({ Ref: expect.any(String) });
    }
    variant.template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    variant.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: 'https://auth.example.com/', Audience: ['recording-vault'] },
    });
  });

  test('default stage: throttling from the stage, JSON access logs without query string or headers', () => {
    for (const s of [dev, prod]) {
      const [[, stage]] = ofType(s, 'AWS::ApiGatewayV2::Stage') as [[string, Json]];
      expect(stage.Properties.StageName).toBe('$default');
      expect(stage.Properties.DefaultRouteSettings).toEqual({
        ThrottlingRateLimit: s.stack.config.apiThrottle.rateLimit,
        ThrottlingBurstLimit: s.stack.config.apiThrottle.burstLimit,
      });
      const settings = stage.Properties.AccessLogSettings as Json;
      expect(settings.DestinationArn).toEqual({ 'Fn::GetAtt': [logicalId(s, s.stack.api.accessLogGroup), 'Arn'] });
      const format = JSON.parse(settings.Format as string) as Json;
      expect(format).toMatchObject({
        requestId: '$context.requestId',
        ip: '$context.identity.sourceIp',
        routeKey: '$context.routeKey',
        status: '$context.status',
        latency: '$context.responseLatency',
      });
      expect(settings.Format).not.toMatch(/querystring|rawQueryString|\$context\.path|header|authorization/i);
    }
  });

  test('outputs: API and webhook URLs, bucket, table, secret, queues', () => {
    for (const s of [dev, variant]) {
      const outputs = Object.keys(s.json.Outputs as Json);
      expect(outputs).toEqual(
        expect.arrayContaining([
          'ApiUrl',
          'WebhookUrl',
          'RecordingsBucketName',
          'CallsTableName',
          'TwilioSecretArn',
          'TwilioSecretName',
          'TransferQueueUrl',
          'TransferDeadLetterQueueUrl',
        ]),
      );
    }
    expect((variant.json.Outputs as Json).WebhookUrl.Value).toBe('https://hooks.example.com/vault/twilio/recording');
  });
});

describe('IAM: least privilege', () => {
  const allStatements = (s: Synthesized) =>
    ofType(s, 'AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);

  test('no action wildcards; "*" resources only for X-Ray', () => {
    for (const [, s] of stages()) {
      for (const st of allStatements(s)) {
        for (const action of asList(st.Action as string | string[])) {
          expect(action).not.toMatch(/\*$/);
        }
        if (asList(st.Resource).includes('*')) {
          expect(asList(st.Action).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
        }
      }
    }
  });

  test('webhook: send to the queue, read the secret, write its logs; no S3, no DynamoDB', () => {
    for (const [, s] of stages()) {
      const statements = roleStatements(s, s.stack.webhook.role);
      const actions = statements.flatMap((st) => asList(st.Action as string | string[]));
      expect(actions.filter((a) => /^(s3|dynamodb):/.test(a))).toEqual([]);
      // With the stage's key, only what sending to the SSE-KMS queue takes.
      expect(actions.filter((a) => a.startsWith('kms:')).sort()).toEqual(
        s.stack.vaultKey !== undefined ? ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'] : [],
      );
      expect(actions).toEqual(expect.arrayContaining(['sqs:SendMessage', 'secretsmanager:GetSecretValue']));
      expect(actions.filter((a) => a.startsWith('sqs:')).sort()).toEqual(
        ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].sort(),
      );
    }
  });

  test('transfer: S3 only on recordings/*, DynamoDB only on the table and its CallSid index', () => {
    for (const [, s] of stages()) {
      const statements = roleStatements(s, s.stack.transfer.role);
      const bucketId = logicalId(s, s.stack.storage.bucket);
      const tableId = logicalId(s, s.stack.calls.table);
      const s3 = statements.filter((st) =>
        asList(st.Action as string | string[]).some((a) => a.startsWith('s3:') && a !== 's3:ListBucket'),
      );
      expect(s3.length).toBeGreaterThan(0);
      expect(listBucketResources(statements)).toEqual([{ 'Fn::GetAtt': [bucketId, 'Arn'] }]);
      for (const st of s3) {
        expect(asList(st.Action).sort()).toEqual([
          's3:AbortMultipartUpload',
          's3:GetObject',
          's3:GetObjectTagging',
          's3:PutObject',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
        ]);
        expect(asList(st.Resource)).toEqual([
          { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/recordings/*']] },
        ]);
      }
      const ddb = statements.filter((st) =>
        asList(st.Action as string | string[]).some((a) => a.startsWith('dynamodb:')),
      );
      const ledgerId = logicalId(s, s.stack.ledger.table);
      expect(ddb.map((st) => [asList(st.Action).sort(), asList(st.Resource)])).toEqual([
        [
          ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
          [
            { 'Fn::GetAtt': [tableId, 'Arn'] },
            { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, '/index/byTwilioCallSid']] },
          ],
        ],
        // The ledger: read and conditional updates only (no Put, no Delete).
        [['dynamodb:GetItem', 'dynamodb:UpdateItem'], [{ 'Fn::GetAtt': [ledgerId, 'Arn'] }]],
      ]);
      const actions = statements.flatMap((st) => asList(st.Action as string | string[]));
      expect(actions).toEqual(
        expect.arrayContaining([
          'sqs:ReceiveMessage',
          'sqs:DeleteMessage',
          'sqs:ChangeMessageVisibility',
          'secretsmanager:GetSecretValue',
        ]),
      );
      // It may send only to the dead-letter queue, never back to the transfer queue.
      const sends = statements.filter((st) => asList(st.Action as string | string[]).includes('sqs:SendMessage'));
      expect(sends.flatMap((st) => asList(st.Resource as unknown))).toEqual([
        { 'Fn::GetAtt': [logicalId(s, s.stack.transferQueue.deadLetterQueue), 'Arn'] },
      ]);
      expect(actions).not.toContain('dynamodb:DeleteItem');
    }
  });

  test('recordings-read: GetItem on the table, GetObject on recordings/*, ledger items by key and Query on its index, PutItem on the audit trail; no secret, no queue', () => {
    for (const [, s] of stages()) {
      const statements = roleStatements(s, s.stack.recordingsRead.role);
      const actions = statements.flatMap((st) => asList(st.Action as string | string[]));
      expect(actions.filter((a) => /^(s3|dynamodb|sqs|secretsmanager):/.test(a)).sort()).toEqual([
        'dynamodb:BatchGetItem',
        'dynamodb:GetItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        's3:GetObject',
        's3:ListBucket',
      ]);
      const tableId = logicalId(s, s.stack.calls.table);
      const ledgerId = logicalId(s, s.stack.ledger.table);
      const ddb = statements.filter((st) =>
        asList(st.Action as string | string[]).some((a) => a.startsWith('dynamodb:')),
      );
      // Reads only (the call item, the ledger items the keys come from, the ledger's day index),
      // and entries put in the audit trail.
      expect(ddb.map((st) => [asList(st.Action).sort(), asList(st.Resource)])).toEqual([
        [['dynamodb:GetItem'], [{ 'Fn::GetAtt': [tableId, 'Arn'] }]],
        [['dynamodb:BatchGetItem', 'dynamodb:GetItem'], [{ 'Fn::GetAtt': [ledgerId, 'Arn'] }]],
        [
          ['dynamodb:Query'],
          [
            { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ledgerId, 'Arn'] }, '/index/byDayShard']] },
            { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ledgerId, 'Arn'] }, '/index/byHold']] },
            { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ledgerId, 'Arn'] }, '/index/byOpenStatus']] },
          ],
        ],
        [['dynamodb:PutItem'], [{ 'Fn::GetAtt': [logicalId(s, s.stack.audit.table), 'Arn'] }]],
      ]);
      // ListBucket on the bucket itself only: a HEAD of a missing object must answer 404, not 403.
      expect(listBucketResources(statements)).toEqual([
        { 'Fn::GetAtt': [logicalId(s, s.stack.storage.bucket), 'Arn'] },
      ]);
      const getObject = statements.find((st) => asList(st.Action).includes('s3:GetObject'));
      expect(getObject?.Resource).toEqual({
        'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(s, s.stack.storage.bucket), 'Arn'] }, '/recordings/*']],
      });
    }
  });
});

/** Resources of the statements that grant s3:ListBucket. */
function listBucketResources(statements: Array<{ Action?: unknown; Resource?: unknown }>): unknown[] {
  return statements
    .filter((st) => asList(st.Action as string | string[]).includes('s3:ListBucket'))
    .flatMap((st) => asList(st.Resource as unknown));
}

describe('tags', () => {
  test('resources carry project and stage tags', () => {
    for (const s of [dev, prod]) {
      s.template.hasResourceProperties('AWS::S3::Bucket', {
        Tags: Match.arrayWith([
          { Key: 'project', Value: 'recording-vault' },
          { Key: 'stage', Value: s.stack.config.name },
        ]),
      });
      expect(s.stack.stackName).toBe(`RecordingVault-${s.stack.config.name}`);
    }
  });
});
