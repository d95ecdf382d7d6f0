import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';

export interface VaultTableStorageProps {
  readonly removalPolicy: RemovalPolicy;
  /** The stage's customer-managed key (`encryption: "kms"`); unset: the AWS-managed key (aws/dynamodb). */
  readonly encryptionKey?: kms.IKey;
}

/**
 * What every table of the vault shares: on-demand, point-in-time recovery, KMS encryption (the
 * stage's customer-managed key or the AWS-managed one), and deletion protection wherever the stage
 * retains data. Each table adds its keys and indexes.
 */
export function vaultTableStorage(props: VaultTableStorageProps): Partial<dynamodb.TableProps> {
  return {
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(props.encryptionKey
      ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
      : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
    deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
    removalPolicy: props.removalPolicy,
  };
}
