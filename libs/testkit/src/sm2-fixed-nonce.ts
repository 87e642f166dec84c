import { createECDH } from 'node:crypto';
import { SM2_N, sm2MessageDigest, toBigInt, toBytes32 } from '@tongban/gm';

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

/**
 * SM2 signing with a GIVEN nonce k (GB/T 32918.2-2016 §6.1 A3–A7), to reproduce published worked
 * examples and the test vector of docs/protocol.md §16. Tests only: a repeated k reveals d. k·G comes
 * from OpenSSL (ECDH on the SM2 curve); the rest is the standard's equations.
 */
export function sm2SignWithNonce(d: Uint8Array, za: Uint8Array, message: Uint8Array, k: Uint8Array): Buffer {
  const e = toBigInt(sm2MessageDigest(za, message));
  const ecdh = createECDH('SM2');
  ecdh.setPrivateKey(Buffer.from(k));
  const x1 = toBigInt(ecdh.getPublicKey().subarray(1, 33));
  const kv = toBigInt(k);
  const dv = toBigInt(d);
  const r = (e + x1) % SM2_N;
  if (r === 0n || r + kv === SM2_N) throw new Error('k gives r = 0 or r + k = n: choose another');
  const s = (modPow(1n + dv, SM2_N - 2n, SM2_N) * (((kv - r * dv) % SM2_N) + SM2_N)) % SM2_N;
  if (s === 0n) throw new Error('k gives s = 0: choose another');
  return Buffer.concat([toBytes32(r), toBytes32(s)]);
}
