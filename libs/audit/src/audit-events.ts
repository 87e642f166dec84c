/**
 * The closed list of audit event names (documented in docs/protocol.md §Audit).
 * Adding one is a deliberate change to this list and to the docs.
 */
export const AUDIT_EVENTS = [
  'federation.request.refused',
  'federation.request.refused.aggregated',
  'federation.request.accepted',
  'verification.requested',
  'verification.answered',
  'attestation.checked',
  'admin.peer.created',
  'admin.peer.updated',
  'admin.peer.key.added',
  'admin.peer.key.status_changed',
  'licences.imported',
  'licence.status_changed',
  'case.applicant.disclosed',
  'admin.catalogue.loaded',
  'admin.calendar.loaded',
  'admin.outbox.requeued',
  'admin.material_transfer.requeued',
  'admin.webhook_delivery.requeued',
  'admin.webhook.registered',
  'admin.webhook.deleted',
  'admin.key.rotated',
  'admin.key.revoked',
  'trust.peer.key.announced',
  'admin.client.created',
  'admin.client.disabled',
  'access.denied',
  'directory.applied',
  'transport.tls.reloaded',
  'transport.tls.reload_failed',
  'directory.refused',
  'case.material.downloaded',
  'backup.restored',
  'console.session.created',
  'console.session.refused',
  'console.session.ended',
  'console.session.expired',
  'console.action',
  'licence.subscription.created',
  'licence.subscription.cancelled',
  'licence.notice.sent',
  'licence.notice.received',
  'backup.resynced',
  'federation.resync.served',
  'secrets.rotation.started',
  'secrets.rotated',
] as const;

export type AuditEventName = (typeof AUDIT_EVENTS)[number];
export type AuditOutcome = 'OK' | 'REFUSED' | 'FAILED';

/** What one audit entry says: who did what to what, how it ended and why. */
export interface AuditRecord {
  event: AuditEventName;
  actor: string;
  subject: string;
  outcome: AuditOutcome;
  reason?: string;
  messageId?: string;
  details?: Record<string, string | number | boolean>;
}
