import { ReplayMark } from './replay-mark';

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
  /** base64url(H(payload bytes)), H named by `dal` (SHA-256 when absent). */
  dig: string;
  /** Digest algorithm of `dig` (docs/protocol.md §3.5): absent means SHA-256; the only other value is SM3. */
  dal?: 'SM3';
  /** For responses: the `jti` of the request answered. */
  rto?: string;
}

/** An envelope that passed every check. */
export interface OpenedEnvelope {
  claims: EnvelopeClaims;
  payload: Buffer;
  /** Opened with `rememberInHandler`: the request id, for the handler to remember in its own transaction. */
  replay?: ReplayMark;
}

/** Digest algorithms of the `dig` claim, by `dal` value (absent = SHA-256), with node:crypto's name. */
export const ENVELOPE_DIGESTS = { 'SHA-256': 'sha256', SM3: 'sm3' } as const;
export type EnvelopeDigestAlg = keyof typeof ENVELOPE_DIGESTS;
