#!/usr/bin/env node
'use strict';
// SM2-with-SM3 candidates, measured side by side in one process (issue 11): sign/s and verify/s of a
// 300-byte JWS-sized message, wall clock and CPU microseconds per operation (process.cpuUsage: far
// less sensitive than ops/s when other work shares the machine), next to the bare baselines Ed25519
// and ES256 from node:crypto, and node:crypto's one-shot SM2 (OpenSSL's own, with an EMPTY signer
// identity: not interoperable, shown as the ceiling of OpenSSL's SM2 code).
//
//   tongban        libs/gm + libs/keys as built here (loaded through @swc/core): the tongban-sm2 addon
//                  when built (else OpenSSL's SM2 via the streaming Sign/Verify API with Z_A fed in
//                  front of the message); `npm run bench:sm2` compares the two
//   sm-crypto      sm-crypto 0.5.8 (jsbn big integers)
//   sm-crypto-v2   sm-crypto-v2 1.15.1 (@noble/curves inside)
//   noble          @noble/curves 1.9.7 Weierstrass arithmetic on the SM2 curve with the GB/T 32918.2
//                  equations written here; verify with sG + tP by multiplyAndAddUnsafe
//
// The third-party candidates are not project dependencies. Install them aside and point NODE_PATH
// at them; the script reports a candidate it cannot load and goes on:
//   npm install --prefix /tmp/sm2c sm-crypto@0.5.8 sm-crypto-v2@1.15.1 @noble/curves@1.9.7
//   NODE_PATH=/tmp/sm2c/node_modules node scripts/bench/sm2-candidates.js
// Env: BENCH_MS (milliseconds per measurement, default 2000). Every candidate's signatures are also
// checked against Tongban's verify (default identity): the "interop" column.
const crypto = require('node:crypto');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const MS = Number(process.env.BENCH_MS || 2000);

// Load the TypeScript libs as they are (no build step).
require('../lib/ts-libs');
const { timedLoop } = require('./measure');
const gm = require('@tongban/gm');
const { Sm2SigningKey } = require(path.join(ROOT, 'libs', 'keys', 'src', 'sm2-signing-key.ts'));

function measure(fn) {
  for (let i = 0; i < 20; i++) fn(); // warm-up
  const { n, wallUs, cpuUs } = timedLoop(fn, MS);
  return { perS: n / (wallUs / 1e6), cpuUs: cpuUs / n };
}

const message = Buffer.from('eyJhbGciOiJTTTJTTTMiLCJraWQiOiJ4In0.'.padEnd(300, 'A'));
const tongbanVerifies = (pub, sig) => {
  try {
    return gm.sm2Verify(pub, message, sig);
  } catch {
    return false;
  }
};

const candidates = [];
const add = (name, make) => {
  try {
    candidates.push({ name, ...make() });
  } catch (e) {
    candidates.push({ name, error: e.code === 'MODULE_NOT_FOUND' ? 'not installed (see the header)' : e.message });
  }
};

add('Ed25519 (node:crypto, baseline)', () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const sig = crypto.sign(null, message, privateKey);
  return { sign: () => crypto.sign(null, message, privateKey), verify: () => crypto.verify(null, message, publicKey, sig) };
});
add('ES256 (node:crypto, baseline)', () => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const sig = crypto.sign('sha256', message, privateKey);
  return { sign: () => crypto.sign('sha256', message, privateKey), verify: () => crypto.verify('sha256', message, publicKey, sig) };
});
add('SM2 one-shot crypto.sign (empty identity: NOT interoperable)', () => {
  const key = Sm2SigningKey.generate();
  const privateKey = crypto.createPrivateKey({ key: key.pkcs8(), format: 'der', type: 'pkcs8' });
  const publicKey = key.publicKey.keyObject;
  const sig = crypto.sign('sm3', message, privateKey);
  const interop = tongbanVerifies(key.publicKey, gm.sm2SignatureFromDer(sig));
  return { interop, sign: () => crypto.sign('sm3', message, privateKey), verify: () => crypto.verify('sm3', message, publicKey, sig) };
});
add(`tongban (libs/gm, libs/keys: ${gm.sm2Implementation() === 'native' ? 'tongban-sm2 addon' : 'OpenSSL, streaming, Z_A in front'})`, () => {
  const key = Sm2SigningKey.generate();
  const sig = key.sign(message);
  return { interop: tongbanVerifies(key.publicKey, sig), sign: () => key.sign(message), verify: () => gm.sm2Verify(key.publicKey, message, sig) };
});
add('sm-crypto 0.5.8', () => {
  const { sm2 } = require('sm-crypto');
  const kp = sm2.generateKeyPairHex();
  const opts = { hash: true, publicKey: kp.publicKey };
  const sig = sm2.doSignature(message.toString('latin1'), kp.privateKey, opts);
  const pub = gm.Sm2PublicKey.fromPoint({ x: Buffer.from(kp.publicKey.slice(2, 66), 'hex'), y: Buffer.from(kp.publicKey.slice(66), 'hex') });
  const msg = message.toString('latin1');
  return {
    interop: tongbanVerifies(pub, Buffer.from(sig, 'hex')),
    sign: () => sm2.doSignature(msg, kp.privateKey, opts),
    verify: () => sm2.doVerifySignature(msg, sig, kp.publicKey, { hash: true }),
  };
});
add('sm-crypto-v2 1.15.1', () => {
  const { sm2 } = require('sm-crypto-v2');
  const kp = sm2.generateKeyPairHex();
  const msg = new Uint8Array(message);
  const sig = sm2.doSignature(msg, kp.privateKey, { hash: true, publicKey: kp.publicKey });
  const pub = gm.Sm2PublicKey.fromPoint({ x: Buffer.from(kp.publicKey.slice(2, 66), 'hex'), y: Buffer.from(kp.publicKey.slice(66), 'hex') });
  return {
    interop: tongbanVerifies(pub, Buffer.from(sig, 'hex')),
    sign: () => sm2.doSignature(msg, kp.privateKey, { hash: true, publicKey: kp.publicKey }),
    verify: () => sm2.doVerifySignature(msg, sig, kp.publicKey, { hash: true }),
  };
});
add('@noble/curves 1.9.7 arithmetic + GB/T 32918.2 equations', () => {
  const { weierstrassPoints } = require('@noble/curves/abstract/weierstrass');
  const { Field, invert } = require('@noble/curves/abstract/modular');
  const N = gm.SM2_N;
  const Point = weierstrassPoints({ a: gm.SM2_A, b: gm.SM2_B, Fp: Field(gm.SM2_P), n: N, Gx: gm.SM2_GX, Gy: gm.SM2_GY, h: 1n }).ProjectivePoint;
  const dBytes = crypto.randomBytes(32);
  const d = (gm.toBigInt(dBytes) % (N - 2n)) + 1n;
  const P = Point.BASE.multiply(d).toAffine();
  const pub = gm.Sm2PublicKey.fromPoint({ x: gm.toBytes32(P.x), y: gm.toBytes32(P.y) });
  const PP = Point.fromAffine(P);
  const inv1d = invert(1n + d, N);
  const sign = () => {
    const e = gm.toBigInt(gm.sm2MessageDigest(pub.za, message));
    for (;;) {
      const k = (gm.toBigInt(crypto.randomBytes(32)) % (N - 1n)) + 1n;
      const r = (e + Point.BASE.multiply(k).toAffine().x) % N;
      if (r === 0n || r + k === N) continue;
      const s = (inv1d * (((k - r * d) % N) + N)) % N;
      if (s !== 0n) return Buffer.concat([gm.toBytes32(r), gm.toBytes32(s)]);
    }
  };
  const sig = sign();
  const verify = () => {
    const { r, s } = gm.sm2SignatureParts(sig);
    const t = (r + s) % N;
    if (t === 0n) return false;
    const e = gm.toBigInt(gm.sm2MessageDigest(pub.za, message));
    const X = Point.BASE.multiplyAndAddUnsafe(PP, s, t);
    return X !== undefined && (e + X.toAffine().x) % N === r;
  };
  if (!verify()) throw new Error('noble candidate does not verify its own signature');
  return { interop: tongbanVerifies(pub, sig), sign, verify };
});

console.log(`SM2 candidates — ${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}, OpenSSL ${process.versions.openssl}`);
console.log(
  `load average at start: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} (other work on the machine skews ops/s; CPU µs/op much less)`,
);
console.log(`${MS} ms per measurement, message ${message.length} bytes\n`);
const rows = [];
for (const c of candidates) {
  if (c.error) {
    rows.push({ candidate: c.name, note: c.error });
    continue;
  }
  const s = measure(c.sign);
  const v = measure(c.verify);
  rows.push({
    candidate: c.name,
    'sign/s': Math.round(s.perS),
    'sign CPU µs': Math.round(s.cpuUs),
    'verify/s': Math.round(v.perS),
    'verify CPU µs': Math.round(v.cpuUs),
    interop: c.interop === undefined ? '—' : c.interop ? 'yes' : 'NO',
  });
}
console.table(rows);
console.log(
  `load average at end: ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}`,
);
