import { createVerify } from 'node:crypto';
import type { Sm2PublicHandle } from '../../../native/sm2';
import { Sm2Error } from './sm2-error';
import { Sm2Implementation, sm2Implementation, sm2NativeAddon } from './sm2-native';
import { Sm2PublicKey } from './sm2-public-key';
import { sm2SignatureParts, sm2SignatureToDer } from './sm2-signature';
import { sm2MessageDigest } from './sm2-za';

/** A known answer: public key, message and signature with the default identity. */
export interface Sm2KnownAnswer {
  x: string;
  y: string;
  message: string;
  signature: string;
}

// GB/T 32918.5-2017 Annex A (GM/T 0003.5-2012), as OpenSSL's test/sm2_internal_test.c uses it.
const ANNEX_A: Sm2KnownAnswer = {
  x: '09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020',
  y: 'ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13',
  message: 'message digest',
  signature: 'f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa',
};

// The implementations the known answer passed on (each is tested before its first use).
const selfTested = new Set<Sm2Implementation>();
// The addon's handle of each public key (checked point, comb table once it has verified), as long as the key lives.
const handles = new WeakMap<Sm2PublicKey, Sm2PublicHandle>();

function verifyWith(key: Sm2PublicKey, za: Buffer, message: Uint8Array, signature: Uint8Array): boolean {
  const addon = sm2NativeAddon();
  if (addon) {
    sm2SignatureParts(signature); // the same refusals (length, range) as on the OpenSSL path
    let handle = handles.get(key);
    if (!handle) {
      const created = addon.publicKey(key.point.x, key.point.y);
      // Sm2PublicKey.fromPoint checked the point already: the addon disagreeing is a defect.
      if (!created) throw new Sm2Error('SM2_SELF_TEST_FAILED', 'the tongban-sm2 addon refused a checked SM2 point');
      handles.set(key, created);
      handle = created;
    }
    return addon.verify(handle, sm2MessageDigest(za, message), signature);
  }
  const der = sm2SignatureToDer(signature);
  const v = createVerify('sm3');
  v.update(za);
  v.update(message);
  return v.verify(key.keyObject, der);
}

/**
 * Known-answer test, run once before the first SM2 verification (and by `Sm2SigningKey` before the
 * first signature) on the active implementation (`sm2Implementation()`; once for each): the
 * published signature must verify and a changed message must not. It guards the addon's arithmetic
 * and the Node behaviour the OpenSSL path relies on (below); throws SM2_SELF_TEST_FAILED otherwise.
 */
export function sm2SelfTest(answer: Sm2KnownAnswer = ANNEX_A): void {
  const key = Sm2PublicKey.fromPoint({ x: Buffer.from(answer.x, 'hex'), y: Buffer.from(answer.y, 'hex') });
  const sig = Buffer.from(answer.signature, 'hex');
  const message = Buffer.from(answer.message, 'utf8');
  if (!verifyWith(key, key.za, message, sig) || verifyWith(key, key.za, Buffer.concat([message, Buffer.from([0])]), sig)) {
    throw new Sm2Error('SM2_SELF_TEST_FAILED', `SM2 known-answer test failed (${sm2Implementation()}) on Node ${process.version} / OpenSSL ${process.versions.openssl}: SM2 is unavailable`);
  }
  if (answer === ANNEX_A) selfTested.add(sm2Implementation());
}

/**
 * SM2-with-SM3 verification (GB/T 32918.2-2016 §7) of a JOSE-form signature r‖s over `message`, with
 * Z_A of the default signer identity unless `signerId` is given. False for a signature that does not
 * verify; throws Sm2Error (SM2_SIGNATURE_LENGTH, SM2_SIGNATURE_RANGE) for one that is malformed.
 * e = SM3(Z_A ‖ M) is computed here; the curve arithmetic is the tongban-sm2 addon's (native/sm2) when
 * it is active, else OpenSSL's.
 *
 * OpenSSL path: why `createVerify` and Z_A fed in front of the message: Node's streaming Verify hashes the data
 * itself (SM3 here) and hands OpenSSL the digest (EVP_PKEY_verify), so e = SM3(Z_A ‖ M) is ours and
 * standard. The one-shot `crypto.verify` goes through EVP_DigestVerify, which prepends OpenSSL's own
 * Z computed with an EMPTY identity, and no Node API sets OpenSSL's `distid`: such signatures do not
 * interoperate with `openssl dgst -sm3 -sigopt distid:1234567812345678`. `sm2SelfTest` and the
 * OpenSSL interop tests pin this behaviour.
 */
export function sm2Verify(key: Sm2PublicKey, message: Uint8Array, signature: Uint8Array, signerId?: Uint8Array): boolean {
  if (!selfTested.has(sm2Implementation())) sm2SelfTest();
  return verifyWith(key, signerId ? key.zaFor(signerId) : key.za, message, signature);
}
