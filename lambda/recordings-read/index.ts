import { S3Client } from '@aws-sdk/client-s3';
import { AuditWriter } from '../shared/audit/audit-trail';
import { loadAuditConfig, loadPlaybackConfig, loadRecordingsReadConfig } from '../shared/config/function-config';
import { vaultDocumentClient } from '../shared/runtime/document-client';
import { clientOverrides } from '../shared/runtime/endpoints';
import { createPlaybackHandler } from './handler';

const config = loadPlaybackConfig();
const listing = loadRecordingsReadConfig();
const { auditTableName } = loadAuditConfig();
const ddb = vaultDocumentClient();

export const handler = createPlaybackHandler({
  config,
  listing,
  s3: new S3Client({ ...clientOverrides('S3') }),
  ddb,
  audit: new AuditWriter(ddb, auditTableName),
});
