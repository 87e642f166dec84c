import { JwsAlgorithm, PublicJwkMembers, importPublicJwk, jwkAlgorithm, verifyJwsSignature } from './jws-public';

/** A verified compact JWS: its protected header and payload bytes. */
export interface VerifiedJws {
  header: Record<string, unknown>;
  payload: Buffer;
}

/**
 * Why a JWS did not verify against a key set; the codes are jose's (createLocalJWKSet + compactVerify),
 * which offline tools printed before SM2SM3 (jose knows no SM2) and still print.
 */
export type KeySetProblem = 'ERR_JWS_INVALID' | 'ERR_JOSE_ALG_NOT_ALLOWED' | 'ERR_JWKS_NO_MATCHING_KEY' | 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED';

/**
 * Verifies a compact JWS against a public JWK Set given from outside (offline tools: audit
 * checkpoints): `alg` on `algorithms`, no `crit`, a key of the set with the header's `kid` and a key
 * type (and `alg`, when the JWK names one) of the header's `alg`; then the signature through
 * verifyJwsSignature. Never throws.
 */
export function verifyJwsWithKeySet(jws: string, set: { keys: PublicJwkMembers[] }, algorithms: readonly JwsAlgorithm[]): VerifiedJws | { problem: KeySetProblem } {
  const parts = typeof jws === 'string' ? jws.split('.') : [];
  if (parts.length !== 3) return { problem: 'ERR_JWS_INVALID' };
  let header: Record<string, unknown>;
  let payload: Buffer;
  try {
    header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as Record<string, unknown>;
    payload = Buffer.from(parts[1], 'base64url');
  } catch {
    return { problem: 'ERR_JWS_INVALID' };
  }
  if (!header || typeof header !== 'object' || Array.isArray(header) || header.crit !== undefined) return { problem: 'ERR_JWS_INVALID' };
  const alg = header.alg as JwsAlgorithm;
  if (typeof alg !== 'string' || !algorithms.includes(alg)) return { problem: 'ERR_JOSE_ALG_NOT_ALLOWED' };
  const candidates = (Array.isArray(set?.keys) ? set.keys : []).filter(
    (k) => k && jwkAlgorithm(k) === alg && (header.kid === undefined || k.kid === header.kid) && (k.alg === undefined || k.alg === alg) && (k.use === undefined || k.use === 'sig'),
  );
  if (candidates.length === 0) return { problem: 'ERR_JWKS_NO_MATCHING_KEY' };
  for (const k of candidates) {
    try {
      if (verifyJwsSignature(jws, importPublicJwk(k, alg), alg)) return { header, payload };
    } catch {
      // an unusable key in the set verifies nothing
    }
  }
  return { problem: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' };
}
