import { loadWebhookConfig } from '../shared/config/function-config';
import { lazySqsClient } from '../shared/job/transfer-queue';
import { clientOverrides } from '../shared/runtime/endpoints';
import { secretsManagerTokens } from '../shared/twilio/credentials';
import { createWebhookHandler } from './handler';

// Created once per container; a bad environment fails here, with every problem named.
const config = loadWebhookConfig();

export const handler = createWebhookHandler({
  config,
  tokens: secretsManagerTokens(config.secretId),
  // Made on the first accepted callback: rejections never load the SQS client. More attempts
  // than the default, because Twilio will not send this callback again.
  sqs: lazySqsClient({ maxAttempts: 5, ...clientOverrides('SQS') }),
});
