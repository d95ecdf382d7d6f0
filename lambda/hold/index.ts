import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadHoldConfig } from '../shared/config/function-config';
import { clientOverrides } from '../shared/runtime/endpoints';
import { createHoldHandler } from './handler';

// Created once per container; a bad environment fails here, with every problem named.
const config = loadHoldConfig();

export const handler = createHoldHandler({
  config,
  s3: new S3Client({ ...clientOverrides('S3') }),
  ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientOverrides('DYNAMODB') }), {
    marshallOptions: { removeUndefinedValues: true },
  }),
});
