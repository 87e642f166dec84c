import type { JwsAlgorithm } from '@tongban/gm';
import type { EnvelopeDigestAlg } from './envelope-claims';
import type { RefusalLimits } from './refusal-guard';

/** Configuration of the signed envelope and of peer calls. */
export interface FederationOptions {
  /** JWS algorithms accepted from peers; anything else is refused with ALG_NOT_ALLOWED. */
  allowedAlgorithms: JwsAlgorithm[];
  /** Lifetime given to messages we send (seconds, at most 300). */
  messageTtlSeconds: number;
  /** Tolerated clock difference with peers (seconds). */
  clockSkewSeconds: number;
  /** Largest payload accepted or sent (bytes). */
  maxPayloadBytes: number;
  /** Digest algorithm of the `dig` claim of envelopes we send (default SHA-256; SM3 writes `dal: "SM3"`). */
  envelopeDigest?: EnvelopeDigestAlg;
  /** Deadline of a call to a peer (milliseconds). */
  peerDeadlineMs: number;
  /**
   * Open the connection to each active trusted peer when it becomes known (start-up, a new or
   * changed peer, a TLS reload seen at the next trust refresh) rather than at its first call;
   * one attempt per peer, endpoint and TLS material (default false; the gateway's config turns it on).
   */
  preconnect?: boolean;
  /** Budget and audit window of refusals before signature verification (default DEFAULT_REFUSAL_LIMITS). */
  refusals?: RefusalLimits;
}

export const FEDERATION_OPTIONS = Symbol('FEDERATION_OPTIONS');

/** Hard protocol limit on message lifetime (exp − iat), whatever the configuration says. */
export const MAX_MESSAGE_LIFETIME_SECONDS = 300;
