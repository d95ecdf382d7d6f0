import * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface VaultEventsProps {
  /** The stage: the bus is `recording-vault-<stage>`. */
  readonly stage: string;
  /** A customer-managed key (stage `encryption: "kms"`); unset: AWS-owned encryption. */
  readonly encryptionKey?: kms.IKey;
}

/**
 * The stage's EventBridge bus, `recording-vault-<stage>`: `Recording Stored`, `Recording Failed`
 * and `Recording Erased`, source `recording-vault`, for downstream consumers (transcription,
 * analytics) to subscribe with rules of their own.
 */
export class VaultEvents extends Construct {
  readonly bus: events.EventBus;

  constructor(scope: Construct, id: string, props: VaultEventsProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: `recording-vault-${props.stage}`,
      description: `Recording Vault (${props.stage}): Recording Stored, Recording Failed, Recording Erased`,
      ...(props.encryptionKey ? { kmsKey: props.encryptionKey } : {}),
    });
  }
}
