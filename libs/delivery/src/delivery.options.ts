/** Tuning of the reliable delivery path. */
export interface DeliveryOptions {
  /** After this age an undelivered message is parked as DEAD (visible to admins, re-queueable). */
  deadLetterAgeMs: number;
  /** The same non-transient failure this many times in a row parks a message as DEAD (a poison message). */
  deadAfterFailures: number;
  /** First retry delay; doubles per attempt up to `backoffCapMs`, with full jitter. */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** First wait of the dispatcher's poll after work when nothing nudges it; doubles while idle. */
  pollIntervalMs: number;
  /** Longest wait of that poll when idle (the safety poll: work queued by another process, leases of a dead replica). */
  idlePollMs: number;
  /** How long a claimed message is reserved for one sender (process or replica). */
  leaseMs: number;
  /** Messages in flight at once (each stream still one at a time). */
  concurrency: number;
}

export const DELIVERY_OPTIONS = Symbol('DELIVERY_OPTIONS');

/** Protected-header `typ` of a delivery receipt. */
export const RECEIPT_TYP = 'tongban-receipt+jwt';

/** Claims of a signed delivery receipt (non-repudiation of receipt). */
export interface ReceiptClaims {
  iss: string;
  aud: string;
  /** The delivered message id. */
  mid: string;
  stm: string;
  seq: number;
  /** Payload type of the delivered body. */
  mty: string;
  /** base64url(H(body)), H = SHA-256, or SM3 when `dal` says so (as in an envelope, docs/protocol.md §3.5). */
  dig: string;
  dal?: 'SM3';
  /** ACCEPTED (applied) or REJECTED (will never be applied; see rsn). */
  sta: 'ACCEPTED' | 'REJECTED';
  rsn?: string;
  iat: number;
}
