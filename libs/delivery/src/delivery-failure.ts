import { status } from '@grpc/grpc-js';
import { DomainException } from '@tongban/common';
import { REFUSAL_STATUS } from '@tongban/federation';

/** How one failed delivery attempt counts towards dead-lettering. */
export interface DeliveryFailure {
  /**
   * True when the message itself is not at fault and waiting can help: the peer is unreachable or
   * busy, the message waits for its predecessor, or a trust setting (keys, suspension, clocks) has
   * to be fixed by an operator. Only the dead-letter age ends those.
   */
  transient: boolean;
  /** The kind of failure, from a closed list (refusal codes, gRPC status names, error codes): a metric label. */
  code: string;
}

/** Thrown by the dispatcher when a peer's receipt does not check: the peer answered, and wrongly. */
export class ReceiptInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReceiptInvalidError';
  }
}

// Refusals (and bare gRPC statuses) that say nothing about the message: it was not looked at, or
// it waits for an earlier one. Everything else the peer answered (MALFORMED_PAYLOAD, INTERNAL,
// TYPE_MISMATCH, PAYLOAD_TOO_LARGE, UNIMPLEMENTED, …) will be answered again the same way.
const TRANSIENT_REASONS = new Set<string>([
  'OUT_OF_ORDER',
  'RATE_LIMITED',
  'TOO_MANY_REFUSALS',
  'UNKNOWN_SENDER',
  'UNKNOWN_KEY',
  'KEY_REVOKED',
  'KEY_RETIRED',
  'KEY_ALG_MISMATCH',
  'ALG_NOT_ALLOWED',
  'BAD_SIGNATURE',
  'TLS_IDENTITY_MISMATCH',
  'PEER_SUSPENDED',
  'WRONG_RECIPIENT',
  'EXPIRED',
  'NOT_YET_VALID',
  'UNAVAILABLE',
  'DEADLINE_EXCEEDED',
  'CANCELLED',
  'ABORTED',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
]);

// Errors of our own side or of the path to the peer, never of the message (UNAVAILABLE: our own
// database was lost or busy during the attempt).
const TRANSIENT_CODES = new Set<string>(['ISSUER_UNREACHABLE', 'ISSUER_RATE_LIMITED', 'ISSUER_REFUSED', 'ISSUER_UNKNOWN', 'FORBIDDEN', 'UNAVAILABLE']);

const KNOWN_REASONS = new Set<string>([...Object.keys(REFUSAL_STATUS), ...Object.keys(status).filter((k) => Number.isNaN(Number(k)))]);

/**
 * Classifies a failed attempt (docs/protocol-cases.md §1.6): the same non-transient `code`
 * `deadAfterFailures` times in a row parks the message as DEAD. The peer's refusal reason is kept
 * only when it is a known code, so a peer cannot invent metric labels.
 */
export function classifyDeliveryFailure(e: unknown): DeliveryFailure {
  if (e instanceof ReceiptInvalidError) return { transient: false, code: 'RECEIPT_INVALID' };
  if (!(e instanceof DomainException)) return { transient: true, code: 'LOCAL_ERROR' };
  if (TRANSIENT_CODES.has(e.code)) return { transient: true, code: e.code };
  const reason = e.details.reason && KNOWN_REASONS.has(e.details.reason) ? e.details.reason : 'OTHER';
  if (e.code === 'ISSUER_REJECTED') return { transient: TRANSIENT_REASONS.has(reason), code: reason };
  if (e.code === 'ISSUER_RESPONSE_INVALID') return { transient: TRANSIENT_REASONS.has(reason), code: 'RESPONSE_INVALID' };
  return { transient: false, code: e.code };
}
