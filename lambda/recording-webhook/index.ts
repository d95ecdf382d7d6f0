import { SQSClient } from '@aws-sdk/client-sqs';
import { loadWebhookConfig } from '../shared/config';
import { clientOverrides } from '../shared/endpoints';
import { secretsManagerTokens } from '../shared/secrets';
import { createWebhookHandler } from './handler';

// Created once per container; a bad environment fails here, with every problem named.
const config = loadWebhookConfig();

export const handler = createWebhookHandler({
  config,
  tokens: secretsManagerTokens(config.secretId),
  // More attempts than the default: Twilio will not send this callback again.
  sqs: new SQSClient({ maxAttempts: 5, ...clientOverrides('SQS') }),
});
