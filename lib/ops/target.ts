/**
 * What an operations command (`npm run redrive`, `npm run status`, `npm run backfill`) works on:
 * the local stack (the same variables as `npm start`: AWS_ENDPOINT_URL_<SERVICE>, else the
 * emulator ports on 127.0.0.1) or, with `--stage <name>`, the deployed stack
 * `RecordingVault-<name>`, found through its CloudFormation outputs with the operator's own AWS
 * credentials and region. A command that talks to Twilio (backfill) also resolves the target's
 * Twilio account (`twilioAccount`, `stageTokens`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { accountSid } from '../../lambda/shared/config/function-config';
import { clientOverrides, type EmulatedService } from '../../lambda/shared/runtime/endpoints';
import { EnvReader } from '../../lambda/shared/runtime/env-reader';
import { parseSubaccountsSetting } from '../../lambda/shared/twilio/accounts';
import {
  parseTwilioSecretValue,
  SecretNotConfiguredError,
  type TwilioSecretValue,
} from '../../lambda/shared/twilio/credentials';
import { staticTokens, type TokenSource, type TwilioTokens } from '../../lambda/shared/twilio/signature';
import { type StageConfig, StageConfigError, selectStageConfig } from '../config';
import {
  AUDIT_TABLE_NAME,
  BUCKET_NAME,
  CALL_SID_INDEX,
  DLQ_NAME,
  LEDGER_INDEX_SHARDS,
  LEDGER_TABLE_NAME,
  LOOPBACK,
  localTwilioApiBaseUrl,
  QUEUE_NAME,
  REGION,
  TABLE_NAME,
} from '../local/config';
import { LOCAL_CREDENTIALS } from '../local/emulator-front';

export type Env = Readonly<Record<string, string | undefined>>;

/** The fields match lib/ops/target.ts of branch `reconcile` (backfill) where both have them. */
export interface VaultTarget {
  /** For messages: `the local stack` or `stage prod (RecordingVault-prod)`. */
  readonly name: string;
  readonly ddb: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly ledgerTableName: string;
  /** Partitions per day of the ledger's indexes (`LedgerIndexShards` output; default DEFAULT_INDEX_SHARDS). */
  readonly ledgerIndexShards?: number;
  readonly callsTableName: string;
  /** GSI of the calls table on `twilioCallSid` (the same name everywhere). */
  readonly callSidIndexName: string;
  readonly bucketName: string;
  readonly transferQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** The access audit trail (`AuditTableName` output); unset for a stack deployed before it existed. */
  readonly auditTableName?: string;
  /** A stage's Twilio secret (its `TwilioSecretArn` output); the local stack has none. */
  readonly twilioSecretArn?: string;
  /** Closes the clients' connections. */
  close(): void;
}

/** A target that cannot be used, said in one line an operator can act on. */
export class TargetError extends Error {
  override name = 'TargetError';
}

export interface ResolveTargetOptions {
  /** A deployed stage; unset: the local stack. */
  readonly stage?: string | undefined;
  readonly env?: Env;
  /** For tests: the CloudFormation client to ask for the stack's outputs. */
  readonly cloudFormation?: CloudFormationClient;
  /** Where a stage's account SID is read (`twilioAccount`). Default: ./cdk.json. */
  readonly cdkJsonPath?: string;
}

export const stackName = (stage: string) => `RecordingVault-${stage}`;

/** CloudFormation stack names: letters, digits and hyphens, starting with a letter. */
const STAGE_NAME = /^[A-Za-z][A-Za-z0-9-]{0,99}$/;

export async function resolveTarget(options: ResolveTargetOptions = {}): Promise<VaultTarget> {
  const env = options.env ?? process.env;
  return options.stage === undefined ? resolveLocal(env) : resolveStage(options.stage, env, options.cloudFormation);
}

/* ---------------------------------------------------------------------------------------------
 * The local stack
 * ------------------------------------------------------------------------------------------- */

const LOCAL_SERVICES: ReadonlyArray<{ service: EmulatedService; portVariable: string; port: number }> = [
  { service: 'DYNAMODB', portVariable: 'DYNAMODB_PORT', port: 8000 },
  { service: 'S3', portVariable: 'S3_PORT', port: 4569 },
  { service: 'SQS', portVariable: 'SQS_PORT', port: 9324 },
];

function localEndpoint(env: Env, service: EmulatedService, portVariable: string, fallback: number): string {
  const configured = env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL;
  if (configured) return configured;
  const raw = env[portVariable];
  const port = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TargetError(`${portVariable} must be a port number from 1 to 65535 (got ${JSON.stringify(raw)})`);
  }
  return `http://${LOOPBACK}:${port}`;
}

async function resolveLocal(env: Env): Promise<VaultTarget> {
  const endpoints = Object.fromEntries(
    LOCAL_SERVICES.map(({ service, portVariable, port }) => [service, localEndpoint(env, service, portVariable, port)]),
  ) as Record<EmulatedService, string>;
  const clientEnv: Env = {
    ...env,
    AWS_REGION: env.AWS_REGION ?? REGION,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.DYNAMODB,
    AWS_ENDPOINT_URL_S3: endpoints.S3,
    AWS_ENDPOINT_URL_SQS: endpoints.SQS,
  };
  // Few retries: an emulator that is not running should say so at once, not after backoff.
  const settings = (service: EmulatedService) => ({
    region: clientEnv.AWS_REGION,
    maxAttempts: 2,
    ...clientOverrides(service, clientEnv),
    // The embedded emulators' fronts accept the local credentials only.
    ...((env[`AWS_ENDPOINT_URL_${service}`] ?? env.AWS_ENDPOINT_URL) ? {} : { credentials: { ...LOCAL_CREDENTIALS } }),
  });
  const dynamodb = new DynamoDBClient(settings('DYNAMODB'));
  const s3 = new S3Client(settings('S3'));
  const sqs = new SQSClient(settings('SQS'));
  const close = () => {
    dynamodb.destroy();
    s3.destroy();
    sqs.destroy();
  };
  try {
    const [transferQueueUrl, deadLetterQueueUrl] = await Promise.all(
      [QUEUE_NAME, DLQ_NAME].map(async (name) => {
        try {
          const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
          if (!QueueUrl) throw new Error('no URL');
          return QueueUrl;
        } catch (error) {
          if (isConnectionError(error)) {
            throw new TargetError(
              `the local stack is not reachable: nothing answers at ${endpoints.SQS} (SQS); start it with npm start, or give --stage <name>`,
            );
          }
          throw new TargetError(`the local stack has no queue ${name} at ${endpoints.SQS}: ${describeError(error)}`);
        }
      }),
    );
    return {
      name: 'the local stack',
      ddb: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
      s3,
      sqs,
      ledgerTableName: LEDGER_TABLE_NAME,
      ledgerIndexShards: LEDGER_INDEX_SHARDS,
      callsTableName: TABLE_NAME,
      callSidIndexName: CALL_SID_INDEX,
      bucketName: BUCKET_NAME,
      transferQueueUrl: transferQueueUrl as string,
      deadLetterQueueUrl: deadLetterQueueUrl as string,
      auditTableName: AUDIT_TABLE_NAME,
      close,
    };
  } catch (error) {
    close();
    throw error;
  }
}

/* ---------------------------------------------------------------------------------------------
 * A deployed stage
 * ------------------------------------------------------------------------------------------- */

/** The outputs a command needs (the stack declares more). */
const OUTPUTS = [
  'LedgerTableName',
  'CallsTableName',
  'RecordingsBucketName',
  'TransferQueueUrl',
  'TransferDeadLetterQueueUrl',
] as const;
type OutputName = (typeof OUTPUTS)[number];

async function resolveStage(stage: string, env: Env, given?: CloudFormationClient): Promise<VaultTarget> {
  if (!STAGE_NAME.test(stage)) {
    throw new TargetError(`--stage must be a stage name (letters, digits, hyphens; got ${JSON.stringify(stage)})`);
  }
  const stack = stackName(stage);
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  // The AWS_ENDPOINT_URL_* variables of a local setup must not send a stage's calls to emulators.
  const common = { ...(region ? { region } : {}), ignoreConfiguredEndpointUrls: true };
  const cloudFormation = given ?? new CloudFormationClient(common);
  let outputs: Partial<Record<OutputName | 'TwilioSecretArn' | 'AuditTableName' | 'LedgerIndexShards', string>>;
  try {
    const { Stacks = [] } = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
    const found = Stacks[0];
    if (!found) throw new TargetError(`stack ${stack} not found`);
    outputs = Object.fromEntries((found.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  } catch (error) {
    if (error instanceof TargetError) throw error;
    throw new TargetError(stageError(stack, error));
  } finally {
    if (!given) cloudFormation.destroy();
  }
  const missing = OUTPUTS.filter((name) => !outputs[name]);
  if (missing.length > 0) {
    throw new TargetError(
      `stack ${stack} lacks the output(s) ${missing.join(', ')}: deploy the current version of the stack`,
    );
  }
  const dynamodb = new DynamoDBClient(common);
  const s3 = new S3Client(common);
  const sqs = new SQSClient(common);
  return {
    name: `stage ${stage} (${stack})`,
    ddb: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    s3,
    sqs,
    ledgerTableName: outputs.LedgerTableName as string,
    callsTableName: outputs.CallsTableName as string,
    callSidIndexName: CALL_SID_INDEX,
    bucketName: outputs.RecordingsBucketName as string,
    transferQueueUrl: outputs.TransferQueueUrl as string,
    deadLetterQueueUrl: outputs.TransferDeadLetterQueueUrl as string,
    ...(outputs.TwilioSecretArn ? { twilioSecretArn: outputs.TwilioSecretArn } : {}),
    ...(outputs.AuditTableName ? { auditTableName: outputs.AuditTableName } : {}),
    ...(outputs.LedgerIndexShards ? { ledgerIndexShards: Number(outputs.LedgerIndexShards) } : {}),
    close: () => {
      dynamodb.destroy();
      s3.destroy();
      sqs.destroy();
    },
  };
}

/* ---------------------------------------------------------------------------------------------
 * Its Twilio account (for the commands that list at Twilio)
 * ------------------------------------------------------------------------------------------- */

export interface TwilioAccount {
  readonly accountSid: string;
  readonly twilioApiBaseUrl: string;
  /** The local stack's token(s); a stage's are in its secret (`stageTokens`). */
  readonly tokens: TokenSource | undefined;
  /** Subaccounts accepted besides `accountSid`: the local stack's TWILIO_SUBACCOUNTS (with tokens), a stage's list. */
  readonly subaccounts: readonly { readonly accountSid: string; readonly tokens: TokenSource | undefined }[];
}

/**
 * The target's Twilio account, from what is at hand, so that a typo fails before anything is
 * asked of AWS: the local stack's `npm start` variables (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
 * TWILIO_AUTH_TOKEN_SECONDARY, TWILIO_SUBACCOUNTS, TWILIO_API_BASE_URL or TWILIO_REGION and
 * TWILIO_EDGE), or the stage's settings in cdk.json.
 */
export function twilioAccount(options: ResolveTargetOptions = {}): TwilioAccount {
  const env = options.env ?? process.env;
  if (options.stage === undefined) {
    const r = new EnvReader(env);
    const subaccounts = parseSubaccountsSetting(r.optional('TWILIO_SUBACCOUNTS'));
    r.problems.push(...subaccounts.problems);
    const account = {
      accountSid: accountSid(r, 'TWILIO_ACCOUNT_SID'),
      twilioApiBaseUrl: localTwilioApiBaseUrl(r),
      tokens: staticTokens(r.required('TWILIO_AUTH_TOKEN'), r.optional('TWILIO_AUTH_TOKEN_SECONDARY')),
      subaccounts: [...subaccounts.accounts].map(([sid, tokens]) => ({
        accountSid: sid,
        tokens: staticTokens(tokens.primary),
      })),
    };
    if (r.problems.length > 0) throw new TargetError(`the local stack's Twilio settings: ${r.problems.join('; ')}`);
    return account;
  }
  const stage = stageSettings(options.stage, options.cdkJsonPath);
  return {
    accountSid: stage.twilioAccountSid,
    twilioApiBaseUrl: stage.twilioApiBaseUrl,
    tokens: undefined,
    subaccounts: stage.twilioSubaccountSids.map((sid) => ({ accountSid: sid, tokens: undefined })),
  };
}

/** A stage's settings as cdk.json (default ./cdk.json) has them, validated as `cdk deploy` does. */
export function stageSettings(stage: string, cdkJsonPath = join(process.cwd(), 'cdk.json')): StageConfig {
  let stages: unknown;
  try {
    stages = (JSON.parse(readFileSync(cdkJsonPath, 'utf8')) as { context?: { stages?: unknown } }).context?.stages;
  } catch (error) {
    throw new TargetError(`cannot read the stages in ${cdkJsonPath}: ${describeError(error)}`);
  }
  try {
    return selectStageConfig(stages, stage);
  } catch (error) {
    if (error instanceof StageConfigError) {
      throw new TargetError(error.message.replace('-c stage=<name>', '--stage <name>'));
    }
    throw error;
  }
}

/** A stage's Twilio auth token(s), read once from its secret with the operator's credentials. */
export async function stageTokens(target: VaultTarget, given?: SecretsManagerClient): Promise<TokenSource> {
  const { parent } = await stageSecret(target, given);
  return staticTokens(parent.primary, parent.secondary);
}

/** Each named subaccount's token(s) from a stage's secret (`accounts`), every missing one named. */
export async function stageSubaccountTokens(
  target: VaultTarget,
  accountSids: readonly string[],
  given?: SecretsManagerClient,
): Promise<Map<string, TokenSource>> {
  if (accountSids.length === 0) return new Map();
  const { accounts } = await stageSecret(target, given);
  const missing = accountSids.filter((sid) => !accounts.has(sid));
  if (missing.length > 0) {
    throw new TargetError(
      `${target.name}: the Twilio secret has no token for subaccount ${missing.join(', ')} (add it under "accounts")`,
    );
  }
  return new Map(
    accountSids.map((sid) => {
      const tokens = accounts.get(sid) as TwilioTokens;
      return [sid, staticTokens(tokens.primary, tokens.secondary)];
    }),
  );
}

/** A stage's whole Twilio secret, read once with the operator's credentials. */
async function stageSecret(target: VaultTarget, given?: SecretsManagerClient): Promise<TwilioSecretValue> {
  const secretArn = target.twilioSecretArn;
  if (!secretArn) throw new TargetError(`${target.name} names no Twilio secret (output TwilioSecretArn)`);
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const secrets =
    given ?? new SecretsManagerClient({ ...(region ? { region } : {}), ignoreConfiguredEndpointUrls: true });
  let value: string | undefined;
  try {
    ({ SecretString: value } = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn })));
  } catch (error) {
    throw new TargetError(`cannot read the Twilio secret of ${target.name}: ${describeError(error)}`);
  } finally {
    if (!given) secrets.destroy();
  }
  try {
    return parseTwilioSecretValue(value);
  } catch (error) {
    if (error instanceof SecretNotConfiguredError) throw new TargetError(`${target.name}: ${error.message}`);
    throw error;
  }
}

function stageError(stack: string, error: unknown): string {
  const name = (error as { name?: string } | undefined)?.name ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'ValidationError' && /does not exist/.test(message)) {
    return `stack ${stack} does not exist in this account and region: check --stage, AWS_REGION and AWS_PROFILE`;
  }
  if (name === 'CredentialsProviderError' || /credential/i.test(message)) {
    return `no usable AWS credentials to read stack ${stack}: set AWS_PROFILE or sign in (aws sso login)`;
  }
  if (/region is missing/i.test(message)) return `no AWS region: set AWS_REGION to the stage's region`;
  if (isConnectionError(error)) return `CloudFormation is not reachable: ${message}`;
  return `could not read stack ${stack}: ${describeError(error)}`;
}

/* ---------------------------------------------------------------------------------------------
 * Errors, in one line
 * ------------------------------------------------------------------------------------------- */

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EAI_AGAIN']);

export function isConnectionError(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const { code, name } = current as { code?: string; name?: string };
    if ((code && CONNECTION_CODES.has(code)) || name === 'TimeoutError') return true;
    current = (current as { cause?: unknown }).cause;
  }
  // The SDK sometimes rewraps a refused connection with only the code in the message.
  return error instanceof Error && /ECONNREFUSED|connect ETIMEDOUT|socket hang up/.test(error.message);
}

/** `<ErrorName>: <message>` on one line, for an operator (no stack, no request ids). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const text = error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return text.replace(/\s+/g, ' ').trim();
}
