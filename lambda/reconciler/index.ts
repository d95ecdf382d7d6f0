import { SQSClient } from '@aws-sdk/client-sqs';
import { loadReconcilerConfig } from '../shared/config/function-config';
import { vaultDocumentClient } from '../shared/runtime/document-client';
import { clientOverrides } from '../shared/runtime/endpoints';
import { parentTokens, secretsManagerSecret, subaccountTokens } from '../shared/twilio/credentials';
import { createReconcilerHandler } from './handler';

// Created once per container; a bad environment fails here, with every problem named.
const config = loadReconcilerConfig();
const secret = secretsManagerSecret(config.secretId);

export const handler = createReconcilerHandler({
  config,
  tokens: parentTokens(secret),
  subaccountTokens: subaccountTokens(secret),
  ddb: vaultDocumentClient(),
  sqs: new SQSClient({ ...clientOverrides('SQS') }),
});
