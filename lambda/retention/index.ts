import { S3Client } from '@aws-sdk/client-s3';
import { loadRetentionConfig } from '../shared/config/function-config';
import { vaultDocumentClient } from '../shared/runtime/document-client';
import { clientOverrides } from '../shared/runtime/endpoints';
import { parentTokens, secretsManagerSecret, subaccountTokens } from '../shared/twilio/credentials';
import { createRetentionHandler } from './handler';

// Created once per container; a bad environment fails here, with every problem named.
const config = loadRetentionConfig();
const secret = secretsManagerSecret(config.secretId);

export const handler = createRetentionHandler({
  config,
  tokens: parentTokens(secret),
  subaccountTokens: subaccountTokens(secret),
  s3: new S3Client({ ...clientOverrides('S3') }),
  ddb: vaultDocumentClient(),
});
