import { loadAuditConfig } from '../shared/config/function-config';
import { vaultDocumentClient } from '../shared/runtime/document-client';
import { createAuditReadHandler } from './handler';

const config = loadAuditConfig();

export const handler = createAuditReadHandler({
  config,
  ddb: vaultDocumentClient(),
});
