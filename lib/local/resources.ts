/**
 * Creates what the stack needs when it is missing (table, bucket, queues), on the embedded
 * emulators or on external endpoints alike. Safe to run on every start.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SetQueueAttributesCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { AUDIT_BY_ACTOR_DAY_INDEX } from '../../lambda/shared/audit/audit-record';
import { INDEX_PROJECTED_ATTRIBUTES } from '../../lambda/shared/ledger/day-index';
import {
  AUDIT_TABLE_NAME,
  BUCKET_NAME,
  CALL_SID_INDEX,
  DLQ_NAME,
  LEDGER_DAY_INDEX,
  LEDGER_HOLD_INDEX,
  LEDGER_OPEN_STATUS_INDEX,
  LEDGER_TABLE_NAME,
  QUEUE_NAME,
  TABLE_NAME,
} from './config';

export interface QueueUrls {
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

function errorName(error: unknown): string | undefined {
  return (error as { name?: string } | undefined)?.name;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/**
 * The app's `calls` table (GSI `byTwilioCallSid`), the vault's ledger (GSIs `byDayShard` and the
 * sparse `byOpenStatus` and `byHold`, projecting what the listing reads) and the access audit trail (GSI
 * `byActorDay`), as the stack defines them.
 */
export async function ensureTables(ddb: DynamoDBClient): Promise<void> {
  await Promise.all([
    ensureTable(ddb, {
      TableName: TABLE_NAME,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'callId', AttributeType: 'S' },
        { AttributeName: 'twilioCallSid', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'callId', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: CALL_SID_INDEX,
          KeySchema: [{ AttributeName: 'twilioCallSid', KeyType: 'HASH' }],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
    ensureTable(ddb, {
      TableName: LEDGER_TABLE_NAME,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'recordingSid', AttributeType: 'S' },
        { AttributeName: 'dayShard', AttributeType: 'S' },
        { AttributeName: 'openStatus', AttributeType: 'S' },
        { AttributeName: 'holdState', AttributeType: 'S' },
        { AttributeName: 'startedAt', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'recordingSid', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: (
        [
          [LEDGER_DAY_INDEX, 'dayShard'],
          [LEDGER_OPEN_STATUS_INDEX, 'openStatus'],
          [LEDGER_HOLD_INDEX, 'holdState'],
        ] as const
      ).map(([IndexName, partitionKey]) => ({
        IndexName,
        KeySchema: [
          { AttributeName: partitionKey, KeyType: 'HASH' as const },
          { AttributeName: 'startedAt', KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...INDEX_PROJECTED_ATTRIBUTES] },
      })),
    }),
    ensureTable(ddb, {
      TableName: AUDIT_TABLE_NAME,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'recordingSid', AttributeType: 'S' },
        { AttributeName: 'atId', AttributeType: 'S' },
        { AttributeName: 'actorDay', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'recordingSid', KeyType: 'HASH' },
        { AttributeName: 'atId', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: AUDIT_BY_ACTOR_DAY_INDEX,
          KeySchema: [
            { AttributeName: 'actorDay', KeyType: 'HASH' },
            { AttributeName: 'atId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  ]);
}

async function ensureTable(ddb: DynamoDBClient, definition: CreateTableCommandInput): Promise<void> {
  const TableName = definition.TableName;
  try {
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName }));
    // A table from an older version keeps its old indexes: the emulator cannot add or change one,
    // so say so (an index projecting less would list recordings without what it leaves out).
    const missing = (definition.GlobalSecondaryIndexes ?? [])
      .filter((wanted) => {
        const found = (Table?.GlobalSecondaryIndexes ?? []).find((index) => index.IndexName === wanted.IndexName);
        const projects = new Set(found?.Projection?.NonKeyAttributes ?? []);
        return !found || !(wanted.Projection?.NonKeyAttributes ?? []).every((name) => projects.has(name));
      })
      .map((index) => index.IndexName);
    if (missing.length > 0) {
      throw new Error(
        `Table ${TableName} has no index ${missing.join(', ')} as this version defines it (made by an older version): ` +
          'remove the local data directory (LOCAL_DATA_DIR, default .local) or point AWS_ENDPOINT_URL_DYNAMODB elsewhere',
      );
    }
    if (Table?.TableStatus === 'ACTIVE') return;
  } catch (error) {
    if (errorName(error) !== 'ResourceNotFoundException') throw error;
    try {
      await ddb.send(new CreateTableCommand(definition));
    } catch (createError) {
      // Created meanwhile (another process on the same external endpoint).
      if (errorName(createError) !== 'ResourceInUseException') throw createError;
    }
  }
  await waitUntilTableExists({ client: ddb, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName });
}

export async function ensureBucket(s3: S3Client): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: BUCKET_NAME }));
    return;
  } catch (error) {
    if (statusOf(error) !== 404 && errorName(error) !== 'NotFound' && errorName(error) !== 'NoSuchBucket') throw error;
  }
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET_NAME }));
  } catch (error) {
    if (errorName(error) !== 'BucketAlreadyOwnedByYou') throw error;
  }
}

/**
 * The transfer queue and its dead-letter queue. Attributes are set after creation, so a changed
 * TRANSFER_MAX_ATTEMPTS or visibility timeout applies to a queue that already exists.
 */
export async function ensureQueues(
  sqs: SQSClient,
  options: { readonly maxReceiveCount: number; readonly visibilityTimeoutSeconds: number },
): Promise<QueueUrls> {
  const dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: DLQ_NAME }))).QueueUrl;
  if (!dlqUrl) throw new Error(`CreateQueue ${DLQ_NAME} returned no URL`);
  await sqs.send(
    new SetQueueAttributesCommand({ QueueUrl: dlqUrl, Attributes: { MessageRetentionPeriod: String(14 * 24 * 3600) } }),
  );
  const dlqArn = await queueArn(sqs, dlqUrl);

  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: QUEUE_NAME }))).QueueUrl;
  if (!queueUrl) throw new Error(`CreateQueue ${QUEUE_NAME} returned no URL`);
  await sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: queueUrl,
      Attributes: {
        VisibilityTimeout: String(options.visibilityTimeoutSeconds),
        MessageRetentionPeriod: String(4 * 24 * 3600),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount }),
      },
    }),
  );
  return { queueUrl, queueArn: await queueArn(sqs, queueUrl), dlqUrl, dlqArn };
}

async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = Attributes?.QueueArn;
  if (!arn) throw new Error(`No QueueArn for ${queueUrl}`);
  return arn;
}
