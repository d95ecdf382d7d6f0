import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/config/env-names';
import { formatDaysBySource } from '../../lambda/shared/config/retention-by-source';
import type { RetentionConfig } from '../config';
import type { AuditTable } from './audit-table';
import type { CallsTable } from './calls-table';
import { grantRecordingErasure } from './erasure-function';
import type { RecordingStorage } from './recording-storage';
import type { RecordingsLedger } from './recordings-ledger';
import type { TwilioSecret } from './twilio-secret';
import type { VaultEvents } from './vault-events';
import { type FunctionLogProps, VaultFunction } from './vault-function';

export interface RetentionFunctionProps extends FunctionLogProps {
  /** The handler's entry file (lambda/retention/index.ts). */
  readonly entry: string;
  readonly twilioAccountSid: string;
  /** The stage's subaccounts: a recording of one is deleted at Twilio as that account. */
  readonly twilioSubaccountSids?: readonly string[];
  readonly twilioApiBaseUrl: string;
  readonly twilioSecret: TwilioSecret;
  readonly retention: RetentionConfig;
  readonly storage: RecordingStorage;
  readonly calls: CallsTable;
  readonly ledger: RecordingsLedger;
  readonly events: VaultEvents;
  /** Every expiry (and every recording passed by) is entered here: PutItem only. */
  readonly audit: AuditTable;
  /** The stage's customer-managed key, when the data is encrypted with one. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The retention sweep (stage `retention.days`, and `retention.bySource`) on its schedule, with exactly the erasure's rights
 * plus reading the ledger's day index and keeping its checkpoint: read and conditionally update
 * ledger and call items; list recording versions, read their Object Lock retention and legal hold,
 * delete them; read the Twilio secret; publish to the bus; append to the audit trail (PutItem on
 * the audit table, nothing else). No other Put and no Delete on any table, no object reads, no
 * bypass of governance retention, no legal-hold changes.
 */
export class RetentionFunction extends VaultFunction {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: RetentionFunctionProps) {
    const { retention } = props;
    const bySource = formatDaysBySource(retention.bySource ?? {});
    super(scope, id, {
      ...props,
      description:
        'Recording Vault retention: erases recordings older than the stage keeps them, through the erasure path',
      timeout: Duration.minutes(5),
      memorySize: 512,
      // One run at a time: two would race for the same recordings and checkpoint.
      reservedConcurrency: 1,
      environment: {
        [ENV.twilioAccountSid]: props.twilioAccountSid,
        ...(props.twilioSubaccountSids?.length
          ? { [ENV.twilioSubaccountSids]: props.twilioSubaccountSids.join(',') }
          : {}),
        [ENV.twilioSecretArn]: props.twilioSecret.secretId,
        [ENV.twilioApiBaseUrl]: props.twilioApiBaseUrl,
        [ENV.recordingsBucket]: props.storage.bucket.bucketName,
        [ENV.callsTable]: props.calls.table.tableName,
        [ENV.ledgerTable]: props.ledger.table.tableName,
        [ENV.ledgerDayIndex]: props.ledger.dayIndexName,
        [ENV.ledgerIndexShards]: String(props.ledger.indexShards),
        [ENV.eventBusName]: props.events.bus.eventBusName,
        [ENV.retentionDays]: String(retention.days),
        // Only when a source is kept otherwise: a stage without bySource synthesizes as before.
        ...(bySource !== '' ? { [ENV.retentionDaysBySource]: bySource } : {}),
        [ENV.retentionMaxRecordingsPerRun]: String(retention.maxRecordingsPerRun),
        [ENV.auditTable]: props.audit.table.tableName,
      },
      asyncInvocation:
        'Invoked asynchronously by its schedule only. A failed run is not retried: its checkpoint stays and the next scheduled run carries on from it; the RetentionErrors alarm reports it.',
    });
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(5) });
    // The sweep acts on nobody's request: its audit entries name the role it runs as.
    this.function.addEnvironment(ENV.auditPrincipalArn, this.role.roleArn);
    props.audit.grantAppend(this.role, props.encryptionKey);

    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ExpireLedgerEntries',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [props.ledger.table.tableArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'FindDueRecordings',
        actions: ['dynamodb:Query'],
        resources: [props.ledger.dayIndexArn()],
      }),
    );
    // Expiry is an erasure: the same rights on call entries and recording versions.
    grantRecordingErasure(this.role, props);
    props.storage.acknowledgeRecordingsPrefix(
      this.role,
      'Expiry is limited to the recordings/ prefix of the recordings bucket: the keys of the recordings due are known only at run time.',
    );
    props.twilioSecret.secret.grantRead(this.function);
    props.events.bus.grantPutEventsTo(this.function);
    props.encryptionKey?.grant(this.function, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');

    this.rule = new events.Rule(this, 'Schedule', {
      description: `Runs the Recording Vault retention sweep every ${retention.intervalMinutes} minutes (keeps ${retention.days} days${bySource !== '' ? `; ${bySource}` : ''})`,
      schedule: events.Schedule.rate(Duration.minutes(retention.intervalMinutes)),
      targets: [
        new targets.LambdaFunction(this.function, {
          maxEventAge: Duration.minutes(Math.min(retention.intervalMinutes, 60 * 24)),
          retryAttempts: 2,
        }),
      ],
    });
    Validations.of(this.rule).acknowledge({
      id: 'Serverless-EventBusDLQ',
      reason:
        'A scheduled retention run that is never delivered loses nothing: the checkpoint moves only as days are swept, so the next run carries on.',
    });
  }
}
