import type { AuditAction } from '../shared/audit/audit-record';

/** The erasure function's routes and what each is in the audit trail. */
export const ERASURE_AUDIT_ACTIONS: Readonly<Record<string, AuditAction>> = {
  'DELETE /calls/{callId}/recordings/{recordingSid}': 'recording.erase',
  'DELETE /recordings/{recordingSid}': 'recording.erase',
};
