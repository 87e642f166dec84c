import { createECDH, randomBytes } from 'node:crypto';
import { SM2_N, Sm2PublicKey, sm2Implementation, sm2MessageDigest, sm2NativeLoadState, sm2Verify, setSm2NativeMode, toBigInt, toBytes32 } from '.';

// The tongban-sm2 addon (native/sm2) against OpenSSL: its scalar multiplication, its point additions
// (including the doubling, inverse and infinity cases), the GB/T 32918.5 Annex A signature, and the
// range refusals. npm ci builds the addon; without it these tests fail instead of passing vacuously.
const { addon, error } = sm2NativeLoadState();
const native = () => {
  if (!addon) throw new Error(`tongban-sm2 addon not loaded (${error}): run npm ci (or npm rebuild tongban-sm2)`);
  return addon;
};

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const N = SM2_N;
const mod = (a: bigint) => ((a % N) + N) % N;
function inv(a: bigint): bigint {
  let r = 1n;
  for (let b = mod(a), e = N - 2n; e > 0n; e >>= 1n, b = (b * b) % N) if (e & 1n) r = (r * b) % N;
  return r;
}
const b32 = (v: bigint) => toBytes32(mod(v));
/** k·G from OpenSSL (ECDH on the SM2 curve), 64 bytes x‖y. */
function opensslMulG(k: bigint): Buffer {
  const ecdh = createECDH('SM2');
  ecdh.setPrivateKey(toBytes32(k));
  return ecdh.getPublicKey().subarray(1);
}
const randomScalar = () => 1n + (toBigInt(randomBytes(40)) % (N - 1n));
const neg = (p: Buffer) => {
  const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
  return Buffer.concat([p.subarray(0, 32), toBytes32(P - toBigInt(p.subarray(32)))]);
};

// GB/T 32918.5-2017 Annex A (as in sm2-annex-a.spec.ts).
const A = {
  d: hex('3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8'),
  x: hex('09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020'),
  y: hex('CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13'),
  e: hex('F0B43E94 BA45ACCA ACE692ED 534382EB 17E6AB5A 19CE7B31 F4486FDF C0D28640'),
  k: hex('59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21'),
  r: hex('F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3'),
  s: hex('B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA'),
};

describe('tongban-sm2 addon (native SM2)', () => {
  it('is loaded and is the active implementation unless switched off', () => {
    native();
    expect(sm2Implementation()).toBe('native');
    setSm2NativeMode('off');
    expect(sm2Implementation()).toBe('openssl');
    setSm2NativeMode('auto');
    expect(sm2Implementation()).toBe('native');
  });

  it('reproduces the GB/T 32918.5 Annex A signature bit for bit with the published k, and verifies it', () => {
    const a = native();
    const sig = a.sign(a.privateKey(A.d), A.e, A.k);
    expect(sig).toEqual(Buffer.concat([A.r, A.s]));
    const pub = a.publicKey(A.x, A.y)!;
    expect(a.verify(pub, A.e, sig!)).toBe(true);
    expect(sm2MessageDigest(Sm2PublicKey.fromPoint({ x: A.x, y: A.y }).za, Buffer.from('message digest'))).toEqual(A.e);
  });

  it('k·G (constant-time comb) equals OpenSSL for 500 random k and the edge scalars', () => {
    const a = native();
    const ks = [1n, 2n, 15n, 16n, 17n, (1n << 252n) - 1n, 1n << 252n, N - 2n, N - 1n, ...Array.from({ length: 500 }, randomScalar)];
    for (const k of ks) expect(a.__test.mulG(toBytes32(k))?.toString('hex')).toBe(opensslMulG(k).toString('hex'));
    expect(a.__test.mulG(toBytes32(N - 1n))).toEqual(neg(opensslMulG(1n)));
    // Outside [1, n-1]: no point (sign draws another k).
    for (const k of [0n, N, N + 1n, (1n << 256n) - 1n]) expect(a.__test.mulG(toBytes32(k))).toBeNull();
  });

  it('s·G + t·P (verification combs) equals OpenSSL, with zero scalars and per-key tables', () => {
    const a = native();
    for (let i = 0; i < 100; i++) {
      const d = randomScalar();
      const s = randomScalar();
      const t = randomScalar();
      const pub = opensslMulG(d);
      const key = a.publicKey(pub.subarray(0, 32), pub.subarray(32))!;
      expect(a.__test.combine(key, b32(s), b32(t))).toEqual(opensslMulG(mod(s + t * d)));
      expect(a.__test.combine(key, b32(0n), b32(t))).toEqual(opensslMulG(mod(t * d)));
      expect(a.__test.combine(key, b32(s), b32(0n))).toEqual(opensslMulG(s));
    }
    const pub = opensslMulG(7n);
    expect(a.__test.combine(a.publicKey(pub.subarray(0, 32), pub.subarray(32))!, b32(0n), b32(0n))).toBeNull();
  });

  it('s·G + t·P where the two halves are equal (doubling) or opposite (infinity)', () => {
    const a = native();
    for (let i = 0; i < 20; i++) {
      const d = randomScalar();
      const t = randomScalar();
      const pub = opensslMulG(d);
      const key = a.publicKey(pub.subarray(0, 32), pub.subarray(32))!;
      expect(a.__test.combine(key, b32(t * d), b32(t))).toEqual(opensslMulG(mod(2n * t * d)));
      expect(a.__test.combine(key, b32(-t * d), b32(t))).toBeNull();
    }
  });

  it('verification through the doubling and infinity cases: a crafted valid one holds, the infinite sum fails', () => {
    const a = native();
    for (let i = 0; i < 20; i++) {
      const d = randomScalar();
      const pub = opensslMulG(d);
      const key = a.publicKey(pub.subarray(0, 32), pub.subarray(32))!;
      const r = randomScalar();
      // t = r + s. Equal halves: s = t·d  <=>  s = r·d / (1 - d); the sum is 2s·G.
      const s2 = mod(r * d * inv(1n - d));
      const x1 = toBigInt(opensslMulG(mod(2n * s2)).subarray(0, 32));
      const e = b32(r - x1);
      expect(a.verify(key, e, Buffer.concat([b32(r), b32(s2)]))).toBe(true);
      expect(a.verify(key, b32(r - x1 + 1n), Buffer.concat([b32(r), b32(s2)]))).toBe(false);
      // Opposite halves: s = -t·d  <=>  s = -r·d / (1 + d); the sum is the point at infinity.
      const s0 = mod(-r * d * inv(1n + d));
      for (const ev of [0n, 1n, r, r - 1n]) expect(a.verify(key, b32(ev), Buffer.concat([b32(r), b32(s0)]))).toBe(false);
    }
  });

  it('point additions: P + P, P + (-P), infinity on either side, Q with Z ≠ 1', () => {
    const a = native();
    for (let i = 0; i < 50; i++) {
      const u = randomScalar();
      const v = randomScalar();
      const P = opensslMulG(u);
      const Q = opensslMulG(v);
      for (const add of [a.__test.add, a.__test.maddChecked]) {
        expect(add(P, Q)).toEqual(opensslMulG(mod(u + v)));
        expect(add(P, P)).toEqual(opensslMulG(mod(2n * u)));
        expect(add(P, neg(P))).toBeNull();
        expect(add(null, Q)).toEqual(Q);
      }
      expect(a.__test.add(P, null)).toEqual(P);
    }
    expect(a.__test.add(null, null)).toBeNull();
  });

  it('refuses points off the curve, coordinates not below p and the identity', () => {
    const a = native();
    const G = opensslMulG(1n);
    expect(a.publicKey(G.subarray(0, 32), G.subarray(32))).not.toBeNull();
    const y1 = Buffer.from(G.subarray(32));
    y1[31] ^= 1;
    expect(a.publicKey(G.subarray(0, 32), y1)).toBeNull();
    expect(a.publicKey(Buffer.alloc(32), Buffer.alloc(32))).toBeNull();
    expect(a.publicKey(Buffer.alloc(32, 0xff), G.subarray(32))).toBeNull();
    // (Errors from the addon belong to Node's realm, not jest's: matched by message.)
    expect(() => a.publicKey(Buffer.alloc(31), G.subarray(32))).toThrow(/x must be a Uint8Array of 32 bytes/);
    expect(() => a.verify({} as never, A.e, Buffer.alloc(64))).toThrow(/key must be a handle from this addon/);
    expect(() => a.verify(a.privateKey(A.d) as never, A.e, Buffer.alloc(64))).toThrow(/key must be a handle from this addon/);
    expect(() => a.privateKey(b32(0n))).toThrow(/d must be in \[1, n-2\]/);
    expect(() => a.privateKey(toBytes32(N - 1n))).toThrow(/d must be in \[1, n-2\]/);
    expect(a.privateKey(toBytes32(N - 2n))).toBeDefined();
  });

  it('every single-bit change of e, r or s fails; r or s = 0, = n, > n fails', () => {
    const a = native();
    const pub = a.publicKey(A.x, A.y)!;
    const sig = Buffer.concat([A.r, A.s]);
    for (let bit = 0; bit < 256; bit++) {
      const e = Buffer.from(A.e);
      e[bit >> 3] ^= 1 << (bit & 7);
      expect(a.verify(pub, e, sig)).toBe(false);
    }
    for (let bit = 0; bit < 512; bit++) {
      const s = Buffer.from(sig);
      s[bit >> 3] ^= 1 << (bit & 7);
      expect(a.verify(pub, A.e, s)).toBe(false);
    }
    const key = Sm2PublicKey.fromPoint({ x: A.x, y: A.y });
    for (const bad of [0n, N, N + 1n, (1n << 256n) - 1n]) {
      for (const s of [Buffer.concat([toBytes32(bad), A.s]), Buffer.concat([A.r, toBytes32(bad)])]) {
        expect(a.verify(pub, A.e, s)).toBe(false);
        expect(() => sm2Verify(key, Buffer.from('message digest'), s)).toThrow(expect.objectContaining({ code: 'SM2_SIGNATURE_RANGE' }));
      }
    }
    // r + s = n (t = 0) is refused too.
    expect(a.verify(pub, A.e, Buffer.concat([A.r, toBytes32(N - toBigInt(A.r))]))).toBe(false);
    expect(a.verify(pub, A.e, sig)).toBe(true);
  });
});
