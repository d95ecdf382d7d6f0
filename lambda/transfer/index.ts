import { S3Client } from '@aws-sdk/client-s3';
import { loadTransferConfig } from '../shared/config/function-config';
import { lazySqsClient } from '../shared/job/transfer-queue';
import { vaultDocumentClient } from '../shared/runtime/document-client';
import { clientOverrides } from '../shared/runtime/endpoints';
import { parentTokens, secretsManagerSecret, subaccountTokens } from '../shared/twilio/credentials';
import { createTransferHandler } from './handler';

const config = loadTransferConfig();
const secret = secretsManagerSecret(config.secretId);

export const handler = createTransferHandler({
  config,
  tokens: parentTokens(secret),
  subaccountTokens: subaccountTokens(secret),
  s3: new S3Client({ ...clientOverrides('S3') }),
  ddb: vaultDocumentClient(),
  // Needed only to delay a retry or dead-letter a job: loaded on the first of those.
  sqs: lazySqsClient({ ...clientOverrides('SQS') }),
});
