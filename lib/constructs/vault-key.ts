import type { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { allowCloudWatchLogs, denyGrantsExceptForAwsServices } from './key-policies';

/** The alias of a stage's key. */
export function vaultKeyAliasName(stage: string): string {
  return `alias/recording-vault-${stage}`;
}

/**
 * What a CDK grant asks for, as the exact actions the services behind this key call.
 * S3 (SSE-KMS, bucket keys), SQS, SNS, DynamoDB and EventBridge call `GenerateDataKey` and
 * `Decrypt` with the caller's rights; none of them calls `GenerateDataKeyPair*`,
 * `GenerateDataKeyWithoutPlaintext` or `ReEncrypt*` for it. Any other action is kept as asked.
 */
function exactActions(action: string): string[] {
  if (action === 'kms:GenerateDataKey*') return ['kms:GenerateDataKey'];
  if (action === 'kms:ReEncrypt*') return [];
  return [action];
}

/**
 * A key whose grants hold no action wildcard. CDK's `grant*` methods of buckets, tables,
 * queues and topics pass `kms:GenerateDataKey*` and `kms:ReEncrypt*` to `key.grant()`; the
 * project allows no wildcard action in IAM (least privilege; cdk-nag AwsSolutions-IAM5), so
 * this key turns them into the one action that is used, whoever grants.
 */
class ExactGrantsKey extends kms.Key {
  override grant(grantee: iam.IGrantable, ...actions: string[]): iam.Grant {
    const exact = [...new Set(actions.flatMap(exactActions))];
    if (exact.length === 0) return iam.Grant.drop(grantee, 'no KMS action is needed');
    return super.grant(grantee, ...exact);
  }

  override grantDecrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, 'kms:Decrypt');
  }

  override grantEncrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, 'kms:Encrypt', 'kms:GenerateDataKey');
  }

  override grantEncryptDecrypt(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
  }
}

export interface VaultKeyProps {
  /** The stage name: the alias is `alias/recording-vault-<stage>`. */
  readonly stage: string;
  /** RETAIN keeps the key (and so the data it encrypts readable) when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The stage's one customer-managed key (`encryption: "kms"`): the recordings bucket, the
 * tables, the queues, the event bus and the alarm topic are encrypted with it. Rotation is on.
 *
 * Key policy: the account (so IAM policies decide, as for every key CDK creates) plus the
 * service principals that use the key on their own, each added by the construct that needs it
 * with its own conditions: CloudWatch (alarms publishing to the encrypted topic) by
 * AlarmTopic; EventBridge by `events.EventBus` (encrypted bus) and by SQS/SNS rule
 * targets (their `grantSendMessages`/`grantPublish`). Functions get their rights by the
 * resources' `grant*` methods or, next to hand-written statements, by `key.grant*()`; either
 * way without action wildcards (see ExactGrantsKey). CloudWatch Logs may use it for the log
 * groups of this account and region (every log group of a `kms` stage is encrypted with it), and
 * grants may be created only for AWS resources (see key-policies.ts).
 */
export class VaultKey extends Construct {
  readonly key: kms.Key;
  readonly alias: kms.IAlias;

  constructor(scope: Construct, id: string, props: VaultKeyProps) {
    super(scope, id);
    this.key = new ExactGrantsKey(this, 'Key', {
      description: `Recording Vault (${props.stage}): recordings bucket, tables, queues, event bus and alarm topic`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    this.alias = this.key.addAlias(vaultKeyAliasName(props.stage));
    denyGrantsExceptForAwsServices(this.key);
    allowCloudWatchLogs(this.key);
  }
}
