// What the gateway's HTTP API answers, as the e2e suites read it: `call<CaseBody>(…)`. The case
// shapes are the query service's own return types (JSON keeps them: dates are ISO strings already).
import type { CaseQuery } from '@tongban/cases';

/** GET /v1/cases/{id} and the answer to POST /v1/cases. */
export type CaseBody = Awaited<ReturnType<CaseQuery['view']>>;
/** GET /v1/cases */
export type CaseListBody = Awaited<ReturnType<CaseQuery['list']>>;
/** GET /v1/tasks */
export type TaskListBody = Awaited<ReturnType<CaseQuery['tasks']>>;

/** Tongban's error shape (any 4xx/5xx). */
export interface ErrorBody {
  error: { code: string; message: string; field?: string; rule?: string; correlationId?: string; [more: string]: unknown };
}

/** One row of GET /admin/audit. */
export interface AuditRow {
  seq: number;
  at: string;
  event: string;
  actor: string;
  subject: string;
  outcome: string;
  reason: string | null;
  messageId?: string | null;
  details: unknown;
}

/** GET /admin/audit */
export interface AuditBody {
  events: AuditRow[];
}

/** One message of GET /admin/outbox. */
export interface OutboxRow {
  id: string;
  peer: string;
  stream: string;
  status: string;
  attempts: number;
  lastError: string | null;
  /** The peer's signed receipt (compact JWS) once delivered. */
  receipt: string | null;
  [more: string]: unknown;
}

/** GET /admin/outbox */
export interface OutboxBody {
  messages: OutboxRow[];
}

/** GET /admin/tls */
export interface TlsBody {
  fingerprint: string;
  notAfter: string;
  trustedCas: string[];
  [more: string]: unknown;
}

/** The answer to POST /v1/verifications (a licence's status, with its attestation). */
export interface VerificationResultBody {
  status: string;
  attestation?: string;
  [more: string]: unknown;
}

/** The body of a `licence.status.changed` webhook (docs/protocol-notices.md). */
export interface LicenceStatusChangedWebhook {
  id: string;
  type: string;
  at: string;
  subscriptionId: string;
  issuerProvince: string;
  licenceId: string;
  licenceType: string;
  status: string;
  previous: string;
  version: number;
  changedAt: string;
  reason: string;
}
