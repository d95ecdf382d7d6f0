import { S3Client } from '@aws-sdk/client-s3';
import { AuditWriter } from '../shared/audit/audit-trail';
import { auditedRoute } from '../shared/audit/audited-route';
import { loadAuditConfig, loadErasureConfig } from '../shared/config/function-config';
import { vaultDocumentClient } from '../shared/runtime/document-client';
import { clientOverrides } from '../shared/runtime/endpoints';
import { createObservability } from '../shared/runtime/observability';
import { parentTokens, secretsManagerSecret, subaccountTokens } from '../shared/twilio/credentials';
import { ERASURE_AUDIT_ACTIONS } from './audit-actions';
import { createErasureHandler } from './handler';

// Created once per container; a bad environment fails here, with every problem named.
const config = loadErasureConfig();
const secret = secretsManagerSecret(config.secretId);
const { auditTableName } = loadAuditConfig();
const ddb = vaultDocumentClient();
// One for the handler and its audit entry: an entry that cannot be written is counted with the rest.
const obs = createObservability('recording-erasure');

// Every answer about a recording is entered in the audit trail before it leaves.
export const handler = auditedRoute(
  createErasureHandler({
    config,
    tokens: parentTokens(secret),
    subaccountTokens: subaccountTokens(secret),
    s3: new S3Client({ ...clientOverrides('S3') }),
    ddb,
    obs,
  }),
  { recorder: new AuditWriter(ddb, auditTableName), obs, actions: ERASURE_AUDIT_ACTIONS },
);
