import type { AuditAction } from '../shared/audit/audit-record';

/** The hold function's routes and what each is in the audit trail. */
export const HOLD_AUDIT_ACTIONS: Readonly<Record<string, AuditAction>> = {
  'PUT /recordings/{recordingSid}/hold': 'recording.hold',
  'DELETE /recordings/{recordingSid}/hold': 'recording.release',
};
