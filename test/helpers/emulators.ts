/**
 * In-process AWS emulators for component tests: the local stack's dynalite (DynamoDB) and s3rver
 * (S3), each on a random loopback port, with SDK clients built from the same emulator settings the Lambdas use
 * (`clientOverrides` in lambda/shared/runtime/endpoints.ts). No network beyond 127.0.0.1, no AWS account.
 *
 *   const aws = await startEmulators();          // table `calls` (+ GSI) and bucket `recordings`
 *   … aws.s3, aws.ddb (document client), aws.getObject(key) …
 *   await aws.stop();
 *
 * The same emulators `npm start` runs (lib/local/emulators.ts); SQS tests use ./sqs-emulator.ts.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { clientOverrides } from '../../lambda/shared/runtime/endpoints';
import { CALL_SID_INDEX, LEDGER_TABLE_NAME, TABLE_NAME } from '../../lib/local/config';
import { startDynamo, startS3 } from '../../lib/local/emulators';
import { ensureTables } from '../../lib/local/resources';

export const CALLS_TABLE = TABLE_NAME;
export const LEDGER_TABLE = LEDGER_TABLE_NAME;
export { CALL_SID_INDEX };
export const RECORDINGS_BUCKET = 'recordings';

/** What `clientOverrides` signs with when AWS_ACCESS_KEY_ID is unset. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

export interface Emulators {
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  /** Document client configured like the transfer Lambda's (`removeUndefinedValues`). */
  readonly ddb: DynamoDBDocumentClient;
  readonly s3Endpoint: string;
  readonly dynamodbEndpoint: string;
  /** The `AWS_ENDPOINT_URL_*` variables that point the Lambdas' clients at these emulators. */
  readonly env: Record<string, string>;
  /** Bytes and head of an object in the recordings bucket, or undefined when there is none. */
  getObject(key: string, bucket?: string): Promise<StoredTestObject | undefined>;
  getItem(callId: string): Promise<Record<string, unknown> | undefined>;
  /** The ledger item of a recording. */
  getLedger(recordingSid: string): Promise<Record<string, unknown> | undefined>;
  putItem(item: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

export interface StoredTestObject {
  readonly bytes: Buffer;
  readonly contentType: string | undefined;
  readonly contentLength: number | undefined;
  readonly metadata: Record<string, string>;
}

export async function startEmulators(): Promise<Emulators> {
  // The local stack's own emulators, each on a free loopback port and a directory of its own.
  const directory = mkdtempSync(join(tmpdir(), 'rv-emulators-'));
  const dynamo = await startDynamo(0, join(directory, 'dynamodb'));
  const s3rver = await startS3(0, join(directory, 's3'), [RECORDINGS_BUCKET]);
  const dynamodbEndpoint = dynamo.endpoint;
  const s3Endpoint = s3rver.endpoint;

  const env = { AWS_ENDPOINT_URL_S3: s3Endpoint, AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint, AWS_REGION: 'us-east-1' };
  const s3 = new S3Client({ ...clientOverrides('S3', env) });
  const dynamodb = new DynamoDBClient({ ...clientOverrides('DYNAMODB', env) });
  const ddb = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });

  // The same table the local stack creates (and the stack deploys): key, GSI and all.
  await ensureTables(dynamodb);

  return {
    s3,
    dynamodb,
    ddb,
    s3Endpoint,
    dynamodbEndpoint,
    env,
    async getObject(key, bucket = RECORDINGS_BUCKET) {
      try {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const bytes = Buffer.from((await object.Body?.transformToByteArray()) ?? []);
        return {
          bytes,
          contentType: head.ContentType,
          contentLength: head.ContentLength,
          metadata: head.Metadata ?? {},
        };
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
        if (status === 404) return undefined;
        throw error;
      }
    },
    async getItem(callId) {
      const result = await ddb.send(new GetCommand({ TableName: CALLS_TABLE, Key: { callId }, ConsistentRead: true }));
      return result.Item;
    },
    async getLedger(recordingSid) {
      const result = await ddb.send(
        new GetCommand({ TableName: LEDGER_TABLE, Key: { recordingSid }, ConsistentRead: true }),
      );
      return result.Item;
    },
    async putItem(item) {
      await ddb.send(new PutCommand({ TableName: CALLS_TABLE, Item: item }));
    },
    async stop() {
      s3.destroy();
      dynamodb.destroy();
      await Promise.all([dynamo.stop(), s3rver.stop()]);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
