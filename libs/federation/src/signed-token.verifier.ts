import { Inject, Injectable } from '@nestjs/common';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { SELF_CODE } from '@tongban/common';
import { KeyStore } from '@tongban/keys';
import { TrustStore } from '@tongban/trust';
import { FEDERATION_OPTIONS, FederationOptions } from './federation.options';
import { critAccepted, verifyJwsSignature } from './jws-signature';

/** Why a signed token (attestation, receipt) does not check. */
export type TokenProblem = 'MALFORMED' | 'WRONG_TYPE' | 'ALG_NOT_ALLOWED' | 'UNKNOWN_ISSUER' | 'UNKNOWN_KEY' | 'KEY_REVOKED' | 'KEY_ALG_MISMATCH' | 'BAD_SIGNATURE';

/** Outcome of checking a compact JWS issued by a participant. */
export type TokenCheck<T> = { valid: true; claims: T; kid: string } | { valid: false; reason: TokenProblem; claims: T | null; kid?: string };

const KID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Checks compact JWS tokens issued by any participant (ourselves included) against the trust
 * store, offline: allow-listed algorithms only, `typ` enforced, `kid` resolved for `iss`.
 * RETIRED keys still verify (old evidence stays checkable); REVOKED keys do not.
 */
@Injectable()
export class SignedTokenVerifier {
  constructor(
    private readonly keys: KeyStore,
    private readonly trust: TrustStore,
    @Inject(FEDERATION_OPTIONS) private readonly options: FederationOptions,
    @Inject(SELF_CODE) private readonly self: string,
  ) {}

  /** Verifies `token` of type `typ` (at most `maxLength` characters); never throws. */
  async check<T extends { iss?: unknown }>(token: string, typ: string, maxLength = 8192): Promise<TokenCheck<T>> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    let claims: T;
    try {
      if (typeof token !== 'string' || token.length > maxLength || token.split('.').length !== 3) throw new Error('shape');
      header = decodeProtectedHeader(token);
      claims = decodeJwt<T>(token);
    } catch {
      return { valid: false, reason: 'MALFORMED', claims: null };
    }
    const kid = typeof header.kid === 'string' ? header.kid : undefined;
    const fail = (reason: TokenProblem): TokenCheck<T> => ({ valid: false, reason, claims, kid });
    if (header.typ !== typ) return fail('WRONG_TYPE');
    if (typeof header.alg !== 'string' || !(this.options.allowedAlgorithms as string[]).includes(header.alg)) return fail('ALG_NOT_ALLOWED');
    if (!kid || !KID.test(kid) || typeof claims.iss !== 'string') return fail('MALFORMED');
    const peerAlgs = claims.iss === this.self ? null : this.trust.peer(claims.iss)?.allowedAlgs;
    if (peerAlgs && !(peerAlgs as string[]).includes(header.alg)) return fail('ALG_NOT_ALLOWED');
    const key = claims.iss === this.self ? this.keys.publicKey(kid) : this.trust.peer(claims.iss)?.keys.get(kid);
    if (!key) return fail(claims.iss === this.self || this.trust.peer(claims.iss) ? 'UNKNOWN_KEY' : 'UNKNOWN_ISSUER');
    if (key.status === 'REVOKED') return fail('KEY_REVOKED');
    if (key.alg !== header.alg) return fail('KEY_ALG_MISMATCH');
    if (!critAccepted(header) || !verifyJwsSignature(token, key.key, key.alg)) return fail('BAD_SIGNATURE');
    return { valid: true, claims, kid };
  }
}
