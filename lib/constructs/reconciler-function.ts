import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';
import { ENV, reconcilerCheckpointKey } from '../../lambda/shared/config/env-names';
import type { ReconcileConfig } from '../config';
import { ReconcilerSchedule } from './reconciler-schedule';
import type { RecordingsLedger } from './recordings-ledger';
import type { TransferQueue } from './transfer-queue';
import type { TwilioSecret } from './twilio-secret';
import { type FunctionLogProps, VaultFunction } from './vault-function';

/** The ledger key the reconciler keeps its checkpoint under (lambda/shared/config/env-names.ts). */

export interface ReconcilerFunctionProps extends FunctionLogProps {
  readonly entry: string;
  readonly twilioAccountSid: string;
  /** Subaccounts accepted besides the parent (their tokens are in the same secret). */
  readonly twilioSubaccountSids?: readonly string[];
  readonly twilioApiBaseUrl: string;
  readonly twilioSecret: TwilioSecret;
  /** The stage's `reconcile` settings: the schedule, and the window each run lists. */
  readonly reconcile: ReconcileConfig;
  readonly ledger: RecordingsLedger;
  readonly transferQueue: TransferQueue;
  /** The stage's customer-managed key, when the data is encrypted with one. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The reconciler, on its schedule: lists Twilio's recordings and queues a transfer job for each
 * completed one the ledger lacks. It may read the secret, look recordings up in the ledger
 * (BatchGetItem), read and write its own checkpoint item there and nothing else of it, and send
 * to the transfer queue.
 */
export class ReconcilerFunction extends VaultFunction {
  readonly schedule: ReconcilerSchedule;

  constructor(scope: Construct, id: string, props: ReconcilerFunctionProps) {
    const { reconcile } = props;
    // Never longer than the interval, so that one run ends before the next starts.
    const timeoutSeconds = Math.min(300, (reconcile.intervalMinutes || 5) * 60);
    super(scope, id, {
      ...props,
      description: 'Recording Vault reconciler: queues the recordings Twilio completed whose callback never arrived',
      timeout: Duration.seconds(timeoutSeconds),
      // A day's catch-up keeps every SID of that day in memory to drop repeats.
      memorySize: 512,
      environment: {
        [ENV.twilioAccountSid]: props.twilioAccountSid,
        ...(props.twilioSubaccountSids?.length
          ? { [ENV.twilioSubaccountSids]: props.twilioSubaccountSids.join(',') }
          : {}),
        [ENV.twilioSecretArn]: props.twilioSecret.secretId,
        [ENV.twilioApiBaseUrl]: props.twilioApiBaseUrl,
        [ENV.ledgerTable]: props.ledger.table.tableName,
        [ENV.transferQueueUrl]: props.transferQueue.queue.queueUrl,
        [ENV.reconcileLookbackMinutes]: String(reconcile.lookbackMinutes),
        [ENV.reconcileSettleMinutes]: String(reconcile.settleMinutes),
      },
      asyncInvocation:
        'Invoked asynchronously by its schedule only. A failed run is not retried: the checkpoint stays and the next scheduled run lists the same window again; the ReconcilerErrors alarm reports it.',
    });
    // A failed or late run is the next run's work; retrying it would only overlap that run.
    this.function.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.seconds(Math.max(60, timeoutSeconds)),
    });

    props.twilioSecret.secret.grantRead(this.function);
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'LookUpRecordings',
        actions: ['dynamodb:BatchGetItem'],
        resources: [props.ledger.table.tableArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'KeepCheckpoint',
        actions: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
        resources: [props.ledger.table.tableArn],
        // One checkpoint per account: the parent's under the key it always had.
        conditions: {
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': [props.twilioAccountSid, ...(props.twilioSubaccountSids ?? [])].map((sid) =>
              reconcilerCheckpointKey(sid, props.twilioAccountSid),
            ),
          },
        },
      }),
    );
    props.transferQueue.queue.grantSendMessages(this.function);
    // The hand-written statements carry no KMS rights: ledger reads and the checkpoint write under the key.
    props.encryptionKey?.grant(this.function, 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey');

    this.schedule = new ReconcilerSchedule(this, 'Schedule', {
      function: this.function,
      intervalMinutes: reconcile.intervalMinutes,
    });
  }
}
