import { type DynamoDBDocumentClient, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';

/**
 * Conditional writes to DynamoDB, shared by the vault's tables: every write there is conditional,
 * and a condition that does not hold is an answer (a duplicate, late or out-of-order job), not an error.
 */

/** DynamoDB refused the write because its condition did not hold. */
export function isConditionFailed(error: unknown): boolean {
  return (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';
}

/** A conditional update of `tableName`: false when its condition did not hold; any other error is thrown. */
export async function conditionalUpdate(
  db: DynamoDBDocumentClient,
  tableName: string,
  input: Omit<UpdateCommandInput, 'TableName'>,
): Promise<boolean> {
  try {
    await db.send(new UpdateCommand({ TableName: tableName, ...input }));
    return true;
  } catch (error) {
    if (isConditionFailed(error)) return false;
    throw error;
  }
}
