import * as path from 'node:path';
import {
  AssetHashType,
  type BundlingOptions,
  DockerImage,
  Duration,
  type ILocalBundling,
  type RemovalPolicy,
  Validations,
} from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import {
  Architecture,
  Code,
  Function as LambdaFunction,
  LoggingFormat,
  Runtime,
  Tracing,
} from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { buildSync } from 'esbuild';
import { BUNDLE_ENTRY_NAME, esbuildOptionsFor } from '../bundling';

/** The repository root: where esbuild resolves `node_modules`, and the asset's source path. */
const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/**
 * Builds one function with esbuild's JS API into the directory CDK stages as the asset
 * (`index.mjs`, its chunks and their source maps), in-process: no Docker.
 *
 * CDK serialises the bundling options into the asset's cache key (and, when bundling is
 * skipped, into its placeholder hash), and functions do not serialise: `entry` is a plain
 * field so that each function gets its own key, and it is relative to the project root so
 * that nothing depends on where the repository is checked out.
 */
class EsbuildLocalBundling implements ILocalBundling {
  readonly entry: string;

  constructor(
    entry: string,
    private readonly defines?: () => Readonly<Record<string, string>>,
  ) {
    this.entry = path.relative(PROJECT_ROOT, entry).split(path.sep).join('/');
  }

  tryBundle(outputDir: string): boolean {
    const options = esbuildOptionsFor(path.resolve(PROJECT_ROOT, this.entry), outputDir, PROJECT_ROOT);
    // Evaluated only when the function is really bundled: stacks that skip bundling skip this work too.
    buildSync(this.defines ? { ...options, define: { ...this.defines() } } : options);
    return true;
  }
}

/**
 * Lambda code for `entry`, bundled by `lib/bundling.ts` at synth time. The asset hash is the
 * hash of the build output (`AssetHashType.OUTPUT`): it changes exactly when what ships
 * changes, and the project directory (node_modules included) is never fingerprinted. Stacks
 * that skip bundling (`aws:cdk:bundling-stacks`) skip the build too; CDK then uses a
 * placeholder hash.
 */
function bundledCode(entry: string, defines?: () => Readonly<Record<string, string>>): Code {
  const bundling: BundlingOptions = {
    // Required by the API, never pulled: local bundling always succeeds or throws.
    image: DockerImage.fromRegistry('local-esbuild-bundling-only'),
    local: new EsbuildLocalBundling(entry, defines),
  };
  return Code.fromAsset(PROJECT_ROOT, { assetHashType: AssetHashType.OUTPUT, bundling });
}

/** Log levels Powertools Logger accepts. */
export type PowertoolsLogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

/** Service name and metrics namespace every function reports under. */
export const POWERTOOLS_SERVICE_NAME = 'recording-vault';
export const POWERTOOLS_METRICS_NAMESPACE = 'RecordingVault';

/** Where and how long every function logs: the stage's settings. */
export interface FunctionLogProps {
  /** Retention of the function's log group. */
  readonly logRetention: logs.RetentionDays;
  /** What happens to the log group when the stack is deleted. */
  readonly logRemovalPolicy: RemovalPolicy;
  /** @default 'INFO' */
  readonly logLevel?: PowertoolsLogLevel;
  /**
   * Encrypt the log group with this key (its policy must let CloudWatch Logs use it, as VaultKey's
   * does). @default - CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /** Run the function in these private subnets. @default - outside any VPC */
  readonly network?: FunctionNetwork;
}

/** A VPC placement for functions (see VaultNetwork). */
export interface FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroups: readonly ec2.ISecurityGroup[];
  /**
   * Gives the role what Lambda needs to manage the function's network interfaces (the actions of
   * AWSLambdaVPCAccessExecutionRole, in a policy of their own).
   */
  grantNetworkInterfaces(scope: Construct, role: iam.IRole): iam.Policy;
}

export interface VaultFunctionProps extends FunctionLogProps {
  /** Absolute path of the handler's TypeScript entry file (exports `handler`). */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /**
   * The function's own environment (its config contract). The construct adds the variables
   * every function shares: POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE,
   * POWERTOOLS_LOG_LEVEL and NODE_OPTIONS=--enable-source-maps. Never put a secret here.
   */
  readonly environment: Readonly<Record<string, string>>;
  /**
   * Values esbuild substitutes for global identifiers at bundling time (its `define`), computed
   * only when the function is bundled. @default - none
   */
  readonly bundleDefines?: () => Readonly<Record<string, string>>;
  /** @default Duration.seconds(10) */
  readonly timeout?: Duration;
  /** @default 256 (MB) */
  readonly memorySize?: number;
  /** Reserved concurrency. @default - none: the function uses the account's unreserved pool */
  readonly reservedConcurrency?: number;
  /**
   * Why a function that is invoked asynchronously (a schedule) needs no dead-letter queue or
   * failure destination. @default - the function is never invoked asynchronously
   */
  readonly asyncInvocation?: string;
}

/**
 * The one Lambda function construct of the project: Node.js 22 on arm64, bundled by
 * `lib/bundling.ts`, JSON logs into its own log group, X-Ray tracing, and a role that holds
 * nothing but log writing and tracing until the caller grants more.
 */
export class VaultFunction extends Construct {
  readonly function: LambdaFunction;
  readonly logGroup: logs.LogGroup;
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: VaultFunctionProps) {
    super(scope, id);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
      encryptionKey: props.logEncryptionKey,
    });

    // An explicit role instead of the AWSLambdaBasicExecutionRole managed policy, which
    // allows writing to every log group of the account: this one writes to its own only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.description}`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'WriteOwnLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.function = new LambdaFunction(this, 'Function', {
      code: bundledCode(props.entry, props.bundleDefines),
      handler: `${BUNDLE_ENTRY_NAME}.handler`,
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(10),
      memorySize: props.memorySize ?? 256,
      reservedConcurrentExecutions: props.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: LoggingFormat.JSON,
      tracing: Tracing.ACTIVE,
      ...(props.network !== undefined
        ? {
            vpc: props.network.vpc,
            vpcSubnets: props.network.subnets,
            securityGroups: [...props.network.securityGroups],
          }
        : {}),
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });

    if (props.network !== undefined) {
      // Lambda needs these rights when the function is created and deleted: keep them until then.
      this.function.node.addDependency(props.network.grantNetworkInterfaces(this, this.role));
    }

    // Active tracing adds xray:PutTraceSegments and xray:PutTelemetryRecords on "*" to the
    // role's default policy (the only "*" there; the stack tests assert that).
    const defaultPolicy = this.role.node.tryFindChild('DefaultPolicy');
    if (defaultPolicy) {
      Validations.of(defaultPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Only X-Ray xray:PutTraceSegments/xray:PutTelemetryRecords use "*": these actions support no resource-level permissions.',
      });
    }
    const runtimeReason =
      'Node.js 22 is the runtime the design pins (bundles target node22, handlers and tests are written for it); moving to a newer runtime is a deliberate change of lib/bundling.ts and this construct together.';
    Validations.of(this.function).acknowledge(
      { id: 'AwsSolutions-L1', reason: runtimeReason },
      { id: 'Serverless-LambdaLatestVersion', reason: runtimeReason },
      {
        id: 'Serverless-LambdaDLQ',
        reason:
          props.asyncInvocation ??
          "Never invoked asynchronously: API Gateway invokes synchronously and the SQS event source has the queue's own dead-letter queue.",
      },
      {
        id: 'Serverless-LambdaAsyncFailureDestination',
        reason:
          props.asyncInvocation ??
          'Never invoked asynchronously (API Gateway: synchronous; SQS: event source mapping with a DLQ on the queue).',
      },
    );
  }
}
