import { Duration } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/config/env-names';
import type { AuditTable } from './audit-table';
import { type FunctionLogProps, VaultFunction } from './vault-function';

export interface AuditReadFunctionProps extends FunctionLogProps {
  readonly entry: string;
  readonly audit: AuditTable;
  readonly encryptionKey?: kms.IKey;
}

/**
 * GET /recordings/{recordingSid}/audit: a recording's entries in the access audit trail. It can
 * Query the audit table and nothing else; the functions that write entries cannot read them.
 */
export class AuditReadFunction extends VaultFunction {
  constructor(scope: Construct, id: string, props: AuditReadFunctionProps) {
    super(scope, id, {
      ...props,
      description: "Recording Vault audit (read): a recording's access audit trail",
      timeout: Duration.seconds(10),
      memorySize: 256,
      environment: { [ENV.auditTable]: props.audit.table.tableName },
    });
    props.audit.grantQuery(this.role, props.encryptionKey);
  }
}
