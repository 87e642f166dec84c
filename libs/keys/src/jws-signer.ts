import { KeyObject, createPrivateKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { importPublicJwk } from '@tongban/gm';
import type { JWK } from 'jose';
import type { SigningAlg } from './keys.options';
import { Sm2SigningKey } from './sm2-signing-key';

/** Signs JWS signing input; returns the signature in its JWS form. */
export type JwsSign = (signingInput: Buffer) => Buffer;

/** A fresh key for `alg`: the PKCS #8 DER to seal at rest, and the public JWK (no kid, alg or use yet). */
export function generateSigningKey(alg: SigningAlg): { pkcs8: Buffer; jwk: JWK } {
  if (alg === 'SM2SM3') {
    const key = Sm2SigningKey.generate();
    return { pkcs8: key.pkcs8(), jwk: { ...key.publicKey.jwk() } };
  }
  const { privateKey, publicKey } = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }), jwk: publicKey.export({ format: 'jwk' }) as JWK };
}

/**
 * The one signing entry for every algorithm: a signer over the PKCS #8 key `pkcs8` for `alg` —
 * raw Ed25519, IEEE P1363 r‖s for ES256 (ECDSA P-256/SHA-256), r‖s for SM2SM3 (SM2 with SM3, Z_A of
 * the default identity, docs/protocol.md §16). The private key stays inside the closure.
 */
export function loadSigner(alg: SigningAlg, pkcs8: Buffer): JwsSign {
  if (alg === 'SM2SM3') {
    const key = Sm2SigningKey.fromPkcs8(pkcs8);
    return (data) => key.sign(data);
  }
  const key: KeyObject = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  return alg === 'EdDSA' ? (data) => cryptoSign(null, data, key) : (data) => cryptoSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });
}

/** The verifying key object of one of our public JWKs (SM2 keys registered for verifyJwsSignature). */
export function ownPublicKey(alg: SigningAlg, jwk: JWK): KeyObject {
  return importPublicJwk(jwk, alg);
}
