#!/usr/bin/env node
'use strict';
// `npm run bench:sm2`: microseconds per SM2 sign and verify, Tongban's two implementations side by side
// in one process — the tongban-sm2 addon (native/sm2) and Node's OpenSSL (TONGBAN_SM2_NATIVE=off) —
// through the real entry points (Sm2SigningKey.sign, sm2Verify: SM3 of Z_A ‖ M included), next to
// Ed25519 and P-256 (ES256) from node:crypto. A 300-byte message (a JWS signing input's size).
// CPU µs per operation (process.cpuUsage) is the figure to compare when other work shares the
// machine; the rounds interleave the candidates so that load changes hit all of them alike.
// Env: BENCH_MS (milliseconds per candidate and round, default 500), BENCH_ROUNDS (default 4).
const crypto = require('node:crypto');
const os = require('node:os');
const path = require('node:path');
const { ROOT } = require('../lib/ts-libs');
const { timedLoop } = require('./measure');

const MS = Number(process.env.BENCH_MS || 500);
const ROUNDS = Number(process.env.BENCH_ROUNDS || 4);
const gm = require('@tongban/gm');
const { Sm2SigningKey } = require(path.join(ROOT, 'libs', 'keys', 'src', 'sm2-signing-key.ts'));

const { addon, error } = gm.sm2NativeLoadState();
if (!addon) {
  console.error(`bench:sm2: the tongban-sm2 addon is not loaded (${error}); run npm ci (or npm rebuild tongban-sm2)`);
  process.exit(1);
}
const message = crypto.randomBytes(300);
const sm2 = Sm2SigningKey.generate();
const as = (mode, fn) => () => {
  gm.setSm2NativeMode(mode);
  try {
    return fn();
  } finally {
    gm.setSm2NativeMode('auto');
  }
};
const sm2Sig = sm2.sign(message);
const ed = crypto.generateKeyPairSync('ed25519');
const edSig = crypto.sign(null, message, ed.privateKey);
const p256 = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p256Sig = crypto.sign('sha256', message, { key: p256.privateKey, dsaEncoding: 'ieee-p1363' });
const check = (ok, what) => {
  if (!ok) throw new Error(`bench:sm2: ${what} does not verify`);
};
check(as('off', () => gm.sm2Verify(sm2.publicKey, message, sm2Sig))(), 'a native SM2 signature under OpenSSL');
check(as('auto', () => gm.sm2Verify(sm2.publicKey, message, as('off', () => sm2.sign(message))()))(), 'an OpenSSL SM2 signature under the addon');

const candidates = [
  ['SM2 native', 'sign', as('auto', () => sm2.sign(message))],
  ['SM2 native', 'verify', as('auto', () => gm.sm2Verify(sm2.publicKey, message, sm2Sig))],
  ['SM2 OpenSSL', 'sign', as('off', () => sm2.sign(message))],
  ['SM2 OpenSSL', 'verify', as('off', () => gm.sm2Verify(sm2.publicKey, message, sm2Sig))],
  ['Ed25519', 'sign', () => crypto.sign(null, message, ed.privateKey)],
  ['Ed25519', 'verify', () => crypto.verify(null, message, ed.publicKey, edSig)],
  ['P-256 (ES256)', 'sign', () => crypto.sign('sha256', message, { key: p256.privateKey, dsaEncoding: 'ieee-p1363' })],
  ['P-256 (ES256)', 'verify', () => crypto.verify('sha256', message, { key: p256.publicKey, dsaEncoding: 'ieee-p1363' }, p256Sig)],
];
const totals = candidates.map(() => ({ n: 0, cpu: 0, wall: 0 }));
for (const [, , fn] of candidates) for (let i = 0; i < 50; i++) fn(); // warm-up, self tests, comb table
for (let round = 0; round < ROUNDS; round++) {
  candidates.forEach(([, , fn], i) => {
    const { n, wallUs, cpuUs } = timedLoop(fn, MS);
    totals[i].n += n;
    totals[i].wall += wallUs;
    totals[i].cpu += cpuUs;
  });
}

const load = os.loadavg()[0].toFixed(2);
console.log(`SM2 micro-benchmark — ${os.cpus()[0].model}, ${os.cpus().length} cores, load ${load}, Node ${process.version}, OpenSSL ${process.versions.openssl}`);
console.log(`300-byte message; ${ROUNDS} interleaved rounds of ${MS} ms per candidate\n`);
console.log(`${'candidate'.padEnd(16)}${'op'.padEnd(8)}${'CPU µs/op'.padStart(11)}${'wall µs/op'.padStart(12)}${'ops'.padStart(9)}`);
const cpuOf = {};
candidates.forEach(([name, op], i) => {
  const t = totals[i];
  cpuOf[`${name} ${op}`] = t.cpu / t.n;
  console.log(`${name.padEnd(16)}${op.padEnd(8)}${(t.cpu / t.n).toFixed(1).padStart(11)}${(t.wall / t.n).toFixed(1).padStart(12)}${String(t.n).padStart(9)}`);
});
const per = (name) => 3 * (cpuOf[`${name} sign`] + cpuOf[`${name} verify`]);
console.log(
  `\nOne verification through Tongban costs 3 signs + 3 verifies: SM2 native ${per('SM2 native').toFixed(0)} µs, SM2 OpenSSL ${per('SM2 OpenSSL').toFixed(0)} µs, Ed25519 ${per('Ed25519').toFixed(0)} µs (CPU).`,
);
