/**
 * The embedded emulators: dynalite (DynamoDB, LevelDB on disk), s3rver (S3, files on disk) and
 * fauxqs (SQS, in memory, made durable by the journal in ./sqs-journal.ts). Each binds the
 * loopback address only (port 0: one the system picks; the stack puts ./emulator-front.ts on the
 * public port) and is closed by `stop()`.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LOOPBACK, REGION } from './config';
import { listen, PortBusyError } from './ports';
import { type JournaledMessage, SqsJournal, type SqsSpyEvent } from './sqs-journal';

export interface RunningEmulator {
  readonly endpoint: string;
  stop(): Promise<void>;
}

/** The port a server listens on (the one asked for, or the one the system chose for 0). */
function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

/* ---------------------------------------------------------------------------------------------
 * DynamoDB: dynalite with a LevelDB directory
 * ------------------------------------------------------------------------------------------- */

/**
 * dynalite flips a new table from CREATING (or UPDATING) to ACTIVE on a timer after answering;
 * a process that dies in that instant leaves the table in that state on disk forever, and
 * dynalite refuses to delete or write to it. No one else can be changing it at start: settle it.
 */
async function settleDynaliteTables(dir: string): Promise<void> {
  if (!existsSync(join(dir, 'CURRENT'))) return;
  interface TableMeta {
    TableStatus?: string;
    GlobalSecondaryIndexes?: Array<{ IndexStatus?: string }>;
  }
  // dynalite's own LevelDB binding (a dependency of dynalite, not of this project).
  const { Level } = createRequire(require.resolve('dynalite'))('level') as {
    Level: new (
      path: string,
      options: { valueEncoding: 'json' },
    ) => {
      open(): Promise<void>;
      close(): Promise<void>;
      put(key: string, value: unknown): Promise<void>;
      iterator(options: { gt: string; lt: string }): AsyncIterable<[string, TableMeta]>;
    };
  };
  const db = new Level(dir, { valueEncoding: 'json' });
  await db.open();
  try {
    for await (const [key, table] of db.iterator({ gt: 'table~', lt: 'table~\uffff' })) {
      const stuck =
        table.TableStatus === 'CREATING' ||
        table.TableStatus === 'UPDATING' ||
        (table.GlobalSecondaryIndexes ?? []).some((i) => i.IndexStatus === 'CREATING' || i.IndexStatus === 'UPDATING');
      if (!stuck) continue;
      table.TableStatus = 'ACTIVE';
      for (const index of table.GlobalSecondaryIndexes ?? []) index.IndexStatus = 'ACTIVE';
      await db.put(key, table);
    }
  } finally {
    await db.close();
  }
}

export async function startDynamo(port: number, dir: string): Promise<RunningEmulator> {
  await settleDynaliteTables(dir);
  // dynalite ships no types; its factory returns an http.Server whose close() also closes the DB.
  const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;
  const server = dynalite({ path: dir, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await listen(server, port, LOOPBACK, 'DynamoDB emulator');
  return {
    endpoint: `http://${LOOPBACK}:${boundPort(server)}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

/* ---------------------------------------------------------------------------------------------
 * S3: s3rver with a directory
 * ------------------------------------------------------------------------------------------- */

interface S3rverInstance {
  callback(): (req: unknown, res: unknown) => void;
  configureBuckets(): Promise<void>;
  logger: { close(): void };
}

/**
 * s3rver knows one access key (`S3RVER`) and does not verify SigV4 signatures anyway; let it
 * accept whatever key the clients use (the dummy `local` from clientOverrides, or the caller's).
 */
function acceptAnyS3AccessKey(): void {
  const AWSAccount = require('s3rver/lib/models/account') as {
    registry: Map<string, unknown>;
    DUMMY_ACCOUNT: unknown;
  };
  const { registry, DUMMY_ACCOUNT } = AWSAccount;
  if ((registry as { anyKey?: boolean }).anyKey) return;
  const get = registry.get.bind(registry);
  registry.get = (key: string) => get(key) ?? DUMMY_ACCOUNT;
  (registry as { anyKey?: boolean }).anyKey = true;
}

export async function startS3(port: number, dir: string, buckets: readonly string[]): Promise<RunningEmulator> {
  const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;
  acceptAnyS3AccessKey();
  const s3rver = new S3rver({
    silent: true,
    directory: dir,
    resetOnClose: false,
    // Path-style only: the clients use forcePathStyle, and `127.0.0.1` is no bucket host.
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  await s3rver.configureBuckets();
  // s3rver's own run() does not reject on EADDRINUSE; serve its Koa callback from our server.
  const server = createServer(s3rver.callback() as Parameters<typeof createServer>[0] & object);
  await listen(server, port, LOOPBACK, 'S3 emulator');
  return {
    endpoint: `http://${LOOPBACK}:${boundPort(server)}`,
    async stop() {
      await closeServer(server);
      s3rver.logger.close();
    },
  };
}

/* ---------------------------------------------------------------------------------------------
 * SQS: fauxqs, journaled
 * ------------------------------------------------------------------------------------------- */

/** The parts of fauxqs 1.9's internals this module uses (dist/sqs/sqsStore.js). */
interface FauxqsMessage {
  messageId: string;
  sentTimestamp: number;
}
interface FauxqsQueue {
  enqueue(message: FauxqsMessage): void;
}
interface FauxqsSqsStore {
  host: string;
  region: string | undefined;
  spy: { addMessage(event: SqsSpyEvent): void } | undefined;
  getQueueByName(name: string): FauxqsQueue | undefined;
}
interface FauxqsSqsStoreClass {
  new (): FauxqsSqsStore;
  createMessage(body: string, attributes: Record<string, unknown>): FauxqsMessage;
}
interface FastifyLike {
  listen(options: { port: number; host: string }): Promise<string>;
  close(): Promise<void>;
}

export interface RunningSqs extends RunningEmulator {
  /** Puts the messages the journal still owes back into their queues (call once the queues exist). */
  replay(): { replayed: number; skipped: number };
}

/** fauxqs is ESM-only and exports only its server; its stores live in dist/, reached by file URL. */
function fauxqsDir(): string {
  for (const base of require.resolve.paths('fauxqs') ?? []) {
    const dir = join(base, 'fauxqs');
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error('fauxqs is not installed');
}

async function importFile<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(file).href)) as T;
}

export async function startSqs(port: number, journalDir: string | undefined): Promise<RunningSqs> {
  const dir = fauxqsDir();
  const [{ buildApp }, { SqsStore }, { SnsStore }, { S3Store }] = await Promise.all([
    importFile<{ buildApp(options: Record<string, unknown>): FastifyLike }>(join(dir, 'dist/app.js')),
    importFile<{ SqsStore: FauxqsSqsStoreClass }>(join(dir, 'dist/sqs/sqsStore.js')),
    importFile<{ SnsStore: new () => { region?: string } }>(join(dir, 'dist/sns/snsStore.js')),
    importFile<{ S3Store: new () => unknown }>(join(dir, 'dist/s3/s3Store.js')),
  ]);

  const sqsStore = new SqsStore();
  // Queue URLs take the host the client called (127.0.0.1:port), not `sqs.<region>.localhost`.
  sqsStore.host = '';
  sqsStore.region = REGION;
  const journal = journalDir ? new SqsJournal(journalDir) : undefined;
  const owed: JournaledMessage[] = journal ? journal.open() : [];
  if (journal) {
    // Queues copy the store's spy when created; the hook runs synchronously inside each action.
    sqsStore.spy = { addMessage: (event) => journal.record(event) };
  }

  const app = buildApp({
    logger: false,
    defaultRegion: REGION,
    stores: { sqsStore, snsStore: new SnsStore(), s3Store: new S3Store() },
  });
  let address: string;
  try {
    address = await app.listen({ port, host: LOOPBACK });
  } catch (error) {
    journal?.close();
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES') {
      throw new PortBusyError(port, 'SQS emulator');
    }
    throw error;
  }

  return {
    endpoint: `http://${LOOPBACK}:${new URL(address).port}`,
    replay() {
      let replayed = 0;
      let skipped = 0;
      const put = () => {
        for (const message of owed) {
          const queue = sqsStore.getQueueByName(message.queue);
          if (!queue) {
            // A queue this stack no longer creates: its messages stay in the compacted journal.
            skipped++;
            continue;
          }
          const restored = SqsStore.createMessage(message.body, message.messageAttributes);
          restored.messageId = message.messageId;
          restored.sentTimestamp = message.sentTimestamp;
          queue.enqueue(restored);
          replayed++;
        }
      };
      if (journal) journal.replaying(put);
      else put();
      owed.length = 0;
      return { replayed, skipped };
    },
    async stop() {
      await app.close();
      journal?.close();
    },
  };
}
