import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { WebhookConfig } from '../shared/config/function-config';
import { type SqsClientSource, sqsTransferQueue } from '../shared/job/transfer-queue';
import type { HttpResponse } from '../shared/runtime/http';
import { createObservability, type Observability } from '../shared/runtime/observability';
import type { TokenSource } from '../shared/twilio/signature';
import { acceptRecordingCallback } from './accept-callback';

export interface WebhookRuntime {
  readonly config: Pick<WebhookConfig, 'accountSid' | 'publicBaseUrl' | 'transferQueueUrl'>;
  readonly tokens: TokenSource;
  /** A client, or a function that makes one on first use (see lazySqsClient). */
  readonly sqs: SqsClientSource;
  readonly obs?: Observability;
}

/** POST /twilio/recording. Everything but wiring lives in lambda/webhook/accept-callback.ts. */
export function createWebhookHandler(runtime: WebhookRuntime) {
  const obs = runtime.obs ?? createObservability('recording-webhook');
  const deps = {
    accountSid: runtime.config.accountSid,
    publicBaseUrl: runtime.config.publicBaseUrl,
    tokens: runtime.tokens,
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
