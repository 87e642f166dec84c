#!/usr/bin/env node
'use strict';
// Layer rules from docs/conventions: apps are wiring (no typeorm, no jose); only libs/keys may
// touch private keys (createPrivateKey, generateKeyPair*, crypto sign); testkit stays out of
// production code; nothing but libs/config reads process.env; transactions open only through
// runInTransaction (libs/persistence); no async_hooks (AsyncLocalStorage) outside two allowed files
// (and the AsyncResource#bind replacement of libs/common, which enters no store).
const { readFileSync, readdirSync, statSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const walk = (dir) =>
  readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
const isTest = (rel) => /\.(spec|integration-spec|e2e-spec)\.ts$/.test(rel);
// Every rule binds tests too unless it says `tests: false`: tests make keys and use the testkit,
// but a test that opens its own transaction would test a path production code cannot take.
const rules = [
  { where: /^apps\//, forbid: /from '(typeorm|jose)'/, why: 'apps are wiring: use a lib instead of typeorm/jose' },
  // libs/directory/src/directory-signer.ts handles the national trust anchor's key: an offline key
  // used by `tongban directory keygen|sign` on an administrator's machine, never stored by a gateway.
  // libs/tls: pki.ts is the offline CA of `tongban tls ca|issue`; tls-material.ts decrypts the TLS
  // key once at start to hand it to the TLS stack (it never leaves the process).
  {
    where: /^(apps|libs\/(?!keys\/|testkit\/|directory\/src\/directory-signer\.ts$|tls\/src\/(pki|tls-material)\.ts$))/,
    forbid: /\b(createPrivateKey|generateKeyPair(Sync)?)\b|\bsign as cryptoSign\b/,
    why: 'only libs/keys may touch private keys',
    tests: false,
  },
  // One verification entry per JWS for every algorithm (verifyJwsSignature in libs/gm, which
  // dispatches on alg; jose knows no SM2): a verifier written elsewhere would miss SM2SM3 or the policy.
  {
    where: /^(apps|libs\/(?!gm\/))/,
    forbid: /\b(compactVerify|jwtVerify|flattenedVerify|generalVerify|createLocalJWKSet|createRemoteJWKSet|importJWK)\b|\bverify as cryptoVerify\b/,
    why: 'verify JWS signatures through verifyJwsSignature / verifyJwsWithKeySet of @tongban/gm',
    tests: false,
  },
  // The SM2 addon (native/sm2) holds private-key material ((1 + d)^-1 in its handles): only the keys lib
  // signs with it, and libs/gm, which loads it and verifies with it.
  {
    where: /^(apps|libs\/(?!gm\/|keys\/))/,
    forbid: /\bsm2NativeAddon\b|\bsm2NativeLoadState\b|(from|require\()\s*'[^']*(tongban-sm2|native\/sm2)'/,
    why: 'only libs/gm and libs/keys use the SM2 addon',
    tests: false,
  },
  { where: /^(apps|libs\/(?!testkit\/))/, forbid: /from '@tongban\/testkit'/, why: 'testkit is for tests only', tests: false },
  { where: /^(apps|libs\/(?!config\/|testkit\/))/, forbid: /process\.env\b/, why: 'only libs/config reads process.env' },
  // One transaction entry point (runInTransaction): it owns the SQLite writer, after-commit work
  // and the retry rules; a transaction opened around it would bypass all three.
  { where: /^(apps|libs\/(?!persistence\/))/, forbid: /\.(transaction|startTransaction)\(/, why: 'open transactions with runInTransaction from @tongban/persistence' },
  // No async context on the request path: in Node 20 an AsyncLocalStorage entered once installs
  // promise hooks for the whole process (4–5 % of CPU per verification on each gateway, issue 10).
  // Pass what a request needs (its correlation id) explicitly. The two allowed uses are off while a
  // gateway serves verifications: confirmed-writes.ts (only while a counted request runs, never for
  // a verification) and sqlite-writer.ts (self-wait diagnosis, off unless a test switches it on).
  // libs/common/src/async-resource-bind.ts enters no store and installs no hook: it only replaces
  // Node 20's costly AsyncResource#bind, which Fastify and http2 call per request anyway.
  {
    where: /^(apps|libs\/(?!persistence\/src\/(confirmed-writes|sqlite-writer)\.ts$|common\/src\/async-resource-bind\.ts$))/,
    forbid: /from ['"](node:)?async_hooks['"]|require\(['"](node:)?async_hooks['"]\)/,
    why: 'no AsyncLocalStorage or async hooks in the gateway: pass request context explicitly (libs/observability/README.md)',
    tests: false,
  },
];
const problems = [];
for (const file of [...walk(path.join(ROOT, 'apps')), ...walk(path.join(ROOT, 'libs'))]) {
  const rel = path.relative(ROOT, file);
  const text = readFileSync(file, 'utf8');
  for (const r of rules) if (r.where.test(rel) && (r.tests !== false || !isTest(rel)) && r.forbid.test(text)) problems.push(`${rel}: ${r.why}`);
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('layers: ok');
