import { createHash } from 'node:crypto';

// The recommended 256-bit curve of GB/T 32918.5-2017 (also GM/T 0003.5-2012), y² = x³ + ax + b over Fp.
export const SM2_P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
export const SM2_A = 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn;
export const SM2_B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
export const SM2_N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
export const SM2_GX = 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n;
export const SM2_GY = 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n;

/** An affine point as two 32-byte big-endian coordinates. */
export interface Sm2Point {
  x: Buffer;
  y: Buffer;
}

/** Big-endian bytes to an unsigned integer. */
export function toBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
}

/** An integer below 2^256 as 32 big-endian bytes. */
export function toBytes32(v: bigint): Buffer {
  if (v < 0n || v >= 1n << 256n) throw new RangeError('value does not fit in 32 bytes');
  return Buffer.from(v.toString(16).padStart(64, '0'), 'hex');
}

/** Whether (x, y), both already below p, satisfies the curve equation. */
export function isOnCurve(x: bigint, y: bigint): boolean {
  return (y * y - (x * x * x + SM2_A * x + SM2_B)) % SM2_P === 0n;
}

/** SM3 (GB/T 32905-2016) of the concatenated parts, from Node's OpenSSL. */
export function sm3(...parts: Uint8Array[]): Buffer {
  const h = createHash('sm3');
  for (const p of parts) h.update(p);
  return h.digest();
}
