import { type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { CfnPermission, type IFunction } from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ApiThrottleConfig, PlaybackAuthConfig } from '../config';

export const WEBHOOK_PATH = '/twilio/recording';
export const PLAYBACK_PATH = '/calls/{callId}/recording';
export const PLAYBACK_LIST_PATH = '/calls/{callId}/recordings';
export const LIST_RECORDINGS_PATH = '/recordings';
/** One recording by its RecordingSid (GET: playback; DELETE: erasure), whatever its call. */
export const RECORDING_PATH = '/recordings/{recordingSid}';
/** The console's static files: no authorizer (the page holds no data; it calls the routes below with a token). */
export const CONSOLE_PATHS = ['/', '/console.js', '/console.css', '/config.json'] as const;
export const ERASE_RECORDING_PATH = '/calls/{callId}/recordings/{recordingSid}';
export const HOLD_PATH = '/recordings/{recordingSid}/hold';
export const RECORDING_AUDIT_PATH = '/recordings/{recordingSid}/audit';

/** JWT scopes (DESIGN, HTTP API): the GET routes need the first, DELETE the second. IAM routes stay IAM. */
export const READ_SCOPE = 'recordings/read';
export const ERASE_SCOPE = 'recordings/erase';
/** PUT and DELETE of a legal hold. */
export const HOLD_SCOPE = 'recordings/hold';
/** GET /recordings/{recordingSid}/audit: reading who accessed a recording is its own right. */
export const AUDIT_SCOPE = 'recordings/audit';

/**
 * Access log line (JSON). Deliberately without the query string, headers or body: no
 * Authorization header, no X-Twilio-Signature, no presigned-URL parameters end up in logs.
 */
export const ACCESS_LOG_FORMAT: Readonly<Record<string, string>> = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  latency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  caller: '$context.identity.userArn',
};

export interface VaultApiProps {
  readonly webhookFunction: IFunction;
  readonly recordingsReadFunction: IFunction;
  readonly playbackAuth: PlaybackAuthConfig;
  readonly throttle: ApiThrottleConfig;
  readonly accessLogRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Encrypt the access log group with this key. @default - CloudWatch Logs' own encryption */
  readonly accessLogEncryptionKey?: kms.IKey;
}

/**
 * The HTTP API: the Twilio webhook (no authorizer; the function verifies X-Twilio-Signature)
 * and the playback routes behind the IAM or JWT authorizer, on a `$default` stage with
 * throttling and JSON access logs.
 */
export class VaultApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLogGroup: logs.LogGroup;
  readonly webhookRoute: apigw.HttpRoute;
  readonly playbackRoutes: readonly apigw.HttpRoute[];
  /** The IAM or JWT authorizer every non-webhook route shares. */
  readonly authorizer: apigw.IHttpRouteAuthorizer;
  private readonly jwt: boolean;

  constructor(scope: Construct, id: string, props: VaultApiProps) {
    super(scope, id);

    this.api = new apigw.HttpApi(this, 'HttpApi', {
      description: 'Recording Vault: Twilio recording webhook and playback URLs',
      createDefaultStage: false,
    });

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention,
      removalPolicy: props.removalPolicy,
      encryptionKey: props.accessLogEncryptionKey,
    });

    this.stage = this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FORMAT)),
      },
    });

    const [webhookRoute] = this.api.addRoutes({
      path: WEBHOOK_PATH,
      methods: [apigw.HttpMethod.POST],
      integration: new HttpLambdaIntegration('WebhookIntegration', props.webhookFunction),
    });
    if (!webhookRoute) throw new Error('webhook route was not created');
    this.webhookRoute = webhookRoute;
    Validations.of(webhookRoute).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'Twilio sends no IAM or JWT credentials. The webhook function verifies X-Twilio-Signature (HMAC-SHA1 with the account auth token) on every request and answers 403 otherwise; no configuration can turn that off.',
    });

    this.jwt = props.playbackAuth.type === 'jwt';
    const authorizer: apigw.IHttpRouteAuthorizer =
      props.playbackAuth.type === 'jwt'
        ? new HttpJwtAuthorizer('PlaybackJwtAuthorizer', props.playbackAuth.issuer, {
            jwtAudience: [...props.playbackAuth.audience],
          })
        : new HttpIamAuthorizer();
    this.authorizer = authorizer;
    const playbackIntegration = new HttpLambdaIntegration('PlaybackIntegration', props.recordingsReadFunction);
    // GET /recordings (the ledger listing) and GET /recordings/{recordingSid} are served by the same read-only function.
    this.playbackRoutes = [PLAYBACK_PATH, PLAYBACK_LIST_PATH, LIST_RECORDINGS_PATH, RECORDING_PATH].flatMap((path) =>
      this.api.addRoutes({
        path,
        methods: [apigw.HttpMethod.GET],
        integration: playbackIntegration,
        authorizer,
        ...this.scopes(READ_SCOPE),
      }),
    );
    this.limitInvokePermissionsToThisAccount();
  }

  /**
   * DELETE /calls/{callId}/recordings/{recordingSid} and DELETE /recordings/{recordingSid} → `fn`,
   * behind the shared authorizer (JWT: `recordings/erase`). Returns the per-call route.
   */
  addErasureRoute(fn: IFunction): apigw.HttpRoute {
    const integration = new HttpLambdaIntegration('ErasureIntegration', fn);
    const [route, bySid] = [ERASE_RECORDING_PATH, RECORDING_PATH].flatMap((path) =>
      this.api.addRoutes({
        path,
        methods: [apigw.HttpMethod.DELETE],
        integration,
        authorizer: this.authorizer,
        ...this.scopes(ERASE_SCOPE),
      }),
    );
    if (!route || !bySid) throw new Error('erasure routes were not created');
    this.limitInvokePermissionsToThisAccount();
    return route;
  }

  /** PUT and DELETE /recordings/{recordingSid}/hold → `fn`, behind the shared authorizer (JWT: `recordings/hold`). */
  addHoldRoutes(fn: IFunction): apigw.HttpRoute[] {
    const routes = this.api.addRoutes({
      path: HOLD_PATH,
      methods: [apigw.HttpMethod.PUT, apigw.HttpMethod.DELETE],
      integration: new HttpLambdaIntegration('HoldIntegration', fn),
      authorizer: this.authorizer,
      ...this.scopes(HOLD_SCOPE),
    });
    this.limitInvokePermissionsToThisAccount();
    return routes;
  }

  /** GET /recordings/{recordingSid}/audit → `fn`, behind the shared authorizer (JWT: `recordings/audit`). */
  addAuditRoute(fn: IFunction): apigw.HttpRoute {
    const [route] = this.api.addRoutes({
      path: RECORDING_AUDIT_PATH,
      methods: [apigw.HttpMethod.GET],
      integration: new HttpLambdaIntegration('AuditReadIntegration', fn),
      authorizer: this.authorizer,
      ...this.scopes(AUDIT_SCOPE),
    });
    if (!route) throw new Error('audit route was not created');
    this.limitInvokePermissionsToThisAccount();
    return route;
  }

  /** GET / and the console's assets → `fn`, without an authorizer: they are static and hold no data. */
  addConsoleRoutes(fn: IFunction): apigw.HttpRoute[] {
    const integration = new HttpLambdaIntegration('ConsoleIntegration', fn);
    const routes = CONSOLE_PATHS.flatMap((path) =>
      this.api.addRoutes({ path, methods: [apigw.HttpMethod.GET], integration }),
    );
    for (const route of routes) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'The console page and its script and style are static files that hold no recording data; a browser must load them before it can sign in. Every route that returns data keeps the IAM or JWT authorizer.',
      });
    }
    this.limitInvokePermissionsToThisAccount();
    return routes;
  }

  /**
   * The integrations' invoke permissions name the API's ARN (SourceArn, a joined string); they
   * also name this account (SourceAccount), so that only API Gateway on behalf of this account
   * may invoke the functions (CT.LAMBDA.PR.2).
   */
  private limitInvokePermissionsToThisAccount(): void {
    for (const child of this.node.findAll()) {
      if (child instanceof CfnPermission && child.sourceAccount === undefined) {
        child.sourceAccount = Stack.of(this).account;
      }
    }
  }

  /** `authorizationScopes` on JWT routes; IAM routes take none. */
  private scopes(scope: string): { authorizationScopes?: string[] } {
    return this.jwt ? { authorizationScopes: [scope] } : {};
  }

  /** Base URL of the `$default` stage, without trailing slash. */
  get url(): string {
    return this.api.apiEndpoint;
  }
}
