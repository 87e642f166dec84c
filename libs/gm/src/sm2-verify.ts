import { createVerify } from 'node:crypto';
import { Sm2PublicKey } from './sm2-public-key';
import { sm2SignatureToDer } from './sm2-signature';

/**
 * SM2-with-SM3 verification (GB/T 32918.2-2016 §7) of a JOSE-form signature r‖s over `message`, with
 * Z_A of the default signer identity unless `signerId` is given. False for a signature that does not
 * verify; throws Sm2Error (SM2_SIGNATURE_LENGTH, SM2_SIGNATURE_RANGE) for one that is malformed.
 *
 * Why `createVerify` and Z_A fed in front of the message: Node's streaming Verify hashes the data
 * itself (SM3 here) and hands OpenSSL the digest (EVP_PKEY_verify), so e = SM3(Z_A ‖ M) is ours and
 * standard. The one-shot `crypto.verify` goes through EVP_DigestVerify, which prepends OpenSSL's own
 * Z computed with an EMPTY identity, and no Node API sets OpenSSL's `distid`: such signatures do not
 * interoperate with `openssl dgst -sm3 -sigopt distid:1234567812345678`. The GB/T 32918.5 example
 * and the OpenSSL interop tests pin this behaviour.
 */
export function sm2Verify(key: Sm2PublicKey, message: Uint8Array, signature: Uint8Array, signerId?: Uint8Array): boolean {
  const der = sm2SignatureToDer(signature);
  const v = createVerify('sm3');
  v.update(signerId ? key.zaFor(signerId) : key.za);
  v.update(message);
  return v.verify(key.keyObject, der);
}
