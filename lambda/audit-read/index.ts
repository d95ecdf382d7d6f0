import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { loadAuditConfig } from '../shared/config/function-config';
import { clientOverrides } from '../shared/runtime/endpoints';
import { createAuditReadHandler } from './handler';

const config = loadAuditConfig();

export const handler = createAuditReadHandler({
  config,
  ddb: DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientOverrides('DYNAMODB') })),
});
