import { S3Client } from '@aws-sdk/client-s3';
import { AuditWriter } from '../shared/audit/audit-trail';
import { auditedRoute } from '../shared/audit/audited-route';
import { loadAuditConfig, loadHoldConfig } from '../shared/config/function-config';
import { vaultDocumentClient } from '../shared/runtime/document-client';
import { clientOverrides } from '../shared/runtime/endpoints';
import { createObservability } from '../shared/runtime/observability';
import { HOLD_AUDIT_ACTIONS } from './audit-actions';
import { createHoldHandler } from './handler';

// Created once per container; a bad environment fails here, with every problem named.
const config = loadHoldConfig();
const { auditTableName } = loadAuditConfig();
const ddb = vaultDocumentClient();
// One for the handler and its audit entry: an entry that cannot be written is counted with the rest.
const obs = createObservability('recording-hold');

// Every hold and release is entered in the audit trail, with its caller and outcome, before the answer leaves.
export const handler = auditedRoute(
  createHoldHandler({
    config,
    s3: new S3Client({ ...clientOverrides('S3') }),
    ddb,
    obs,
  }),
  { recorder: new AuditWriter(ddb, auditTableName), obs, actions: HOLD_AUDIT_ACTIONS },
);
