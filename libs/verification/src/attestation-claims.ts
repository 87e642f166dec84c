/** Protected-header `typ` of an attestation JWS. */
export const ATTESTATION_TYP = 'tongban-attestation+jwt';

/** Claims of a licence-verification attestation (see docs/protocol.md §Attestation). */
export interface AttestationClaims {
  /** Issuer province code. */
  iss: string;
  /** Requesting province code. */
  aud: string;
  jti: string;
  iat: number;
  /** Caller's request id (the query id). */
  rid: string;
  licenceType: string;
  licenceNumber: string | null;
  licenceId: string | null;
  status: 'VALID' | 'NOT_YET_VALID' | 'EXPIRED' | 'SUSPENDED' | 'REVOKED' | 'NOT_FOUND';
  holderMatch: { name: MatchValue; code: MatchValue };
  /** base64url(SHA-256(UTF-8 purpose)). */
  purposeHash: string;
  /** Credit code of the issuing organ, when the licence was found. */
  organCode: string | null;
  checkedAt: string;
  /** Where the licence's current status is published (docs/protocol-status.md); only when the licence was found. */
  statusRef?: { list: string; idx: number };
}

export type MatchValue = 'MATCH' | 'MISMATCH' | 'NOT_CHECKED';
