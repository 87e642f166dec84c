#!/usr/bin/env node
'use strict';
// `npm start`: installs and builds when needed, then runs a local federation of three gateways
// (北京 110000, 河北 130000, 广东 440000), each its own process with its own SQLite file, keys and
// demo licences, each trusting the others, talking gRPC over mutual TLS with certificates from a
// local development CA (.federation/tls). 北京 answers from the STAND-IN licence library
// (apps/licence-library, its own process on port 8700) instead of an imported registry
// (docs/licence-library.md). Writes .federation/local.json; Ctrl-C stops all.
const { execSync } = require('node:child_process');
const { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, readdirSync } = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const STATE = path.join(ROOT, '.federation');
const CODES = (process.env.FEDERATION_CODES || '110000,130000,440000').split(',');
// A mixed federation from the first minute: 河北 signs with 国密 SM2 (SM2SM3), the others with Ed25519.
// FEDERATION_SIGNING_ALGS=code=alg,… overrides (e.g. 130000=EdDSA,440000=ES256).
const SIGNING_ALGS = Object.fromEntries(
  (process.env.FEDERATION_SIGNING_ALGS || '130000=SM2SM3')
    .split(',')
    .filter(Boolean)
    .map((p) => p.split('=').map((v) => v.trim())),
);

/** The settings of a gateway signing with `alg`: an SM2 gateway also digests its payloads with SM3 (国密 throughout). */
// The province whose gateway reads the stand-in licence library (TONGBAN_LICENCE_SOURCE=library);
// FEDERATION_LIBRARY_CODE=none runs every province from its imported registry.
const LIBRARY_CODE = process.env.FEDERATION_LIBRARY_CODE || '110000';
const LIBRARY_PORT = Number(process.env.FEDERATION_LIBRARY_PORT || 8700);

// The local systems of this one-machine federation listen on loopback (the tour's webhook receiver):
// allowed here explicitly, as a gateway refuses loopback webhook URLs by default.
const LOCAL_WEBHOOKS = { TONGBAN_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8' };

function signingEnv(alg) {
  if (!alg) return {};
  return alg === 'SM2SM3' ? { TONGBAN_SIGNING_ALG: alg, TONGBAN_ENVELOPE_DIGEST: 'SM3' } : { TONGBAN_SIGNING_ALG: alg };
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function prepare() {
  if (!existsSync(path.join(ROOT, 'node_modules', '@nestjs', 'core'))) {
    console.log('installing dependencies (npm ci)…');
    execSync('npm ci', { cwd: ROOT, stdio: 'inherit' });
  }
  const built = ['gateway', 'cli', 'licence-library'].map((a) => path.join(ROOT, 'dist', 'apps', a, 'main.js'));
  const sources = Math.max(newestMtime(path.join(ROOT, 'apps')), newestMtime(path.join(ROOT, 'libs')));
  if (built.some((f) => !existsSync(f) || statSync(f).mtimeMs < sources)) {
    console.log('building (npm run build)…');
    execSync('npm run build', { cwd: ROOT, stdio: 'inherit' });
  }
}

async function main() {
  prepare();
  const fed = require('./lib/federation');
  const lib = require('./lib/licence-library');
  mkdirSync(STATE, { recursive: true });
  // Secrets persist across runs: the key-encryption secret must, or the stored keys cannot be opened.
  const secretsFile = path.join(STATE, 'secrets.json');
  const secrets = existsSync(secretsFile) ? JSON.parse(readFileSync(secretsFile, 'utf8')) : {};
  for (const code of CODES) secrets[code] = secrets[code] || fed.newSecrets();
  secrets.pki = secrets.pki || fed.newPkiSecrets();
  secrets.library = secrets.library || lib.newLibraryTokens();
  writeFileSync(secretsFile, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  // Mutual TLS: a local CA (made once) and a certificate per gateway (renewed near expiry).
  const tls = fed.localPki(path.join(STATE, 'tls'), CODES, secrets.pki);
  console.log(`mutual TLS: local CA ${path.join('.federation', 'tls', 'ca.pem')}, one certificate per gateway`);

  // The stand-in library serves the library province's demo licences and keeps its changes in .federation/.
  const library = CODES.includes(LIBRARY_CODE)
    ? await lib.startLicenceLibrary({
        ...secrets.library,
        port: LIBRARY_PORT,
        seed: path.join(ROOT, 'deploy', 'demo', `licences-${LIBRARY_CODE}.json`),
        state: path.join(STATE, `licence-library-${LIBRARY_CODE}.json`),
        echo: !!process.env.FEDERATION_VERBOSE,
      })
    : null;
  if (library) console.log(`${LIBRARY_CODE}: stand-in licence library up — ${library.url} (its gateway answers from it, not from a registry)`);

  const options = CODES.map((code) => ({
    code,
    dir: path.join(STATE, 'data'),
    secrets: secrets[code],
    tls: tls[code],
    env: { ...signingEnv(SIGNING_ALGS[code]), ...(library && code === LIBRARY_CODE ? lib.librarySourceEnv(library) : {}), ...LOCAL_WEBHOOKS },
  }));
  for (const o of options) {
    const file = path.join(ROOT, 'deploy', 'demo', `licences-${o.code}.json`);
    // The library province's registry stays empty: every answer it gives comes from the library.
    if (!existsSync(file) || (library && o.code === LIBRARY_CODE)) continue;
    const r = await fed.runCli(o, ['licences', 'import', file]);
    if (r.code !== 0) throw new Error(`importing demo licences for ${o.code} failed:\n${r.stderr}`);
    console.log(`${o.code}: demo licences ${r.stdout.trim()}`);
  }
  const gateways = [];
  const stopAll = async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    if (library) await library.stop();
  };
  process.on('SIGINT', () => {
    console.log('\nstopping…');
    stopAll().then(() => process.exit(0));
  });
  process.on('SIGTERM', () => stopAll().then(() => process.exit(0)));
  for (const o of options) {
    const gw = await fed.startGateway({ ...o, echo: !!process.env.FEDERATION_VERBOSE });
    gateways.push(gw);
    gw.exited.then(({ code, signal }) => console.log(`gateway ${o.code} exited (${code ?? signal})\n${gw.output().slice(-3000)}`));
    console.log(`${o.code}: gateway up — HTTP ${gw.baseUrl}, gRPC ${gw.grpcEndpoint}`);
  }
  await fed.connectAll(gateways);
  for (const g of gateways) {
    const keys = await fetch(`${g.baseUrl}/admin/keys`, { headers: { authorization: `Bearer ${g.adminToken}` } }).then((r) => r.json());
    const active = (keys.keys || []).find((k) => k.status === 'ACTIVE');
    const wanted = SIGNING_ALGS[g.code] || 'EdDSA';
    console.log(`${g.code}: signs with ${active ? active.alg : '?'}`);
    // The setting applies to a new key only: a key made by an earlier run keeps its algorithm until a rotation.
    if (active && active.alg !== wanted) {
      console.log(
        `  (${g.code} is set to ${wanted} but its key was made earlier; switch with: curl -s -X POST ${g.baseUrl}/admin/keys/rotate -H 'authorization: Bearer ${g.adminToken}' -H 'content-type: application/json' -d '{"alg":"${wanted}","overlapHours":0.01}')`,
      );
    }
  }
  const description = {
    about: 'Local Tongban federation started by `npm start`. Tokens are secrets for this machine only.',
    startedAt: new Date().toISOString(),
    gateways: gateways.map((g) => ({
      code: g.code,
      httpUrl: g.baseUrl,
      grpcUrl: `grpcs://${g.grpcEndpoint}`,
      tls: { certificate: g.options.tls.certFile, key: g.options.tls.keyFile, ca: g.options.tls.caFile },
      apiToken: g.apiToken,
      adminToken: g.adminToken,
      database: path.join(STATE, 'data', `tongban-${g.code}.sqlite`),
      pid: g.proc.pid,
    })),
    licenceLibrary: library
      ? { about: 'STAND-IN for a province licence library (apps/licence-library)', province: LIBRARY_CODE, url: library.url, adminToken: library.adminToken, pid: library.proc.pid }
      : null,
  };
  writeFileSync(path.join(STATE, 'local.json'), JSON.stringify(description, null, 2), { mode: 0o600 });
  printTour(gateways, library);
}

function printTour(gateways, library) {
  const gd = gateways.find((g) => g.code === '440000') || gateways[gateways.length - 1];
  const bj = gateways.find((g) => g.code === '110000') || gateways[0];
  const demo = JSON.parse(readFileSync(path.join(ROOT, 'deploy', 'demo', `licences-${bj.code}.json`), 'utf8'));
  const long = demo.filter((l) => l.status === 'VALID' && (!l.validUntil || l.validUntil > '2027'));
  const valid = long[0] || demo[0];
  console.log(`
Federation ready: ${gateways.map((g) => g.code).join(', ')} trust each other. Description: .federation/local.json

Verify a ${bj.code}-issued licence from ${gd.code} (the answer is signed by ${bj.code}):
  curl -s -X POST ${gd.baseUrl}/v1/verifications \\
    -H 'authorization: Bearer ${gd.apiToken}' -H 'content-type: application/json' \\
    -d '${verificationBody(valid)}'

Check the returned attestation offline (paste it):
  curl -s -X POST ${gd.baseUrl}/v1/attestations/verify \\
    -H 'authorization: Bearer ${gd.apiToken}' -H 'content-type: application/json' \\
    -d '{"attestation":"<paste>"}'

Mixed algorithms: 河北 (130000) signs with 国密 SM2 (alg SM2SM3) and digests with SM3 ("dal":"SM3"), the others with Ed25519 (EdDSA):
  curl -s ${(gateways.find((g) => g.code === '130000') || gd).baseUrl}/.well-known/jwks.json

Peers as ${gd.code} sees them:
  curl -s ${gd.baseUrl}/admin/peers -H 'authorization: Bearer ${gd.adminToken}'
${
  library
    ? libraryTour(
        library,
        gateways.find((g) => g.code === LIBRARY_CODE),
        gd,
        long[1] || valid,
      )
    : ''
}
More demo licences (every status): deploy/demo/README.md. Ctrl-C stops all gateways${library ? ' and the library' : ''}.`);
}

function verificationBody(l, extra = {}) {
  const holder = l.holderCodeType === '111' ? { name: l.holderName, idNumber: l.holderCode } : { name: l.holderName, creditCode: l.holderCode };
  return JSON.stringify({ licenceType: l.typeCode, licenceId: l.licenceId, holder, purpose: '异地办理业务核验', ...extra });
}

/** The library part of the tour: a status change made IN the library reaches a verifier's webhook. */
function libraryTour(library, issuer, asker, l) {
  const status = (zzzt, reason) =>
    `curl -s -X POST ${library.url}/admin/zz/${encodeURIComponent(l.licenceId)}/status -H 'authorization: Bearer ${library.adminToken}' -H 'content-type: application/json' -d '{"ZZZT":"${zzzt}","BGYY":"${reason}"}'`;
  return `
${issuer.code} answers from the stand-in licence library at ${library.url} (docs/licence-library.md), not from a registry.
A status change made in the library reaches a verifier that asked to be told (notify: true):
  # 1. a local system of ${asker.code} that receives webhooks (prints each one), and its registration
  node -e "require('http').createServer((q,s)=>{q.pipe(process.stdout);q.on('end',()=>{console.log();s.end()})}).listen(8900)" &
  curl -s -X POST ${asker.baseUrl}/v1/webhooks -H 'authorization: Bearer ${asker.apiToken}' -H 'content-type: application/json' \\
    -d '{"url":"http://127.0.0.1:8900/","events":["licence.status.changed"]}'
  # 2. ${asker.code} verifies a ${issuer.code} licence and asks to be told of changes
  curl -s -X POST ${asker.baseUrl}/v1/verifications -H 'authorization: Bearer ${asker.apiToken}' -H 'content-type: application/json' \\
    -d '${verificationBody(l, { notify: true })}'
  # 3. the library's administrator suspends it (中止); within seconds the receiver prints the signed licence.status.changed
  ${status('中止', '年检未通过')}
  # 4. and reinstates it (有效): a second notice, version 2
  ${status('有效', '年检已补正')}
`;
}

main().catch((e) => {
  console.error(`npm start failed: ${e.stack || e}`);
  process.exit(1);
});
