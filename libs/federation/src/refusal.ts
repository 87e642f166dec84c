import { status } from '@grpc/grpc-js';
import { findUnstorableText } from '@tongban/common';

/**
 * Why a receiver refused a federation message, with the gRPC status it answers with.
 * The list is closed and documented in docs/protocol.md §Refusals.
 */
export const REFUSAL_STATUS = {
  MALFORMED_ENVELOPE: status.INVALID_ARGUMENT,
  PAYLOAD_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  ALG_NOT_ALLOWED: status.UNAUTHENTICATED,
  UNKNOWN_SENDER: status.UNAUTHENTICATED,
  TLS_IDENTITY_MISMATCH: status.PERMISSION_DENIED,
  UNKNOWN_KEY: status.UNAUTHENTICATED,
  KEY_REVOKED: status.UNAUTHENTICATED,
  KEY_RETIRED: status.UNAUTHENTICATED,
  KEY_ALG_MISMATCH: status.UNAUTHENTICATED,
  BAD_SIGNATURE: status.UNAUTHENTICATED,
  MISSING_CLAIM: status.INVALID_ARGUMENT,
  UNSUPPORTED_VERSION: status.INVALID_ARGUMENT,
  WRONG_RECIPIENT: status.FAILED_PRECONDITION,
  EXPIRED: status.UNAUTHENTICATED,
  NOT_YET_VALID: status.UNAUTHENTICATED,
  LIFETIME_TOO_LONG: status.INVALID_ARGUMENT,
  TYPE_MISMATCH: status.INVALID_ARGUMENT,
  DIGEST_MISMATCH: status.INVALID_ARGUMENT,
  MALFORMED_PAYLOAD: status.INVALID_ARGUMENT,
  PEER_SUSPENDED: status.PERMISSION_DENIED,
  LICENCE_TYPE_NOT_ALLOWED: status.PERMISSION_DENIED,
  REPLAYED: status.ALREADY_EXISTS,
  REPLY_MISMATCH: status.FAILED_PRECONDITION,
  OUT_OF_ORDER: status.FAILED_PRECONDITION,
  ITEM_NOT_ALLOWED: status.PERMISSION_DENIED,
  NOT_CASE_OWNER: status.PERMISSION_DENIED,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  TOO_MANY_REFUSALS: status.RESOURCE_EXHAUSTED,
  MATERIAL_INTEGRITY: status.DATA_LOSS,
  UNKNOWN_STATUS_LIST: status.NOT_FOUND,
} as const;

export type RefusalCode = keyof typeof REFUSAL_STATUS;

/** gRPC metadata key carrying the refusal code (the status message also starts with it). */
export const REFUSAL_METADATA_KEY = 'tongban-refusal';

/** A message was refused; `detail` is safe to send to the peer. */
export class RefusalException extends Error {
  constructor(
    readonly code: RefusalCode,
    readonly detail: string,
    readonly sender?: string,
    readonly messageId?: string,
    /** False when the refusal came before the signature proved who the sender is. */
    readonly senderVerified = false,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'RefusalException';
  }

  get grpcStatus(): number {
    return REFUSAL_STATUS[this.code];
  }
}

/**
 * Refuses (MALFORMED_PAYLOAD, gRPC INVALID_ARGUMENT) a decoded payload holding text that some
 * backend cannot store (NUL, unpaired surrogate): the same rule as the local API's rule STORABLE_TEXT, so
 * a message is refused before anything is stored, on SQLite and PostgreSQL alike.
 */
export function refuseUnstorableText(decoded: unknown, sender?: string, messageId?: string): void {
  const p = findUnstorableText(decoded);
  if (p) throw new RefusalException('MALFORMED_PAYLOAD', `STORABLE_TEXT: ${p.message}`, sender, messageId, sender !== undefined);
}
