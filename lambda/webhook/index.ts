import { loadWebhookConfig } from '../shared/config/function-config';
import { lazySqsClient } from '../shared/job/transfer-queue';
import { clientOverrides } from '../shared/runtime/endpoints';
import { parentTokens, secretsManagerSecret, subaccountTokens } from '../shared/twilio/credentials';
import { createWebhookHandler } from './handler';

// Created once per container; a bad environment fails here, with every problem named.
const config = loadWebhookConfig();
// One cached read of the secret serves the parent's and every subaccount's tokens.
const secret = secretsManagerSecret(config.secretId);

export const handler = createWebhookHandler({
  config,
  tokens: parentTokens(secret),
  subaccountTokens: subaccountTokens(secret),
  // Made on the first accepted callback: rejections never load the SQS client. More attempts
  // than the default, because Twilio will not send this callback again.
  sqs: lazySqsClient({ maxAttempts: 5, ...clientOverrides('SQS') }),
});
