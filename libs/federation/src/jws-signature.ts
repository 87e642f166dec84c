import { KeyObject, verify as cryptoVerify } from 'node:crypto';

/** The JWS algorithms a participant key can have (the allow-list itself is FederationOptions.allowedAlgorithms). */
export type JwsAlgorithm = 'EdDSA' | 'ES256';

// What a key object can verify, worked out once per key object (keys live as long as the trust store holds them).
const kinds = new WeakMap<KeyObject, JwsAlgorithm | null>();

function algorithmOf(key: KeyObject): JwsAlgorithm | null {
  let kind = kinds.get(key);
  if (kind === undefined) {
    const type = key.asymmetricKeyType;
    // As jose's key check: EdDSA takes an Ed25519 (or Ed448) key, ES256 an EC key on P-256.
    kind = type === 'ed25519' || type === 'ed448' ? 'EdDSA' : type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ES256' : null;
    kinds.set(key, kind);
  }
  return kind;
}

/**
 * Whether the signature of the compact JWS `jws` verifies with `key` under `alg`, with node:crypto
 * directly and synchronously. The caller has already applied the policy (the algorithm allow-list,
 * `typ`, the `kid` resolved through the trust store, the key's status, and `alg` = the key's
 * algorithm); this checks what jose's compactVerify would check beyond that — three parts, a key of
 * the kind `alg` needs — and the signature itself over the same signing input (RFC 7515 §5.2:
 * the UTF-8 bytes of `header.payload`), with ES256 signatures in their JWS form (IEEE P1363 r‖s).
 *
 * Why not jose here: this runs twice per verification on the asker and once on the issuer, and
 * jose's verify goes through a promisified crypto.verify (a thread-pool round trip per signature)
 * plus its generic header handling; jose stays for everything off the hot path (JWK import,
 * thumbprints, decoding).
 */
export function verifyJwsSignature(jws: string, key: KeyObject, alg: JwsAlgorithm): boolean {
  const first = jws.indexOf('.');
  const last = jws.lastIndexOf('.');
  if (first <= 0 || last === first || jws.indexOf('.', first + 1) !== last) return false;
  if (algorithmOf(key) !== alg) return false;
  const data = Buffer.from(jws.slice(0, last), 'utf8');
  const signature = Buffer.from(jws.slice(last + 1), 'base64url');
  try {
    return alg === 'EdDSA' ? cryptoVerify(null, data, key, signature) : cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/**
 * Whether a protected header's `crit` is one jose's verify accepts (RFC 7515 §4.1.11): absent, or a
 * non-empty list of names it understands (only `b64`, which must then be present and a boolean).
 * A token carrying any other critical extension does not verify.
 */
export function critAccepted(header: Record<string, unknown>): boolean {
  const crit = header.crit;
  if (crit === undefined) return true;
  if (!Array.isArray(crit) || crit.length === 0) return false;
  return crit.every((name) => name === 'b64') && typeof header.b64 === 'boolean';
}
