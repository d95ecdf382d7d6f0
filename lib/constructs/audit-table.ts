import type { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { AUDIT_BY_ACTOR_DAY_INDEX } from '../../lambda/shared/audit/audit-record';
import { vaultTableStorage } from './vault-table';

export interface AuditTableProps {
  readonly removalPolicy: RemovalPolicy;
  /** The stage's customer-managed key (`encryption: "kms"`, as `prod`); unset: the AWS-managed key. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The access audit trail (`audit` table): partition `recordingSid`, sort `atId` (ISO time and a
 * random id), GSI `byActorDay` (`actorDay` = actor#day, sorted by `atId`). On-demand,
 * point-in-time recovery, KMS. It is kept when the stack is deleted and protected from deletion
 * wherever the stage retains data (`prod`). Functions are granted only `grantAppend` (PutItem) or
 * `grantQuery` (Query); no role of the stack may update or delete an entry.
 */
export class AuditTable extends Construct {
  readonly table: dynamodb.Table;
  readonly actorDayIndexName = AUDIT_BY_ACTOR_DAY_INDEX;

  constructor(scope: Construct, id: string, props: AuditTableProps) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'recordingSid', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'atId', type: dynamodb.AttributeType.STRING },
      ...vaultTableStorage(props),
    });
    this.table.addGlobalSecondaryIndex({
      indexName: AUDIT_BY_ACTOR_DAY_INDEX,
      partitionKey: { name: 'actorDay', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'atId', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
  }

  /** PutItem on the table and nothing else: the writer's puts are conditional (attribute_not_exists). */
  grantAppend(role: iam.IRole, encryptionKey?: kms.IKey): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'AppendAuditEntries',
        actions: ['dynamodb:PutItem'],
        resources: [this.table.tableArn],
      }),
    );
    encryptionKey?.grant(role, 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:Decrypt', 'kms:DescribeKey');
  }

  /** Query on the table (a recording's entries) and nothing else. */
  grantQuery(role: iam.IRole, encryptionKey?: kms.IKey): void {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ReadAuditEntries',
        actions: ['dynamodb:Query'],
        resources: [this.table.tableArn],
      }),
    );
    encryptionKey?.grant(role, 'kms:Decrypt', 'kms:DescribeKey');
  }

  /** ARN of the actor-and-day index. */
  actorDayIndexArn(): string {
    return `${this.table.tableArn}/index/${AUDIT_BY_ACTOR_DAY_INDEX}`;
  }
}
