import { KeyObject, createHash, createPublicKey } from 'node:crypto';
import { SM2_P, Sm2Point, isOnCurve, toBigInt } from './sm2-curve';
import { Sm2Error } from './sm2-error';
import { SM2_DEFAULT_SIGNER_ID, sm2Za } from './sm2-za';

/** The JWS `alg` of SM2 with SM3, default signer identity, r‖s encoding (docs/protocol.md §16). */
export const SM2_JWS_ALG = 'SM2SM3';
/** The JWK `crv` of the GB/T 32918.5 curve (with `kty: "EC"`). */
export const SM2_JWK_CRV = 'SM2';

/** A public SM2 JWK as Tongban writes it: members of RFC 7517/7518 §6.2, `crv: "SM2"`. */
export interface Sm2PublicJwk {
  kty: 'EC';
  crv: 'SM2';
  x: string;
  y: string;
}

// SubjectPublicKeyInfo { id-ecPublicKey, sm2 (1.2.156.10197.1.301) } with an uncompressed point, as
// `openssl genpkey -algorithm SM2` writes it; only the 65 point bytes vary.
const ALGORITHM_ID = Buffer.from('301306072a8648ce3d020106082a811ccf5501822d', 'hex');
const SPKI_PREFIX = Buffer.concat([Buffer.from('3059', 'hex'), ALGORITHM_ID, Buffer.from('034200', 'hex')]);
const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;

function coordinate(jwk: Record<string, unknown>, name: 'x' | 'y'): Buffer {
  const v = jwk[name];
  if (typeof v !== 'string' || !B64URL_32.test(v)) throw new Sm2Error('SM2_JWK_INVALID', `jwk.${name}: must be 32 bytes as base64url without padding (43 characters)`);
  const bytes = Buffer.from(v, 'base64url');
  // 43 characters carry 258 bits: the last character must not set the 2 bits past byte 32.
  if (bytes.toString('base64url') !== v) throw new Sm2Error('SM2_JWK_INVALID', `jwk.${name}: is not canonical base64url`);
  return bytes;
}

/** Refuses the identity, coordinates not below p and points off the curve (GB/T 32918.1 §6.2.1). */
function checkPoint(point: Sm2Point): void {
  const x = toBigInt(point.x);
  const y = toBigInt(point.y);
  if (x === 0n && y === 0n) throw new Sm2Error('SM2_POINT_AT_INFINITY', 'public key: is the point at infinity (the identity)');
  if (x >= SM2_P || y >= SM2_P) throw new Sm2Error('SM2_POINT_NOT_ON_CURVE', 'public key: coordinates must be below p');
  if (!isOnCurve(x, y)) throw new Sm2Error('SM2_POINT_NOT_ON_CURVE', 'public key: the point is not on the SM2 curve');
  // The cofactor is 1, so every other point on the curve has order n.
}

/** A checked SM2 public key, with the OpenSSL key object and Z_A for the default signer identity. */
export class Sm2PublicKey {
  private constructor(
    readonly point: Sm2Point,
    readonly keyObject: KeyObject,
    /** Z_A with the default signer identity `1234567812345678`. */
    readonly za: Buffer,
  ) {}

  /** From two 32-byte coordinates; refuses the identity and points off the curve. */
  static fromPoint(point: Sm2Point): Sm2PublicKey {
    if (point.x.length !== 32 || point.y.length !== 32) throw new Sm2Error('SM2_JWK_INVALID', 'public key: coordinates must be 32 bytes each');
    const p = { x: Buffer.from(point.x), y: Buffer.from(point.y) };
    checkPoint(p);
    const spki = Buffer.concat([SPKI_PREFIX, Buffer.from([0x04]), p.x, p.y]);
    return new Sm2PublicKey(p, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sm2Za(p));
  }

  /**
   * From a public JWK `{"kty":"EC","crv":"SM2","x","y"}`; refuses `d`, an `alg` other than SM2SM3 and
   * every bad point. Other members (kid, use, key_ops) are the caller's to check.
   */
  static fromJwk(jwk: unknown): Sm2PublicKey {
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new Sm2Error('SM2_JWK_INVALID', 'jwk: must be a JSON object');
    const j = jwk as Record<string, unknown>;
    if ('d' in j) throw new Sm2Error('SM2_JWK_PRIVATE', 'jwk.d: a public key must not carry the private scalar');
    if (j.kty !== 'EC') throw new Sm2Error('SM2_JWK_INVALID', 'jwk.kty: must be "EC" for an SM2 key');
    if (j.crv !== SM2_JWK_CRV) throw new Sm2Error('SM2_JWK_INVALID', `jwk.crv: must be "${SM2_JWK_CRV}"`);
    if (j.alg !== undefined && j.alg !== SM2_JWS_ALG) throw new Sm2Error('SM2_ALG_MISMATCH', `jwk.alg: an SM2 key signs with "${SM2_JWS_ALG}" only`);
    return Sm2PublicKey.fromPoint({ x: coordinate(j, 'x'), y: coordinate(j, 'y') });
  }

  /** From a DER SubjectPublicKeyInfo (id-ecPublicKey with the SM2 curve OID, uncompressed point). */
  static fromSpki(der: Uint8Array): Sm2PublicKey {
    const d = Buffer.from(der);
    const head = d.subarray(2, 2 + ALGORITHM_ID.length);
    if (d.length === 2 + ALGORITHM_ID.length + 4 && head.equals(ALGORITHM_ID) && d.subarray(-3).equals(Buffer.from('020000', 'hex'))) {
      throw new Sm2Error('SM2_POINT_AT_INFINITY', 'public key: is the point at infinity (the identity)');
    }
    if (d.length !== SPKI_PREFIX.length + 65 || !d.subarray(0, SPKI_PREFIX.length).equals(SPKI_PREFIX) || d[SPKI_PREFIX.length] !== 0x04) {
      throw new Sm2Error('SM2_KEY_INVALID', 'public key: must be an SM2 SubjectPublicKeyInfo (curve 1.2.156.10197.1.301) with an uncompressed point');
    }
    const at = SPKI_PREFIX.length + 1;
    return Sm2PublicKey.fromPoint({ x: d.subarray(at, at + 32), y: d.subarray(at + 32, at + 64) });
  }

  /** From a PEM or KeyObject public key; the key object is rebuilt from DER, so it is always SM2-typed. */
  static fromKeyObject(key: KeyObject): Sm2PublicKey {
    if (key.type !== 'public') throw new Sm2Error('SM2_KEY_INVALID', 'public key: must be a public key object');
    return Sm2PublicKey.fromSpki(key.export({ type: 'spki', format: 'der' }));
  }

  /** The public JWK, members in the order Tongban serves them. */
  jwk(): Sm2PublicJwk {
    return { kty: 'EC', crv: 'SM2', x: this.point.x.toString('base64url'), y: this.point.y.toString('base64url') };
  }

  /** RFC 7638 SHA-256 thumbprint: the key's `kid`. */
  thumbprint(): string {
    return sm2JwkThumbprint(this.jwk());
  }

  /** DER SubjectPublicKeyInfo, as `openssl pkey -pubout -outform DER` writes it. */
  spki(): Buffer {
    return Buffer.concat([SPKI_PREFIX, Buffer.from([0x04]), this.point.x, this.point.y]);
  }

  /** Z_A for a signer identity other than the default one. */
  zaFor(signerId: Uint8Array): Buffer {
    return Buffer.from(signerId).equals(SM2_DEFAULT_SIGNER_ID) ? this.za : sm2Za(this.point, signerId);
  }
}

/** RFC 7638 input of an SM2 JWK: `{"crv":"SM2","kty":"EC","x":…,"y":…}`, no whitespace. */
export function sm2ThumbprintInput(jwk: Sm2PublicJwk): string {
  return JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
}

/** RFC 7638 SHA-256 thumbprint of an SM2 JWK, base64url. */
export function sm2JwkThumbprint(jwk: Sm2PublicJwk): string {
  return createHash('sha256').update(sm2ThumbprintInput(jwk)).digest('base64url');
}
