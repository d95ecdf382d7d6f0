import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { WebhookConfig } from '../shared/config/function-config';
import { type SqsClientSource, sqsTransferQueue } from '../shared/job/transfer-queue';
import type { HttpResponse } from '../shared/runtime/http';
import { createObservability, type Observability } from '../shared/runtime/observability';
import { type AccountTokenSource, twilioAccounts } from '../shared/twilio/accounts';
import type { TokenSource } from '../shared/twilio/signature';
import { acceptRecordingCallback } from './accept-callback';

export interface WebhookRuntime {
  readonly config: Pick<WebhookConfig, 'accountSid' | 'publicBaseUrl' | 'transferQueueUrl'> &
    Partial<Pick<WebhookConfig, 'subaccountSids' | 'connectionOverrides'>>;
  /** The parent account's tokens. */
  readonly tokens: TokenSource;
  /** Each listed subaccount's tokens (required when `config.subaccountSids` lists any). */
  readonly subaccountTokens?: AccountTokenSource;
  /** A client, or a function that makes one on first use (see lazySqsClient). */
  readonly sqs: SqsClientSource;
  readonly obs?: Observability;
}

/** POST /twilio/recording. Everything but wiring lives in lambda/webhook/accept-callback.ts. */
export function createWebhookHandler(runtime: WebhookRuntime) {
  const obs = runtime.obs ?? createObservability('recording-webhook');
  const deps = {
    accounts: twilioAccounts({
      parentSid: runtime.config.accountSid,
      parentTokens: runtime.tokens,
      subaccountSids: runtime.config.subaccountSids ?? [],
      ...(runtime.subaccountTokens ? { subaccountTokens: runtime.subaccountTokens } : {}),
    }),
    publicBaseUrl: runtime.config.publicBaseUrl,
    connectionOverrides: runtime.config.connectionOverrides,
    queue: sqsTransferQueue(runtime.sqs, runtime.config.transferQueueUrl),
    obs,
  };
  return async (event: APIGatewayProxyEventV2, context?: Context): Promise<HttpResponse> => {
    if (context) obs.addContext(context);
    try {
      return await acceptRecordingCallback(event, deps);
    } finally {
      obs.flush();
    }
  };
}
