import { SM2_N, toBigInt, toBytes32 } from './sm2-curve';
import { Sm2Error } from './sm2-error';

/** Length of an SM2 signature in JOSE form: r ‖ s, each 32 big-endian bytes (as ES256 in RFC 7518 §3.4). */
export const SM2_SIGNATURE_BYTES = 64;

/** r and s of a JOSE-form signature; refuses a wrong length and r or s outside [1, n-1] (GB/T 32918.2 §7.1 B1–B2). */
export function sm2SignatureParts(signature: Uint8Array): { r: bigint; s: bigint } {
  if (signature.length !== SM2_SIGNATURE_BYTES) {
    throw new Sm2Error('SM2_SIGNATURE_LENGTH', `signature: must be ${SM2_SIGNATURE_BYTES} bytes (r‖s), got ${signature.length}`);
  }
  const r = toBigInt(signature.subarray(0, 32));
  const s = toBigInt(signature.subarray(32));
  if (r === 0n || r >= SM2_N) throw new Sm2Error('SM2_SIGNATURE_RANGE', 'signature: r must be in [1, n-1]');
  if (s === 0n || s >= SM2_N) throw new Sm2Error('SM2_SIGNATURE_RANGE', 'signature: s must be in [1, n-1]');
  return { r, s };
}

function derInteger(v: Buffer): Buffer {
  let i = 0;
  while (i < v.length - 1 && v[i] === 0) i++;
  const body = v[i] & 0x80 ? Buffer.concat([Buffer.from([0]), v.subarray(i)]) : v.subarray(i);
  return Buffer.concat([Buffer.from([0x02, body.length]), body]);
}

/** JOSE form (r‖s) to the DER SEQUENCE { r INTEGER, s INTEGER } that OpenSSL reads (GM/T 0009 SM2Signature). */
export function sm2SignatureToDer(signature: Uint8Array): Buffer {
  sm2SignatureParts(signature);
  const sig = Buffer.from(signature);
  const body = Buffer.concat([derInteger(sig.subarray(0, 32)), derInteger(sig.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** DER SEQUENCE { r, s } (strict: minimal, positive, nothing trailing) to the JOSE form r‖s. */
export function sm2SignatureFromDer(der: Uint8Array): Buffer {
  const bad = (why: string) => new Sm2Error('SM2_SIGNATURE_DER', `signature (DER): ${why}`);
  const d = Buffer.from(der);
  if (d.length < 2 || d[0] !== 0x30 || d[1] & 0x80 || d[1] !== d.length - 2) throw bad('must be one SEQUENCE with a short-form length and nothing after it');
  const ints: Buffer[] = [];
  let at = 2;
  while (at < d.length) {
    if (ints.length === 2) throw bad('holds more than two INTEGERs');
    if (d[at] !== 0x02 || at + 1 >= d.length) throw bad('must hold INTEGERs only');
    const len = d[at + 1];
    const v = d.subarray(at + 2, at + 2 + len);
    if (len === 0 || len & 0x80 || v.length !== len) throw bad('has an INTEGER with a bad length');
    if (v[0] & 0x80) throw bad('has a negative INTEGER');
    if (len > 1 && v[0] === 0 && !(v[1] & 0x80)) throw bad('has an INTEGER that is not minimally encoded');
    ints.push(v);
    at += 2 + len;
  }
  if (ints.length !== 2) throw bad('must hold exactly two INTEGERs (r, s)');
  const [r, s] = ints.map(toBigInt);
  if (r >= 1n << 256n || s >= 1n << 256n) throw bad('r and s must fit in 32 bytes');
  const out = Buffer.concat([toBytes32(r), toBytes32(s)]);
  sm2SignatureParts(out);
  return out;
}
