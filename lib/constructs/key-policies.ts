/**
 * Key-policy statements every key of the stack carries, and the conditioned service principals
 * that use a key on their own (AWS Control Tower proactive controls; docs/governed-accounts.md).
 */
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/**
 * Denies `kms:CreateGrant` to every principal unless the grant is for an AWS resource or the
 * caller is an AWS service (CT.KMS.PR.3). DynamoDB's grants for a table's key are made for an
 * AWS resource; no function of the vault creates grants.
 */
export function denyGrantsExceptForAwsServices(key: kms.IKey): void {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyGrantsExceptForAwsServices',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
}

/**
 * Lets CloudWatch Logs of the stack's region encrypt and decrypt log groups of this account and
 * region with the key (CT.CLOUDWATCH.PR.3), with the actions and the encryption-context condition
 * AWS documents for log-group encryption: only for log groups of this account and region.
 */
export function allowCloudWatchLogs(key: kms.IKey): void {
  const stack = Stack.of(key);
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'CloudWatchLogsOfThisAccountAndRegion',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      // AWS's documented set for log groups (the service picks among them: Encrypt, Decrypt,
      // ReEncrypt on key change, GenerateDataKey, DescribeKey); principal and context bound it.
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: {
          'kms:EncryptionContext:aws:logs:arn': stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        },
      },
    }),
  );
}

/**
 * CloudWatch, as far as the alarms of this account and region: `cloudwatch.amazonaws.com` with
 * `aws:SourceAccount` and `aws:SourceArn` conditions, for a key policy that lets alarms publish
 * to an encrypted topic (otherwise any account's alarm could have CloudWatch use the key).
 */
export function cloudWatchAlarmsPrincipal(scope: Construct): iam.IPrincipal {
  const stack = Stack.of(scope);
  return new iam.ServicePrincipal('cloudwatch.amazonaws.com', {
    conditions: {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: '*',
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    },
  });
}
