/**
 * The local HTTP API: the deployed handler factories (same modules, same events) behind the
 * routes of the stack's HTTP API, each non-webhook route behind the bearer token. The local
 * counterpart of lib/constructs/vault-api.ts and the function constructs.
 */
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createAuditReadHandler } from '../../lambda/audit-read/handler';
import { createConsoleHandler } from '../../lambda/console/handler';
import { ERASURE_AUDIT_ACTIONS } from '../../lambda/erasure/audit-actions';
import { createErasureHandler } from '../../lambda/erasure/handler';
import { HOLD_AUDIT_ACTIONS } from '../../lambda/hold/audit-actions';
import { createHoldHandler } from '../../lambda/hold/handler';
import { createPlaybackHandler } from '../../lambda/recordings-read/handler';
import { AuditWriter } from '../../lambda/shared/audit/audit-trail';
import { auditedRoute } from '../../lambda/shared/audit/audited-route';
import {
  loadAuditConfig,
  loadErasureConfig,
  loadHoldConfig,
  loadPlaybackConfig,
  loadRecordingsReadConfig,
  loadWebhookConfig,
} from '../../lambda/shared/config/function-config';
import { fileEventPublisher } from '../../lambda/shared/ledger/events';
import { createObservability } from '../../lambda/shared/runtime/observability';
import { staticTokens } from '../../lambda/shared/twilio/signature';
import { createWebhookHandler } from '../../lambda/webhook/handler';
import { buildConsoleAssets } from '../console-bundle';
import { EVENTS_FILE, type LocalConfig } from './config';
import { localFunctionEnvs, localSubaccountTokens } from './function-env';
import type { Route } from './gateway';
import type { QueueUrls } from './resources';

export interface ApiClients {
  readonly s3: S3Client;
  readonly docClient: DynamoDBDocumentClient;
  /** The webhook's own SQS client (more attempts: Twilio will not send the callback again). */
  readonly webhookSqs: SQSClient;
}

export function apiRoutes(config: LocalConfig, queues: QueueUrls, clients: ApiClients): Route[] {
  const { s3, docClient, webhookSqs } = clients;
  const tokens = staticTokens(config.authToken, config.authTokenSecondary);
  const subaccountTokens = localSubaccountTokens(config);
  const envs = localFunctionEnvs(config, queues);
  // The same audit trail as on AWS; locally the caller is the bearer token's holder, `local`.
  const audit = new AuditWriter(docClient, loadAuditConfig(envs.recordingsRead).auditTableName);
  const webhook = createWebhookHandler({
    config: loadWebhookConfig(envs.webhook),
    tokens,
    subaccountTokens,
    sqs: webhookSqs,
  });
  const playback = createPlaybackHandler({
    config: loadPlaybackConfig(envs.recordingsRead),
    listing: loadRecordingsReadConfig(envs.recordingsRead),
    s3,
    ddb: docClient,
    audit,
    defaultPrincipal: 'local',
  });
  // As on AWS: the handler and its audit entry share the function's logs and metrics.
  const holdObs = createObservability('recording-hold');
  const hold = auditedRoute(
    createHoldHandler({
      config: loadHoldConfig(envs.hold),
      s3,
      ddb: docClient,
      events: fileEventPublisher(join(config.dataDir, EVENTS_FILE)),
      defaultPrincipal: 'local',
      obs: holdObs,
    }),
    { recorder: audit, actions: HOLD_AUDIT_ACTIONS, defaultPrincipal: 'local', obs: holdObs },
  );
  const erasureObs = createObservability('recording-erasure');
  // Behind the bearer token like every non-webhook route; the caller is recorded as `local`.
  const erasure = auditedRoute(
    createErasureHandler({
      config: loadErasureConfig(envs.erasure),
      tokens,
      subaccountTokens,
      s3,
      ddb: docClient,
      events: fileEventPublisher(join(config.dataDir, EVENTS_FILE)),
      defaultPrincipal: 'local',
      obs: erasureObs,
    }),
    {
      recorder: new AuditWriter(docClient, loadAuditConfig(envs.erasure).auditTableName),
      actions: ERASURE_AUDIT_ACTIONS,
      defaultPrincipal: 'local',
      obs: erasureObs,
    },
  );
  const auditRead = createAuditReadHandler({ config: loadAuditConfig(envs.auditRead), ddb: docClient });
  // The console: static, no token (the page calls the routes below with the user's token). Its
  // audio comes from presigned URLs on the S3 endpoint, the one other origin its CSP allows.
  const consolePage = createConsoleHandler({
    assets: buildConsoleAssets(),
    settings: {
      auth: 'local',
      mediaOrigins: [new URL(config.s3Endpoint ?? `http://127.0.0.1:${config.s3Port}`).origin],
    },
  });
  const consoleRoutes: Route[] = ['/', '/console.js', '/console.css', '/config.json'].map((path) => ({
    method: 'GET',
    path,
    handler: consolePage,
    functionName: 'console',
  }));
  return [
    ...consoleRoutes,
    { method: 'POST', path: '/twilio/recording', handler: webhook, functionName: 'recording-webhook' },
    {
      method: 'GET',
      path: '/calls/{callId}/recording',
      handler: playback,
      functionName: 'recordings-read',
      bearerToken: config.apiToken,
    },
    {
      method: 'GET',
      path: '/calls/{callId}/recordings',
      handler: playback,
      functionName: 'recordings-read',
      bearerToken: config.apiToken,
    },
    {
      method: 'GET',
      path: '/recordings',
      handler: playback,
      functionName: 'recordings-read',
      bearerToken: config.apiToken,
    },
    {
      method: 'GET',
      path: '/recordings/{recordingSid}',
      handler: playback,
      functionName: 'recordings-read',
      bearerToken: config.apiToken,
    },
    {
      method: 'DELETE',
      path: '/calls/{callId}/recordings/{recordingSid}',
      handler: erasure,
      functionName: 'recording-erasure',
      bearerToken: config.apiToken,
    },
    ...(['PUT', 'DELETE'] as const).map((method) => ({
      method,
      path: '/recordings/{recordingSid}/hold',
      handler: hold,
      functionName: 'recording-hold',
      bearerToken: config.apiToken,
    })),
    {
      method: 'DELETE',
      path: '/recordings/{recordingSid}',
      handler: erasure,
      functionName: 'recording-erasure',
      bearerToken: config.apiToken,
    },
    {
      method: 'GET',
      path: '/recordings/{recordingSid}/audit',
      handler: auditRead,
      functionName: 'audit-read',
      bearerToken: config.apiToken,
    },
  ];
}
