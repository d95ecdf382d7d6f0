import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientOverrides } from './endpoints';

/**
 * The DynamoDB document client every function uses, created once per container: optional
 * attributes left undefined are dropped, never written (the SDK would otherwise refuse them).
 * Its own module so that a function without DynamoDB (the webhook) bundles none of it.
 */
export function vaultDocumentClient(
  settings: DynamoDBClientConfig = { ...clientOverrides('DYNAMODB') },
): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(settings), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
