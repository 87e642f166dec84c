import { KeyObject, createECDH, createPrivateKey, createSign, generateKeyPairSync, randomFillSync } from 'node:crypto';
import { SM2_N, Sm2Error, Sm2PublicKey, sm2Implementation, sm2MessageDigest, sm2NativeAddon, sm2SignatureFromDer, sm2Verify, toBigInt } from '@tongban/gm';
import type { Sm2PrivateHandle } from '../../../native/sm2';

// PKCS #8 PrivateKeyInfo { id-ecPublicKey, sm2 } wrapping SEC 1 ECPrivateKey { 1, d, [1] point }, as
// `openssl genpkey -algorithm SM2` writes it. Keys are always rebuilt from this DER: Node's
// generateKeyPair('ec', { namedCurve: 'SM2' }) yields an EC-typed key with which OpenSSL signs ECDSA,
// not SM2; the same key decoded from DER is SM2-typed.
const PKCS8_HEAD = Buffer.from('308187020100301306072a8648ce3d020106082a811ccf5501822d046d306b0201010420', 'hex');
const PKCS8_MID = Buffer.from('a144034200', 'hex');

/** Private-JWK form of an SM2 key (test vectors and import only; never served). */
export interface Sm2PrivateJwk {
  kty: 'EC';
  crv: 'SM2';
  x: string;
  y: string;
  d: string;
}

// The implementations the signing self-test passed on (each is tested before its first use).
const selfTested = new Set<'native' | 'openssl'>();

function publicPointOf(d: Buffer): Buffer {
  const ecdh = createECDH('SM2');
  ecdh.setPrivateKey(d);
  return ecdh.getPublicKey();
}

/**
 * An SM2 signing key (GB/T 32918.2, SM3, Z_A with the default signer identity). Signs by reference:
 * the private scalar stays inside the OpenSSL key object (and, once the tongban-sm2 addon has signed
 * with it, as (1 + d)^-1 inside the addon's handle) and is never logged or returned, except as
 * PKCS #8 for sealing at rest (`pkcs8()`).
 */
export class Sm2SigningKey {
  private nativeHandle: Sm2PrivateHandle | null = null;

  private constructor(
    private readonly key: KeyObject,
    readonly publicKey: Sm2PublicKey,
  ) {}

  /** A fresh key from OpenSSL's generator. */
  static generate(): Sm2SigningKey {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'SM2' });
    return Sm2SigningKey.fromPkcs8(privateKey.export({ type: 'pkcs8', format: 'der' }));
  }

  /** From PKCS #8 DER (what `pkcs8()` returns and `openssl genpkey -algorithm SM2 -outform DER` writes). */
  static fromPkcs8(der: Uint8Array): Sm2SigningKey {
    const d = Buffer.from(der);
    if (d.length !== PKCS8_HEAD.length + 32 + PKCS8_MID.length + 65 || !d.subarray(0, PKCS8_HEAD.length).equals(PKCS8_HEAD)) {
      throw new Sm2Error('SM2_KEY_INVALID', 'private key: must be an SM2 PKCS #8 key (curve 1.2.156.10197.1.301) with its public point');
    }
    const scalar = d.subarray(PKCS8_HEAD.length, PKCS8_HEAD.length + 32);
    const rest = d.subarray(PKCS8_HEAD.length + 32);
    if (!rest.subarray(0, PKCS8_MID.length).equals(PKCS8_MID)) throw new Sm2Error('SM2_KEY_INVALID', 'private key: must carry its public point');
    const point = rest.subarray(PKCS8_MID.length);
    return Sm2SigningKey.fromScalar(scalar, { x: point.subarray(1, 33), y: point.subarray(33) });
  }

  /** From a PEM private key (`openssl genpkey -algorithm SM2`). */
  static fromPem(pem: string): Sm2SigningKey {
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch {
      throw new Sm2Error('SM2_KEY_INVALID', 'private key: not a readable PEM private key');
    }
    return Sm2SigningKey.fromPkcs8(key.export({ type: 'pkcs8', format: 'der' }));
  }

  /** From a private JWK `{"kty":"EC","crv":"SM2","x","y","d"}`; x, y must be d·G. */
  static fromJwk(jwk: Sm2PrivateJwk): Sm2SigningKey {
    const { d, ...pub } = jwk;
    const publicKey = Sm2PublicKey.fromJwk(pub);
    if (typeof d !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(d)) throw new Sm2Error('SM2_JWK_INVALID', 'jwk.d: must be 32 bytes as base64url without padding');
    return Sm2SigningKey.fromScalar(Buffer.from(d, 'base64url'), publicKey.point);
  }

  private static fromScalar(d: Buffer, point: { x: Buffer; y: Buffer }): Sm2SigningKey {
    const v = toBigInt(d);
    // GB/T 32918.1 §6.1: d in [1, n-2], so that 1 + d is invertible mod n.
    if (v < 1n || v > SM2_N - 2n) throw new Sm2Error('SM2_KEY_INVALID', 'private key: d must be in [1, n-2]');
    const publicKey = Sm2PublicKey.fromPoint(point);
    if (!publicPointOf(d).equals(Buffer.concat([Buffer.from([0x04]), publicKey.point.x, publicKey.point.y]))) {
      throw new Sm2Error('SM2_KEY_INVALID', 'private key: the public point is not d·G');
    }
    const der = Buffer.concat([PKCS8_HEAD, d, PKCS8_MID, Buffer.from([0x04]), publicKey.point.x, publicKey.point.y]);
    return new Sm2SigningKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), publicKey);
  }

  /**
   * SM2-with-SM3 signature r‖s (64 bytes) over `message`, Z_A of the default identity unless
   * `signerId` is given; k comes from OpenSSL's DRBG. Computed by the tongban-sm2 addon when it is
   * active (`sm2Implementation()`), else by OpenSSL: streaming Sign, not crypto.sign (see
   * @tongban/gm sm2-verify.ts for why).
   */
  sign(message: Uint8Array, signerId?: Uint8Array): Buffer {
    if (!selfTested.has(sm2Implementation())) this.selfTest();
    return this.signWith(signerId ? this.publicKey.zaFor(signerId) : this.publicKey.za, message);
  }

  private signWith(za: Buffer, message: Uint8Array): Buffer {
    const addon = sm2NativeAddon();
    if (addon) {
      if (!this.nativeHandle) {
        const der = this.pkcs8();
        this.nativeHandle = addon.privateKey(der.subarray(PKCS8_HEAD.length, PKCS8_HEAD.length + 32));
        der.fill(0);
      }
      const e = sm2MessageDigest(za, message);
      const k = Buffer.alloc(32);
      try {
        // The addon answers null for k = 0, k >= n, r = 0, r + k = n or s = 0: draw k again.
        for (;;) {
          const sig = addon.sign(this.nativeHandle, e, randomFillSync(k));
          if (sig) return sig;
        }
      } finally {
        k.fill(0);
      }
    }
    const s = createSign('sm3');
    s.update(za);
    s.update(message);
    return sm2SignatureFromDer(s.sign(this.key));
  }

  // Once per process and implementation, before the first signature: a signature of ours must pass
  // the verification that @tongban/gm checks against the GB/T 32918.5 known answer.
  private selfTest(): void {
    const probe = Buffer.from('Tongban SM2 self-test');
    if (!sm2Verify(this.publicKey, probe, this.signWith(this.publicKey.za, probe))) {
      throw new Sm2Error('SM2_SELF_TEST_FAILED', `SM2 signing self-test failed (${sm2Implementation()}) on Node ${process.version} / OpenSSL ${process.versions.openssl}: SM2 is unavailable`);
    }
    selfTested.add(sm2Implementation());
  }

  /**
   * The private JWK, for one use only: the offline key file of the directory's trust anchor
   * (`tongban directory keygen --alg SM2SM3`), which never reaches a gateway.
   */
  privateJwk(): Sm2PrivateJwk {
    const der = this.pkcs8();
    return { ...this.publicKey.jwk(), d: der.subarray(PKCS8_HEAD.length, PKCS8_HEAD.length + 32).toString('base64url') };
  }

  /** PKCS #8 DER of the private key, for sealing at rest only. */
  pkcs8(): Buffer {
    return this.key.export({ type: 'pkcs8', format: 'der' });
  }
}
