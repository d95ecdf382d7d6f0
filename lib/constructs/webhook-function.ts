import { Duration } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ENV } from '../../lambda/shared/config/env-names';
import type { TransferQueue } from './transfer-queue';
import type { TwilioSecret } from './twilio-secret';
import { type FunctionLogProps, VaultFunction } from './vault-function';

export interface WebhookFunctionProps extends FunctionLogProps {
  readonly entry: string;
  readonly twilioAccountSid: string;
  /** Subaccounts accepted besides the parent (their tokens are in the same secret). */
  readonly twilioSubaccountSids?: readonly string[];
  readonly twilioSecret: TwilioSecret;
  readonly transferQueue: TransferQueue;
  /** The base URL Twilio is configured with (custom domain, base path, tunnel). */
  readonly publicBaseUrl?: string;
  /** The connection-override fragment Twilio is given with the URL (without `#`). */
  readonly connectionOverrides?: string;
}

/**
 * POST /twilio/recording: verifies the signature and queues one transfer job. It may send to the
 * transfer queue and read the Twilio secret, nothing else.
 */
export class WebhookFunction extends VaultFunction {
  constructor(scope: Construct, id: string, props: WebhookFunctionProps) {
    super(scope, id, {
      ...props,
      description: 'Recording Vault webhook: verifies the Twilio recording callback and queues the transfer',
      timeout: Duration.seconds(10),
      memorySize: 256,
      environment: {
        [ENV.twilioAccountSid]: props.twilioAccountSid,
        ...(props.twilioSubaccountSids?.length
          ? { [ENV.twilioSubaccountSids]: props.twilioSubaccountSids.join(',') }
          : {}),
        [ENV.twilioSecretArn]: props.twilioSecret.secretId,
        [ENV.transferQueueUrl]: props.transferQueue.queue.queueUrl,
        ...(props.publicBaseUrl !== undefined ? { [ENV.publicBaseUrl]: props.publicBaseUrl } : {}),
        ...(props.connectionOverrides !== undefined
          ? { [ENV.webhookConnectionOverrides]: props.connectionOverrides }
          : {}),
      },
    });
    props.transferQueue.queue.grantSendMessages(this.function);
    props.twilioSecret.secret.grantRead(this.function);
  }
}
