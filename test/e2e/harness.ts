import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { getExpectedTwilioSignature } from 'twilio/lib/webhooks/webhooks';
import type { CallItem } from '../../lambda/shared/calls/calls';
import type { LedgerItem } from '../../lambda/shared/ledger/ledger';

/**
 * The end-to-end harness: runs the local stack (`npm start`'s command) as a child process on free
 * loopback ports, talks to it over real HTTP, and reads outcomes straight from its emulators
 * (DynamoDB, S3, SQS). Outcomes are polled with a bounded deadline, never slept for.
 */

// The SDK's Node 20 support notice is noise in test output (the clients below are created in this process).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const TABLE = 'calls';
export const LEDGER_TABLE = 'recordings';
export const BUCKET = 'recordings';
export const TRANSFER_QUEUE = 'recording-transfer';
export const DEAD_LETTER_QUEUE = 'recording-transfer-dlq';

/* ------------------------------------------------------------------------------------------
 * Ids, ports, polling
 * ---------------------------------------------------------------------------------------- */

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
export const newAccountSid = () => `AC${hex(16)}`;
export const newCallSid = () => `CA${hex(16)}`;
export const newRecordingSid = () => `RE${hex(16)}`;

/** A port that was free a moment ago: listen on 0, read it, close. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** True when nothing listens on the port (it can be bound again). */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
  });
}

export class DeadlineError extends Error {
  override name = 'DeadlineError';
}

/** The stack could not bind a port that was free a moment before. */
class PortTakenError extends Error {
  override name = 'PortTakenError';
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined, and returns that. Past the
 * deadline it throws, naming what was awaited and the last thing seen (or thrown).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 100 }: WaitOptions = {},
  describeLast?: () => Promise<string> | string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      const seen = describeLast ? await Promise.resolve(describeLast()).catch(String) : '';
      const thrown = last ? ` (last error: ${last instanceof Error ? last.message : String(last)})` : '';
      throw new DeadlineError(`Timed out after ${timeoutMs} ms waiting for ${what}${thrown}${seen ? `\n${seen}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Runs `tasks` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/* ------------------------------------------------------------------------------------------
 * Operator commands (bin/*.ts) as child processes
 * ---------------------------------------------------------------------------------------- */

/** How an operator's command ended and what it printed. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * An operator's shell: this process's environment without its AWS_* settings and the test
 * runner's own (JEST_*, NODE_OPTIONS), plus `extra`.
 */
export function operatorEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_') && !name.startsWith('JEST_') && name !== 'NODE_OPTIONS') env[name] = value;
  }
  return { ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', FORCE_COLOR: '0', ...extra };
}

/** `npm run <script>`: bin/<script>.ts through tsx with exactly `env`; the child, and its run once it has ended. */
export function startCli(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [`bin/${script}.ts`, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  // 'close', not 'exit': the output is whole only once both pipes have closed.
  const done = new Promise<CliRun>((ok, fail) => {
    child.once('error', fail);
    child.once('close', (code) => ok({ code, stdout, stderr }));
  });
  return { child, done };
}

/** `npm run <script>` to its end. */
export const runCli = (script: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliRun> =>
  startCli(script, args, env).done;

/* ------------------------------------------------------------------------------------------
 * The local stack as a child process
 * ---------------------------------------------------------------------------------------- */

export interface LocalStackPorts {
  readonly api: number;
  readonly dynamodb: number;
  readonly s3: number;
  readonly sqs: number;
}

export interface LocalStackConfig {
  readonly accountSid: string;
  readonly authToken: string;
  readonly twilioApiBaseUrl: string;
  readonly apiToken: string;
  readonly ports: LocalStackPorts;
  readonly dataDir: string;
  readonly maxAttempts: number;
  readonly retryBaseSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  /** Extra or overriding variables; `undefined` removes a variable. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const OUTPUT_LIMIT = 256 * 1024;

/** A spawned `node --import tsx bin/local.ts` (in its own process group) and its captured output. */
export class LocalProcess {
  private output = '';
  readonly exited: Promise<ExitStatus>;
  exitStatus: ExitStatus | undefined;

  constructor(readonly child: ChildProcess) {
    const append = (chunk: Buffer) => {
      this.output += chunk.toString('utf8');
      if (this.output.length > OUTPUT_LIMIT) this.output = this.output.slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolveExit(this.exitStatus);
      });
      child.once('error', (error) => {
        append(Buffer.from(`spawn error: ${error.message}\n`));
        this.exitStatus = { code: null, signal: null };
        resolveExit(this.exitStatus);
      });
    });
  }

  static spawn(env: NodeJS.ProcessEnv): LocalProcess {
    // As `npm start` runs it: one node process with tsx as its loader.
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
      cwd: REPO_ROOT,
      env,
      // Its own process group, as a terminal's foreground job: a signal to the group reaches it as Ctrl-C does.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new LocalProcess(child);
  }

  text(): string {
    return this.output;
  }

  tail(chars = 4_000): string {
    return this.output.slice(-chars);
  }

  /** True while any process of the group (tsx or the program it runs) is alive. */
  groupAlive(): boolean {
    const pid = this.child.pid;
    if (pid === undefined) return false;
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  signalGroup(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }

  /** Exit status within `timeoutMs`, or undefined. */
  async waitExit(timeoutMs: number): Promise<ExitStatus | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function localStackEnv(config: LocalStackConfig): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    // The stack must start its own emulators: no endpoint or credentials of the caller's leak in.
    if (name.startsWith('AWS_') || name.startsWith('TWILIO_') || name.startsWith('TRANSFER_')) continue;
    if (name.startsWith('JEST_') || name === 'NODE_OPTIONS') continue;
    env[name] = value;
  }
  Object.assign(env, {
    TWILIO_ACCOUNT_SID: config.accountSid,
    TWILIO_AUTH_TOKEN: config.authToken,
    TWILIO_API_BASE_URL: config.twilioApiBaseUrl,
    PORT: String(config.ports.api),
    DYNAMODB_PORT: String(config.ports.dynamodb),
    S3_PORT: String(config.ports.s3),
    SQS_PORT: String(config.ports.sqs),
    LOCAL_DATA_DIR: config.dataDir,
    LOCAL_API_TOKEN: config.apiToken,
    TRANSFER_MAX_ATTEMPTS: String(config.maxAttempts),
    TRANSFER_RETRY_BASE_SECONDS: String(config.retryBaseSeconds),
    TRANSFER_VISIBILITY_TIMEOUT_SECONDS: String(config.visibilityTimeoutSeconds),
    AWS_REGION: 'us-east-1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    FORCE_COLOR: '0',
  });
  for (const [name, value] of Object.entries(config.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export interface StartOptions {
  readonly twilioApiBaseUrl: string;
  readonly accountSid: string;
  readonly authToken: string;
  readonly maxAttempts?: number;
  readonly retryBaseSeconds?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export const READY_TIMEOUT_MS = 90_000;

/** What a suite's stack needs of the Twilio it talks to (a `SimulatedTwilio`). */
export interface TwilioAccountEndpoint {
  readonly baseUrl: string;
  readonly accountSid: string;
  readonly authToken: string;
}

/**
 * A suite's teardown: stops its stack (a stack that ignored SIGTERM fails the suite, with its
 * log), removes the stack's data and closes the simulated Twilio.
 */
export async function stopSuite(stack: LocalStack | undefined, twilio?: { close(): Promise<void> }): Promise<void> {
  const stopped = stack ? await stack.stop() : undefined;
  await stack?.removeData();
  await twilio?.close();
  if (stack && stopped?.forced) throw new Error(`The local stack did not stop on SIGTERM\n${stack.logTail()}`);
}

/** A running local stack with clients for its emulators and helpers for its HTTP routes. */
export class LocalStack {
  readonly baseUrl: string;
  readonly webhookUrl: string;
  readonly ddb: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  private readonly queueUrls = new Map<string, string>();

  private constructor(
    readonly config: LocalStackConfig,
    readonly proc: LocalProcess,
    /** Milliseconds from spawn to the `ready` line. */
    readonly startupMs: number,
  ) {
    const host = '127.0.0.1';
    this.baseUrl = `http://${host}:${config.ports.api}`;
    this.webhookUrl = `${this.baseUrl}/twilio/recording`;
    const common = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
    this.ddb = DynamoDBDocumentClient.from(
      new DynamoDBClient({ ...common, endpoint: `http://${host}:${config.ports.dynamodb}` }),
      { marshallOptions: { removeUndefinedValues: true } },
    );
    this.s3 = new S3Client({
      ...common,
      endpoint: `http://${host}:${config.ports.s3}`,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.sqs = new SQSClient({ ...common, endpoint: `http://${host}:${config.ports.sqs}` });
  }

  /** A fresh configuration: free ports, a new data directory. */
  static async configure(options: StartOptions): Promise<LocalStackConfig> {
    const ports: LocalStackPorts = {
      api: await freePort(),
      dynamodb: await freePort(),
      s3: await freePort(),
      sqs: await freePort(),
    };
    return {
      accountSid: options.accountSid,
      authToken: options.authToken,
      twilioApiBaseUrl: options.twilioApiBaseUrl,
      apiToken: `e2e-${hex(16)}`,
      ports,
      dataDir: await mkdtemp(join(tmpdir(), 'recording-vault-e2e-')),
      maxAttempts: options.maxAttempts ?? 4,
      retryBaseSeconds: options.retryBaseSeconds ?? 1,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 5,
      env: options.env,
    };
  }

  /**
   * A stack on free ports. A port handed out by `freePort` can be taken by another process before
   * the stack binds it; the stack then exits at once naming it, and is started on new ports.
   */
  /** A stack for one simulated Twilio account: its base URL, Account SID and auth token. */
  static startFor(
    twilio: TwilioAccountEndpoint,
    options: Omit<StartOptions, 'twilioApiBaseUrl' | 'accountSid' | 'authToken'> = {},
  ): Promise<LocalStack> {
    return LocalStack.start({
      twilioApiBaseUrl: twilio.baseUrl,
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      ...options,
    });
  }

  static async start(options: StartOptions): Promise<LocalStack> {
    for (let attempt = 1; ; attempt++) {
      const config = await LocalStack.configure(options);
      try {
        return await LocalStack.launch(config);
      } catch (error) {
        await rm(config.dataDir, { recursive: true, force: true });
        if (!(error instanceof PortTakenError) || attempt >= 3) throw error;
      }
    }
  }

  /** Spawns the stack with `config` and waits for its `ready` line. */
  static async launch(config: LocalStackConfig): Promise<LocalStack> {
    const started = Date.now();
    const child = LocalProcess.spawn(localStackEnv(config));
    try {
      const state = await waitFor(
        'the local stack to print a line containing "ready"',
        () => (/ready/i.test(child.text()) ? 'ready' : child.exitStatus ? 'exited' : undefined),
        { timeoutMs: READY_TIMEOUT_MS, intervalMs: 50 },
        () => `--- local stack output ---\n${child.tail()}`,
      );
      if (state === 'exited') {
        const message = `the local stack exited early (${JSON.stringify(child.exitStatus)})`;
        throw /port \d+ is busy/.test(child.text()) ? new PortTakenError(message) : new Error(message);
      }
    } catch (error) {
      if (error instanceof PortTakenError) throw error;
      child.signalGroup('SIGKILL');
      await child.waitExit(5_000);
      if (error instanceof DeadlineError) throw error;
      throw new Error(`${(error as Error).message}\n--- local stack output ---\n${child.tail()}`);
    }
    return new LocalStack(config, child, Date.now() - started);
  }

  /**
   * SIGTERM (or `signal`, e.g. SIGINT as Ctrl-C), then the exit status; SIGKILLs the group if it
   * has not exited within `timeoutMs`.
   */
  async stop(
    timeoutMs = 20_000,
    signal: 'SIGTERM' | 'SIGINT' = 'SIGTERM',
  ): Promise<{ status: ExitStatus | undefined; forced: boolean; stopMs: number }> {
    const started = Date.now();
    this.destroyClients();
    if (this.proc.exitStatus && !this.proc.groupAlive()) {
      return { status: this.proc.exitStatus, forced: false, stopMs: 0 };
    }
    this.proc.child.kill(signal);
    const status = await this.proc.waitExit(timeoutMs);
    const groupGone = await waitFor('the process group to be gone', () => (this.proc.groupAlive() ? undefined : true), {
      timeoutMs: 5_000,
    }).catch(() => false);
    const forced = status === undefined || !groupGone;
    if (forced) {
      this.proc.signalGroup('SIGKILL');
      await this.proc.waitExit(5_000);
    }
    return { status, forced, stopMs: Date.now() - started };
  }

  /** SIGKILL to every process of the stack, as a crash or an OOM kill would. */
  async kill(): Promise<void> {
    this.destroyClients();
    this.proc.signalGroup('SIGKILL');
    await this.proc.waitExit(10_000);
    await waitFor('the killed process group to be gone', () => (this.proc.groupAlive() ? undefined : true), {
      timeoutMs: 10_000,
    });
  }

  /** Removes the data directory; call after stop. */
  async removeData(): Promise<void> {
    await rm(this.config.dataDir, { recursive: true, force: true });
  }

  private destroyClients(): void {
    this.ddb.destroy();
    this.s3.destroy();
    this.sqs.destroy();
  }

  logTail(chars?: number): string {
    return `--- local stack output ---\n${this.proc.tail(chars)}`;
  }

  /* ----------------------------------------------------------------------------------------
   * HTTP routes
   * -------------------------------------------------------------------------------------- */

  /** The signature Twilio would send for `params` posted to this stack's webhook URL (plus `query`). */
  sign(params: Record<string, string>, authToken = this.config.authToken, query = ''): string {
    return getExpectedTwilioSignature(authToken, `${this.webhookUrl}${query ? `?${query}` : ''}`, params);
  }

  /**
   * Posts a recording status callback, form-encoded, as Twilio does: signed over the webhook URL
   * (with `query`, when Twilio is configured with one) unless `signature` says otherwise.
   */
  async postCallback(
    params: Record<string, string>,
    options: { signature?: string | null; headers?: Record<string, string>; query?: string } = {},
  ): Promise<HttpResult> {
    const query = options.query ?? '';
    const signature =
      options.signature === undefined ? this.sign(params, this.config.authToken, query) : options.signature;
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'TwilioProxy/1.1',
      ...options.headers,
    };
    if (signature !== null) headers['x-twilio-signature'] = signature;
    return this.request('POST', `/twilio/recording${query ? `?${query}` : ''}`, {
      headers,
      body: new URLSearchParams(params).toString(),
    });
  }

  /** GET /calls/{callId}/recording (or /recordings) with the bearer token unless told otherwise. */
  async playback(
    callId: string,
    options: { list?: boolean; redirect?: boolean; token?: string | null } = {},
  ): Promise<HttpResult> {
    const path = `/calls/${encodeURIComponent(callId)}/${options.list ? 'recordings' : 'recording'}${
      options.redirect ? '?redirect=true' : ''
    }`;
    const token = options.token === undefined ? this.config.apiToken : options.token;
    return this.request('GET', path, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  }

  async request(
    method: string,
    path: string,
    init: { headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<HttpResult> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: init.headers,
      body: init.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: parseJson(text) };
  }

  /* ----------------------------------------------------------------------------------------
   * Emulator state
   * -------------------------------------------------------------------------------------- */

  async getCall(callId: string): Promise<CallItem | undefined> {
    const result = await this.ddb.send(new GetCommand({ TableName: TABLE, Key: { callId }, ConsistentRead: true }));
    return result.Item as CallItem | undefined;
  }

  async putCall(item: Record<string, unknown>): Promise<void> {
    await this.ddb.send(new PutCommand({ TableName: TABLE, Item: item }));
  }

  /** A call the app knows (its item in the calls table, no recordings yet), with a fresh CallSid. */
  async knownCall(): Promise<{ callId: string; callSid: string }> {
    const callId = `call-${hex(6)}`;
    const callSid = newCallSid();
    await this.putCall({ callId, twilioCallSid: callSid });
    return { callId, callSid };
  }

  /** The ledger item of a recording, or undefined when the ledger has none. */
  async ledger(recordingSid: string): Promise<LedgerItem | undefined> {
    const result = await this.ddb.send(
      new GetCommand({ TableName: LEDGER_TABLE, Key: { recordingSid }, ConsistentRead: true }),
    );
    return result.Item as LedgerItem | undefined;
  }

  /** Waits until the ledger says the recording is stored, and returns its item. */
  storedInLedger(recordingSid: string, timeoutMs = 45_000): Promise<LedgerItem> {
    return waitFor(
      `the ledger to say ${recordingSid} is stored`,
      async () => {
        const item = await this.ledger(recordingSid);
        return item?.status === 'stored' ? item : undefined;
      },
      { timeoutMs },
      () => this.logTail(3_000),
    );
  }

  /** An operator's shell pointed at this stack's emulators, as `npm start` tells them to. */
  operatorEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return operatorEnv({
      DYNAMODB_PORT: String(this.config.ports.dynamodb),
      S3_PORT: String(this.config.ports.s3),
      SQS_PORT: String(this.config.ports.sqs),
      AWS_REGION: 'us-east-1',
      ...extra,
    });
  }

  /**
   * Waits until the call's entry for `recordingSid` has `status`, then (unless `settle` is false)
   * until the transfer queue is empty, so that every write of the job has landed, and returns the
   * item as it then is.
   */
  async waitForEntry(
    callId: string,
    recordingSid: string,
    status: 'stored' | 'failed' | 'absent',
    timeoutMs = 30_000,
    { settle = true }: { settle?: boolean } = {},
  ): Promise<CallItem> {
    const item = await waitFor(
      `recording ${recordingSid} of call ${callId} to be ${status}`,
      async () => {
        const found = await this.getCall(callId);
        return found?.recordings?.[recordingSid]?.status === status ? found : undefined;
      },
      { timeoutMs, intervalMs: 100 },
      async () => `item: ${JSON.stringify(await this.getCall(callId).catch(String))}\n${this.logTail(2_000)}`,
    );
    if (!settle) return item;
    await this.waitForQueueDrained(timeoutMs);
    return (await this.getCall(callId)) ?? item;
  }

  async objectBytes(key: string): Promise<Buffer> {
    const result = await this.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from((await result.Body?.transformToByteArray()) ?? []);
  }

  async headObject(key: string): Promise<{ contentType?: string; metadata: Record<string, string>; size?: number }> {
    const head = await this.s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    return { contentType: head.ContentType, metadata: head.Metadata ?? {}, size: head.ContentLength };
  }

  /** Every key under `prefix`, following continuation tokens. */
  async listKeys(prefix: string): Promise<{ key: string; size: number }[]> {
    const keys: { key: string; size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) keys.push({ key: object.Key ?? '', size: object.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  async queueUrl(name: string): Promise<string> {
    const cached = this.queueUrls.get(name);
    if (cached) return cached;
    const { QueueUrl } = await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`No queue ${name}`);
    this.queueUrls.set(name, QueueUrl);
    return QueueUrl;
  }

  /** Messages in a queue: visible + in flight + delayed. */
  async queueDepth(name = TRANSFER_QUEUE): Promise<number> {
    const { Attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: await this.queueUrl(name),
        AttributeNames: [
          'ApproximateNumberOfMessages',
          'ApproximateNumberOfMessagesNotVisible',
          'ApproximateNumberOfMessagesDelayed',
        ],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  }

  async waitForQueueDrained(timeoutMs = 30_000): Promise<void> {
    await waitFor(
      'the transfer queue to drain',
      async () => ((await this.queueDepth()) === 0 ? true : undefined),
      { timeoutMs, intervalMs: 200 },
      async () => `depth: ${await this.queueDepth().catch(String)}`,
    );
  }

  /**
   * Waits for the dead-letter queue to hold a job for `recordingSid`, deletes it (so that the
   * queue stays small for later tests) and returns it. Other jobs are left visible.
   */
  async takeDeadLetter(recordingSid: string, timeoutMs = 30_000): Promise<DeadLetter> {
    const queueUrl = await this.queueUrl(DEAD_LETTER_QUEUE);
    const seen = new Set<string>();
    return waitFor(
      `a job for ${recordingSid} in ${DEAD_LETTER_QUEUE}`,
      async () => {
        const { Messages = [] } = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            VisibilityTimeout: 0,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        );
        for (const message of Messages) {
          const job = parseJson(message.Body ?? '') as { recordingSid?: string } | undefined;
          seen.add(job?.recordingSid ?? '?');
          if (job?.recordingSid === recordingSid) {
            await this.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
            return { message, job: job as Record<string, unknown> };
          }
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 250 },
      async () => `dead letters seen: ${[...seen].join(', ') || 'none'}\n${this.logTail(2_000)}`,
    );
  }

  /** Jobs in the dead-letter queue for any of `recordingSids`, looked at without taking them. */
  async deadLettersFor(recordingSids: ReadonlySet<string>): Promise<string[]> {
    const queueUrl = await this.queueUrl(DEAD_LETTER_QUEUE);
    const found = new Set<string>();
    // Visibility 0 keeps them visible; a few rounds cover a small queue.
    for (let round = 0; round < 5; round++) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }),
      );
      for (const message of Messages) {
        const sid = (parseJson(message.Body ?? '') as { recordingSid?: string } | undefined)?.recordingSid;
        if (sid && recordingSids.has(sid)) found.add(sid);
      }
      if (Messages.length < 10) break;
    }
    return [...found];
  }
}

export interface DeadLetter {
  readonly message: Message;
  readonly job: Record<string, unknown>;
}

export interface HttpResult {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: unknown;
}

// The item as the pipeline writes it: the product's own types, so the tests read what it writes.
export type { CallItem, RecordingEntry } from '../../lambda/shared/calls/calls';

export interface PlaybackBody {
  readonly callId: string;
  readonly recordingSid: string;
  readonly url: string;
  readonly expiresAt: string;
  readonly contentType: string;
  readonly durationSeconds: number;
  readonly sizeBytes: number;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Fetches a URL (a presigned S3 URL) and returns status, type and bytes. */
export async function download(url: string): Promise<{ status: number; contentType: string | null; bytes: Buffer }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    bytes: Buffer.from(await response.arrayBuffer()),
  };
}

/* ------------------------------------------------------------------------------------------
 * Callbacks
 * ---------------------------------------------------------------------------------------- */

export interface CallbackFields {
  readonly accountSid: string;
  readonly callSid: string;
  readonly recordingSid: string;
  readonly status?: 'completed' | 'in-progress' | 'absent' | 'failed';
  readonly duration?: number;
  readonly channels?: number;
  /** RFC 2822, as Twilio sends it. */
  readonly startTime?: string;
  readonly source?: string;
  readonly errorCode?: string;
}

export const DEFAULT_START_TIME = 'Mon, 22 Jul 2024 17:00:00 +0000';

/** The parameters Twilio posts for a recording status callback. */
export function callbackParams(fields: CallbackFields): Record<string, string> {
  return {
    AccountSid: fields.accountSid,
    CallSid: fields.callSid,
    RecordingSid: fields.recordingSid,
    RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${fields.accountSid}/Recordings/${fields.recordingSid}`,
    RecordingStatus: fields.status ?? 'completed',
    RecordingDuration: String(fields.duration ?? 12),
    RecordingChannels: String(fields.channels ?? 1),
    RecordingStartTime: fields.startTime ?? DEFAULT_START_TIME,
    RecordingSource: fields.source ?? 'DialVerb',
    RecordingTrack: 'both',
    ErrorCode: fields.errorCode ?? '0',
  };
}

/** `recordings/{YYYY}/{MM}/{callId}/{RecordingSid}.mp3` for a start time. */
export function expectedKey(callId: string, recordingSid: string, startTime = DEFAULT_START_TIME): string {
  const started = new Date(startTime);
  const month = String(started.getUTCMonth() + 1).padStart(2, '0');
  return `recordings/${started.getUTCFullYear()}/${month}/${encodeURIComponent(callId)}/${recordingSid}.mp3`;
}
