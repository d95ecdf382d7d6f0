/**
 * In-process AWS emulators for component tests: dynalite (DynamoDB) and s3rver (S3), each on a
 * random loopback port, with SDK clients built from the same emulator settings the Lambdas use
 * (`clientOverrides` in lambda/shared/runtime/endpoints.ts). No network beyond 127.0.0.1, no AWS account.
 *
 *   const aws = await startEmulators();          // table `calls` (+ GSI) and bucket `recordings`
 *   … aws.s3, aws.ddb (document client), aws.getObject(key) …
 *   await aws.stop();
 *
 * SQS is not emulated here (fauxqs is ESM-only): mock it with aws-sdk-client-mock.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { clientOverrides } from '../../lambda/shared/runtime/endpoints';
import { ensureTables } from '../../lib/local/resources';

// Neither package ships types.
const dynalite = require('dynalite') as (options: Record<string, number>) => Server;
const S3rver = require('s3rver') as new (
  options: Record<string, unknown>,
) => { run(): Promise<AddressInfo>; close(): Promise<void>; httpServer?: Server };
const s3rverAccounts = require('s3rver/lib/models/account') as {
  DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void };
};

import { CALL_SID_INDEX, LEDGER_TABLE_NAME, TABLE_NAME } from '../../lib/local/config';

export const CALLS_TABLE = TABLE_NAME;
export const LEDGER_TABLE = LEDGER_TABLE_NAME;
export { CALL_SID_INDEX };
export const RECORDINGS_BUCKET = 'recordings';

/**
 * Without AWS_ACCESS_KEY_ID, `clientOverrides` signs with `local`/`local`; s3rver only knows
 * `S3RVER`/`S3RVER` and rejects other key ids, so the `local` pair is registered with it.
 */
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

function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

export async function startEmulators(): Promise<Emulators> {
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', () => resolve()));
  const dynamodbEndpoint = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`;

  s3rverAccounts.DUMMY_ACCOUNT.createKeyPair(EMULATOR_CREDENTIALS.accessKeyId, EMULATOR_CREDENTIALS.secretAccessKey);
  const directory = mkdtempSync(join(tmpdir(), 'rv-s3rver-'));
  const s3rver = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: RECORDINGS_BUCKET }],
  });
  const { port: s3Port } = await s3rver.run();
  const s3Endpoint = `http://127.0.0.1:${s3Port}`;

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
      await Promise.all([closeServer(dynamo), closeServer(s3rver.httpServer)]);
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
