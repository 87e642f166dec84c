import { createCipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** Format id of SM4-CTR + HMAC-SM3 sealed values (the first dot-separated field). */
export const SM4_SEAL_VERSION = 'sm4v1';
/** PBKDF2-HMAC-SM3 iterations stretching the key-encryption secret (per salt, cached by the caller). */
export const SM4_PBKDF2_ITERATIONS = 100_000;
export const SM4_SALT_BYTES = 16;
export const SM4_IV_BYTES = 16;
export const SM4_TAG_BYTES = 32;
// Bound into every tag, so a value cannot be re-labelled as another format or version.
const ALG_ID = Buffer.from(`tongban-seal/${SM4_SEAL_VERSION}/SM4-CTR/HMAC-SM3`, 'ascii');
const ENC_INFO = Buffer.from(`tongban-seal/${SM4_SEAL_VERSION}/enc/SM4-128`, 'ascii');
const MAC_INFO = Buffer.from(`tongban-seal/${SM4_SEAL_VERSION}/mac/HMAC-SM3`, 'ascii');

/** The two keys of the construction, never the same bytes. */
export interface Sm4SealKeys {
  enc: Buffer;
  mac: Buffer;
}

/**
 * Splits the 32-byte stretched master key into an SM4 key (16 bytes) and an HMAC-SM3 key (32 bytes)
 * with HKDF-SM3 (RFC 5869 over SM3) under distinct labels: neither key reveals the other.
 */
export function deriveSm4SealKeys(master: Buffer): Sm4SealKeys {
  return {
    enc: Buffer.from(hkdfSync('sm3', master, Buffer.alloc(0), ENC_INFO, 16)),
    mac: Buffer.from(hkdfSync('sm3', master, Buffer.alloc(0), MAC_INFO, 32)),
  };
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** HMAC-SM3 over alg id ‖ binding ‖ salt ‖ IV ‖ ciphertext, each variable part length-prefixed. */
function tagOf(keys: Sm4SealKeys, binding: Buffer, salt: Buffer, iv: Buffer, ct: Buffer): Buffer {
  return createHmac('sm3', keys.mac)
    .update(Buffer.concat([u32(ALG_ID.length), ALG_ID, u32(binding.length), binding, salt, iv, u32(ct.length), ct]))
    .digest();
}

function sm4Ctr(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const cipher = createCipheriv('sm4-ctr', key, iv);
  return Buffer.concat([cipher.update(data), cipher.final()]);
}

/** Encrypt-then-MAC: SM4-CTR under a fresh random 128-bit counter block, then HMAC-SM3. */
export function sm4Seal(keys: Sm4SealKeys, salt: Buffer, binding: Buffer, plaintext: Buffer): string {
  const iv = randomBytes(SM4_IV_BYTES);
  const ct = sm4Ctr(keys.enc, iv, plaintext);
  const tag = tagOf(keys, binding, salt, iv, ct);
  return [SM4_SEAL_VERSION, salt, iv, ct, tag].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

/** The parts of an `sm4v1` value, checked for shape only (nothing is authenticated yet). */
export function sm4Parse(sealed: string): { salt: Buffer; iv: Buffer; ct: Buffer; tag: Buffer } {
  const parts = sealed.split('.');
  if (parts.length !== 5 || parts[0] !== SM4_SEAL_VERSION) throw new Error('unsupported sealed value format');
  const bytes = parts.slice(1).map((p) => {
    const b = Buffer.from(p, 'base64url');
    // One spelling per value: Buffer.from skips characters outside the alphabet.
    if (b.toString('base64url') !== p) throw new Error('sealed value is not canonical base64url');
    return b;
  });
  const [salt, iv, ct, tag] = bytes;
  if (salt.length !== SM4_SALT_BYTES || iv.length !== SM4_IV_BYTES) throw new Error('unsupported sealed value format');
  if (tag.length !== SM4_TAG_BYTES) throw new Error(`sealed value tag must be ${SM4_TAG_BYTES} bytes`);
  return { salt, iv, ct, tag };
}

/** Checks the tag in constant time, then decrypts; throws on any change to any part or binding. */
export function sm4Open(keys: Sm4SealKeys, binding: Buffer, parsed: ReturnType<typeof sm4Parse>): Buffer {
  const expected = tagOf(keys, binding, parsed.salt, parsed.iv, parsed.ct);
  if (!timingSafeEqual(expected, parsed.tag)) throw new Error('sealed value does not authenticate: wrong secret, altered value or another record');
  return sm4Ctr(keys.enc, parsed.iv, parsed.ct);
}
