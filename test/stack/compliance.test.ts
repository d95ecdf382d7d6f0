import { type CfnElement, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { buildApp } from '../../lib/app';
import { RecordingStorage } from '../../lib/constructs/recording-storage';
import { VaultKey } from '../../lib/constructs/vault-key';
import type { RecordingVaultStack } from '../../lib/recording-vault-stack';
import { cdkJson, type Json } from './synth-stage';

interface Synthesized {
  readonly stack: RecordingVaultStack;
  readonly template: Template;
  readonly resources: Record<string, Json>;
}

/** Synthesizes `stage`: cdk.json's stage `base` (default: the same name) with `overrides`, without bundling. */
function synth(stage: string, overrides: Json = {}, base: string = stage): Synthesized {
  const stages = { ...cdkJson.context.stages, [stage]: { ...cdkJson.context.stages[base], ...overrides } };
  const { stack } = buildApp({
    appProps: { context: { ...cdkJson.context, stages, stage, 'aws:cdk:bundling-stacks': [] } },
    nag: false,
  });
  const template = Template.fromStack(stack);
  return { stack, template, resources: (template.toJSON() as Json).Resources as Record<string, Json> };
}

function logicalId(s: Synthesized, element: { node: { defaultChild?: unknown } }): string {
  return s.stack.getLogicalId(element.node.defaultChild as CfnElement);
}

function ofType(s: Synthesized, type: string): [string, Json][] {
  return Object.entries(s.resources).filter(([, r]) => r.Type === type);
}

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

function nagViolations(stack: Stack): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(stack)
      .violations.map(
        (v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
      ),
  );
}

/** Every IAM policy statement of the stack that names a KMS action. */
function kmsStatements(s: Synthesized): Json[] {
  return ofType(s, 'AWS::IAM::Policy')
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[])
    .filter((st) => asList(st.Action as string | string[]).some((a) => a.startsWith('kms:')));
}

/** KMS actions granted to one function's role. */
function kmsActionsOf(s: Synthesized, role: { node: { defaultChild?: unknown } }): string[] {
  const roleId = logicalId(s, role);
  return ofType(s, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as Json[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[])
    .flatMap((st) => asList(st.Action as string | string[]))
    .filter((a) => a.startsWith('kms:'))
    .sort();
}

let prod: Synthesized;
let dev: Synthesized;
/** prod's settings with COMPLIANCE Object Lock. */
let locked: Synthesized;
/** dev's settings (destroy, SSE-S3) with versioning and GOVERNANCE Object Lock. */
let governed: Synthesized;

beforeAll(() => {
  prod = synth('prod');
  dev = synth('dev');
  locked = synth('locked', { objectLock: { mode: 'COMPLIANCE', retentionDays: 2557 } }, 'prod');
  governed = synth(
    'governed',
    { bucketVersioning: true, objectLock: { mode: 'GOVERNANCE', retentionDays: 30 } },
    'dev',
  );
});

const all = () =>
  [
    ['prod', prod],
    ['dev', dev],
    ['locked', locked],
    ['governed', governed],
  ] as const;

describe('customer-managed key (prod: encryption "kms")', () => {
  const keyArn = (s: Synthesized) => {
    const key = s.stack.vaultKey;
    if (key === undefined) throw new Error(`${s.stack.stackName} has no vault key`);
    return { 'Fn::GetAtt': [logicalId(s, key.key as never), 'Arn'] };
  };

  test('one key, rotated, aliased per stage, retained with the stage', () => {
    const keys = ofType(prod, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    const [[keyId, key]] = keys as [[string, Json]];
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.UpdateReplacePolicy).toBe('Retain');
    prod.template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/recording-vault-prod',
      TargetKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] },
    });
  });

  test('recordings bucket: SSE-KMS with the key and bucket keys; the access log bucket stays SSE-S3', () => {
    const bucket = prod.resources[logicalId(prod, prod.stack.storage.bucket)] as Json;
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      {
        BucketKeyEnabled: true,
        ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn(prod) },
      },
    ]);
    const logs = prod.resources[logicalId(prod, prod.stack.storage.accessLogBucket)] as Json;
    expect(logs.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
    ]);
  });

  test('calls table: SSE with the key', () => {
    const table = prod.resources[logicalId(prod, prod.stack.calls.table)] as Json;
    expect(table.Properties.SSESpecification).toEqual({
      SSEEnabled: true,
      SSEType: 'KMS',
      KMSMasterKeyId: keyArn(prod),
    });
  });

  test('transfer queue and dead-letter queue: SSE-KMS with the key', () => {
    for (const queue of [prod.stack.transferQueue.queue, prod.stack.transferQueue.deadLetterQueue]) {
      const props = (prod.resources[logicalId(prod, queue)] as Json).Properties;
      expect(props.KmsMasterKeyId).toEqual(keyArn(prod));
      expect(props.SqsManagedSseEnabled).toBeUndefined();
    }
  });

  test('alarm topic: the key, which CloudWatch may use to publish', () => {
    const topic = prod.resources[logicalId(prod, prod.stack.alarms.topic)] as Json;
    expect(topic.Properties.KmsMasterKeyId).toEqual(keyArn(prod));
    prod.template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          }),
        ]),
      },
    });
  });

  test('functions may use the key exactly as far as their work needs, on that key only, no wildcard', () => {
    expect(kmsActionsOf(prod, prod.stack.webhook.role)).toEqual(['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']);
    expect(kmsActionsOf(prod, prod.stack.transfer.role)).toEqual(
      expect.arrayContaining(['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey']),
    );
    // Reads under the key, and writes audit entries (the audit table is encrypted with it too).
    expect(new Set(kmsActionsOf(prod, prod.stack.recordingsRead.role))).toEqual(
      new Set(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']),
    );
    for (const st of kmsStatements(prod)) {
      expect(asList(st.Resource)).toEqual([keyArn(prod)]);
      for (const action of asList(st.Action as string | string[])) expect(action).not.toContain('*');
    }
  });
});

describe('dev (encryption "s3-managed")', () => {
  test('SSE-S3 bucket, AWS-managed table key, SSE-SQS queues; no stage key', () => {
    expect(dev.stack.config.encryption).toBe('s3-managed');
    expect(dev.stack.vaultKey).toBeUndefined();
    dev.template.resourceCountIs('AWS::KMS::Alias', 0);
    for (const bucket of [dev.stack.storage.bucket, dev.stack.storage.accessLogBucket]) {
      expect(
        (dev.resources[logicalId(dev, bucket)] as Json).Properties.BucketEncryption.ServerSideEncryptionConfiguration,
      ).toEqual([{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
    }
    expect((dev.resources[logicalId(dev, dev.stack.calls.table)] as Json).Properties.SSESpecification).toEqual({
      SSEEnabled: true,
    });
    for (const queue of [dev.stack.transferQueue.queue, dev.stack.transferQueue.deadLetterQueue]) {
      const props = (dev.resources[logicalId(dev, queue)] as Json).Properties;
      expect(props.SqsManagedSseEnabled).toBe(true);
      expect(props.KmsMasterKeyId).toBeUndefined();
    }
    // The alarm topic keeps a rotated key of its own (CloudWatch cannot publish with aws/sns).
    const keys = ofType(dev, 'AWS::KMS::Key');
    expect(keys).toHaveLength(1);
    expect(keys[0]?.[1].Properties.EnableKeyRotation).toBe(true);
    expect(kmsStatements(dev)).toEqual([]);
  });

  test('no Object Lock in the shipped stages', () => {
    for (const s of [dev, prod]) {
      const bucket = s.resources[logicalId(s, s.stack.storage.bucket)] as Json;
      expect(bucket.Properties.ObjectLockEnabled).toBeUndefined();
      expect(bucket.Properties.ObjectLockConfiguration).toBeUndefined();
      expect(s.stack.storage.objectLock).toBeUndefined();
    }
  });
});

describe('Object Lock where the stage asks', () => {
  test.each([
    ['locked', 'COMPLIANCE', 2557],
    ['governed', 'GOVERNANCE', 30],
  ] as const)('%s: versioned, Object Lock on, default retention %s for %i days', (name, mode, days) => {
    const s = name === 'locked' ? locked : governed;
    const props = (s.resources[logicalId(s, s.stack.storage.bucket)] as Json).Properties;
    expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(props.ObjectLockEnabled).toBe(true);
    expect(props.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: { DefaultRetention: { Mode: mode, Days: days } },
    });
    expect(s.stack.storage.objectLock).toEqual({ mode, retentionDays: days });
  });

  test('a destroy stage is warned that its bucket cannot be emptied; a retaining one is not', () => {
    Annotations.fromStack(governed.stack).hasWarning(
      `/${governed.stack.stackName}/Storage/Recordings`,
      Match.stringLikeRegexp('Object Lock with removalPolicy "destroy"'),
    );
    Annotations.fromStack(locked.stack).hasNoWarning('*', Match.stringLikeRegexp('Object Lock'));
  });

  test('the construct refuses Object Lock on an unversioned bucket', () => {
    const stack = new Stack();
    expect(
      () =>
        new RecordingStorage(stack, 'Storage', {
          versioned: false,
          lifecycle: { noncurrentVersionExpireAfterDays: 30 },
          removalPolicy: RemovalPolicy.RETAIN,
          accessLogExpireDays: 30,
          objectLock: { mode: 'GOVERNANCE', retentionDays: 1 },
        }),
    ).toThrow(/Object Lock requires a versioned bucket/);
  });
});

describe('VaultKey grants', () => {
  test("CDK's grant methods get the exact actions, not GenerateDataKey* / ReEncrypt*", () => {
    const stack = new Stack();
    const { key } = new VaultKey(stack, 'Key', { stage: 'test', removalPolicy: RemovalPolicy.DESTROY });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    new s3.Bucket(stack, 'Bucket', { encryptionKey: key }).grantReadWrite(role);
    new sqs.Queue(stack, 'Queue', { encryptionMasterKey: key }).grantSendMessages(role);
    key.grantEncryptDecrypt(role);
    const statements = Object.values((Template.fromStack(stack).toJSON() as Json).Resources as Record<string, Json>)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
    const kmsActions = new Set(
      statements.flatMap((st) => asList(st.Action as string | string[])).filter((a) => a.startsWith('kms:')),
    );
    expect(kmsActions).toEqual(new Set(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']));
  });
});

describe('cdk-nag', () => {
  test.each(['prod', 'dev', 'locked', 'governed'])(
    '%s: no unacknowledged AwsSolutions / Serverless findings',
    (name) => {
      const s = all().find(([n]) => n === name)?.[1];
      if (!s) throw new Error(name);
      expect(nagViolations(s.stack)).toEqual([]);
    },
  );
});
