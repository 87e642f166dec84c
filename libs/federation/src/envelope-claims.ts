/** Protected-header `typ` of a federation envelope JWS. */
export const ENVELOPE_TYP = 'tongban-envelope+jws';

/** Protocol version carried in the `ver` claim. */
export const ENVELOPE_VERSION = 1;

/** The claims of an envelope JWS (see docs/protocol.md §Envelope). */
export interface EnvelopeClaims {
  ver: number;
  /** Sender participant code. */
  iss: string;
  /** Recipient participant code. */
  aud: string;
  /** Fully qualified protobuf type of the payload. */
  mty: string;
  /** Unique message id (UUID). */
  jti: string;
  iat: number;
  exp: number;
  /** base64url(SHA-256(payload bytes)). */
  dig: string;
  /** For responses: the `jti` of the request answered. */
  rto?: string;
}

/** An envelope that passed every check. */
export interface OpenedEnvelope {
  claims: EnvelopeClaims;
  payload: Buffer;
}
