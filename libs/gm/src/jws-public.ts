import { KeyObject, createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { Sm2Error } from './sm2-error';
import { SM2_JWK_CRV, SM2_JWS_ALG, Sm2PublicKey } from './sm2-public-key';
import { sm2Verify } from './sm2-verify';

/**
 * Every JWS algorithm Tongban signs or verifies with (docs/protocol.md §3.2, §16). The allow-list of
 * a gateway (TONGBAN_ALLOWED_ALGS) is a subset; `none`, HS* and RS* are never among them.
 */
export const JWS_ALGORITHMS = ['EdDSA', 'ES256', 'SM2SM3'] as const;
/** A JWS algorithm of the table above. */
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

/** The public members of a JWK that Tongban reads (RFC 7517/7518, `crv: "SM2"` of §16). */
export interface PublicJwkMembers {
  kty?: unknown;
  crv?: unknown;
  x?: unknown;
  y?: unknown;
  alg?: unknown;
  kid?: unknown;
  use?: unknown;
}

/** Why a public JWK was refused; `code` is machine-readable (an Sm2ErrorCode for SM2 keys, else KEY_MATERIAL). */
export class PublicJwkError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PublicJwkError';
  }
}

// SM2 keys decoded from DER have no asymmetricKeyType in Node 20: the checked SM2 key (with its
// Z_A) is remembered per key object, which lives as long as the trust store or key store holds it.
const sm2Keys = new WeakMap<KeyObject, Sm2PublicKey>();
const kinds = new WeakMap<KeyObject, JwsAlgorithm | null>();

/** The algorithm a public JWK's key type implies: OKP/Ed25519 → EdDSA, EC/P-256 → ES256, EC/SM2 → SM2SM3 (null: none). */
export function jwkAlgorithm(jwk: PublicJwkMembers): JwsAlgorithm | null {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'EC' && jwk.crv === SM2_JWK_CRV) return SM2_JWS_ALG;
  return null;
}

/**
 * Imports a public JWK as a key object for `alg` (the one entry for every algorithm of the table):
 * its key type must be the one `alg` takes; SM2 keys are checked by Sm2PublicKey.fromJwk (on the
 * curve, not the identity, no `d`). Throws PublicJwkError naming the rule.
 */
export function importPublicJwk(jwk: PublicJwkMembers, alg: JwsAlgorithm): KeyObject {
  if ('d' in jwk) throw new PublicJwkError(alg === SM2_JWS_ALG ? 'SM2_JWK_PRIVATE' : 'KEY_MATERIAL', 'jwk.d: a public key must not carry private material');
  if (jwkAlgorithm(jwk) !== alg) throw new PublicJwkError('KEY_MATERIAL', `jwk: kty/crv (${String(jwk.kty)}/${String(jwk.crv)}) is not a key for ${alg}`);
  if (alg === SM2_JWS_ALG) {
    let sm2: Sm2PublicKey;
    try {
      sm2 = Sm2PublicKey.fromJwk({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, ...(jwk.alg !== undefined ? { alg: jwk.alg } : {}) });
    } catch (e) {
      if (e instanceof Sm2Error) throw new PublicJwkError(e.code, e.message);
      throw e;
    }
    sm2Keys.set(sm2.keyObject, sm2);
    kinds.set(sm2.keyObject, SM2_JWS_ALG);
    return sm2.keyObject;
  }
  try {
    const members = alg === 'EdDSA' ? { kty: 'OKP', crv: 'Ed25519', x: jwk.x } : { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
    return createPublicKey({ key: members as never, format: 'jwk' });
  } catch {
    throw new PublicJwkError('KEY_MATERIAL', `jwk: not a usable ${alg} public key`);
  }
}

/** RFC 7638 SHA-256 thumbprint (base64url) of a public JWK of any algorithm of the table: the `kid`. */
export function publicJwkThumbprint(jwk: PublicJwkMembers): string {
  const input = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash('sha256').update(JSON.stringify(input)).digest('base64url');
}

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
 * Whether the signature of the compact JWS `jws` verifies with `key` under `alg` (the one
 * verification entry for every algorithm of the table), with node:crypto directly and synchronously.
 * The caller has already applied the policy (the algorithm allow-list, `typ`, the `kid` resolved
 * through the trust store, the key's status, and `alg` = the key's algorithm); this checks what
 * jose's compactVerify would check beyond that — three parts, a key of the kind `alg` needs — and
 * the signature itself over the same signing input (RFC 7515 §5.2: the UTF-8 bytes of
 * `header.payload`), with ES256 and SM2SM3 signatures in their JWS form (r‖s, 64 bytes).
 * SM2SM3 keys must come from importPublicJwk (or sm2KeyObject); a malformed SM2 signature
 * (wrong length, r or s out of range) does not verify.
 *
 * Why not jose here: this runs twice per verification on the asker and once on the issuer, and
 * jose's verify goes through a promisified crypto.verify (a thread-pool round trip per signature)
 * plus its generic header handling; and jose knows no SM2.
 */
export function verifyJwsSignature(jws: string, key: KeyObject, alg: JwsAlgorithm): boolean {
  const first = jws.indexOf('.');
  const last = jws.lastIndexOf('.');
  if (first <= 0 || last === first || jws.indexOf('.', first + 1) !== last) return false;
  if (algorithmOf(key) !== alg) return false;
  const data = Buffer.from(jws.slice(0, last), 'utf8');
  const signature = Buffer.from(jws.slice(last + 1), 'base64url');
  try {
    if (alg === 'EdDSA') return cryptoVerify(null, data, key, signature);
    if (alg === 'ES256') return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    return sm2Verify(sm2Keys.get(key)!, data, signature);
  } catch {
    return false;
  }
}

/** The key object of a checked SM2 public key, registered for verifyJwsSignature. */
export function sm2KeyObject(key: Sm2PublicKey): KeyObject {
  sm2Keys.set(key.keyObject, key);
  kinds.set(key.keyObject, SM2_JWS_ALG);
  return key.keyObject;
}
