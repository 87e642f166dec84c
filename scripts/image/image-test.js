#!/usr/bin/env node
'use strict';
// `npm run image:test` (after `npm run image:build`): the three-province federation from the image,
// with podman (deploy/podman/containers.conf). 北京 110000 and 河北 130000 (signing SM2SM3) on SQLite
// volumes, 广东 440000 on this machine's PostgreSQL (IMAGE_TEST_PG_URL, default
// postgres://postgres@127.0.0.1:5432/test, in a schema of its own dropped at the end). Host
// networking; mutual TLS from `tongban tls` run in the image. Runs the README's verification and
// case walkthroughs, then checks each container: non-root, read-only root filesystem, healthcheck,
// and that SIGTERM drains (in-flight requests complete, exit 0, within the stop timeout).
// Prints the image size and start-up times. Too slow for CI; docs/operations.md §15.1.
// With --compose: deploy/compose.yaml run with podman-compose instead (compose-test.js, §15.2).
// Every container, volume, schema and file it made is removed on exit, on failure or Ctrl-C.
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const fed = require('../lib/federation');
const { withPg } = require('../lib/pg');
const { freePort } = require('../bench/measure');
const pm = require('./podman');
const { expect, demoRequest, verificationWalkthrough, caseWalkthrough } = require('./walkthroughs');
const { drainCheck } = require('./drain-check');

const PG_URL = process.env.IMAGE_TEST_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const RUN = `${process.pid}-${randomBytes(2).toString('hex')}`;
const SCHEMA = `image_test_${RUN.replace(/-/g, '_')}`;
const STOP_TIMEOUT_S = 30;
const GRACE_MS = 3000;
const PROVINCES = [
  { code: '110000', db: 'sqlite' },
  { code: '130000', db: 'sqlite', env: { TONGBAN_SIGNING_ALG: 'SM2SM3' } },
  { code: '440000', db: 'postgres' },
];
let work; // made by main()
let schemaMade = false;

let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await pm.cleanup();
    if (schemaMade) await withPg(PG_URL, (c) => c.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`)).catch((e) => console.error(`cleanup: drop schema ${SCHEMA}: ${e.message}`));
    if (work) rmSync(work, { recursive: true, force: true });
  })();
  return cleaning;
}

const ms = (t0) => Date.now() - t0;
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

/** The container flags every gateway and CLI run of province `p` shares. */
function commonArgs(p) {
  return [
    '--network',
    'host',
    '--read-only',
    '--tmpfs',
    '/tmp:rw,size=16m,mode=1777',
    '--env-file',
    p.envFile,
    '-v',
    `${p.audit}:/var/lib/tongban/audit`,
    '-v',
    `${p.data}:/var/lib/tongban/data`,
    '-v',
    `${work}/tls:/etc/tongban/tls:ro`,
  ];
}

async function makeTls(pki) {
  const tls = path.join(work, 'tls');
  await pm.imageTls(
    tls,
    PROVINCES.map((p) => p.code),
    ['127.0.0.1', 'localhost'],
    pki,
  );
  console.log(`  ok  mutual TLS material made by \`tongban tls ca|issue\` in the image (${tls})`);
}

async function prepare(p, used, pki) {
  p.secrets = fed.newSecrets();
  p.ports = { http: await freePort(used), grpc: await freePort(used), health: await freePort(used) };
  p.name = `tongban-it-${RUN}-${p.code}`;
  p.audit = await pm.volume(`${p.name}-audit`);
  p.data = await pm.volume(`${p.name}-data`);
  const env = {
    TONGBAN_CODE: p.code,
    TONGBAN_KEY_ENCRYPTION_SECRET: p.secrets.keyEncryptionSecret,
    TONGBAN_API_TOKENS: `local:${p.secrets.apiToken}`,
    TONGBAN_ADMIN_TOKEN: p.secrets.adminToken,
    // Host networking: listen on loopback only, not on every interface of this machine.
    TONGBAN_HTTP_HOST: '127.0.0.1',
    TONGBAN_GRPC_HOST: '127.0.0.1',
    TONGBAN_HTTP_PORT: p.ports.http,
    TONGBAN_GRPC_PORT: p.ports.grpc,
    TONGBAN_HEALTH_PORT: p.ports.health,
    TONGBAN_TLS_CA: '/etc/tongban/tls/ca.pem',
    TONGBAN_TLS_CERT: `/etc/tongban/tls/${p.code}.pem`,
    TONGBAN_TLS_KEY: `/etc/tongban/tls/${p.code}.key`,
    TONGBAN_TLS_KEY_PASSPHRASE: pki.keyPassphrase,
    TONGBAN_AUDIT_CHECKPOINT_FILE: '/var/lib/tongban/audit/checkpoints.jsonl',
    TONGBAN_SHUTDOWN_GRACE_MS: GRACE_MS,
    ...(p.db === 'postgres' ? { TONGBAN_DATABASE_URL: PG_URL, TONGBAN_DATABASE_SCHEMA: SCHEMA } : { TONGBAN_SQLITE_PATH: '/var/lib/tongban/data/tongban.sqlite' }),
    ...(p.env || {}),
  };
  p.envFile = path.join(work, `${p.code}.env`);
  writeFileSync(
    p.envFile,
    Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
    { mode: 0o600 },
  );
  if (p.db === 'postgres') schemaMade = true;
}

async function importLicences(p) {
  const r = await pm.runOnce([...commonArgs(p), '-v', `${path.join(pm.ROOT, 'deploy', 'demo')}:/demo:ro`], ['node', 'dist/apps/cli/main.js', 'licences', 'import', `/demo/licences-${p.code}.json`], {
    allowFail: true,
  });
  expect(r.code === 0, `${p.code}: demo licences imported with the CLI in the image (${p.db}): ${r.stdout.split('\n').pop()}`, r.stderr);
}

/** Until province `p`'s health port answers /health/ready 200; returns ms since `t0`. */
async function waitReady(p, t0) {
  const ready = `http://127.0.0.1:${p.ports.health}/health/ready`;
  for (;;) {
    const ok = await fetch(ready).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return ms(t0);
    if ((await pm.inspect(p.name, '{{.State.Running}}')) !== 'true') throw new Error(`${p.code} exited before ready:\n${(await pm.podman(['logs', p.name], { allowFail: true })).stderr.slice(-3000)}`);
    if (ms(t0) > 180000) throw new Error(`${p.code} not ready after 180 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function start(p) {
  const t0 = Date.now();
  // --stop-timeout: podman stop sends SIGTERM, then SIGKILL after this long.
  await pm.runDetached(p.name, [...commonArgs(p), '--stop-timeout', String(STOP_TIMEOUT_S)]);
  p.startupMs = await waitReady(p, t0);
  console.log(`  ok  ${p.code} (${p.db}) ready ${(p.startupMs / 1000).toFixed(1)} s after podman run (HTTP :${p.ports.http}, gRPC :${p.ports.grpc}, health :${p.ports.health})`);
  return { code: p.code, baseUrl: `http://127.0.0.1:${p.ports.http}`, grpcEndpoint: `127.0.0.1:${p.ports.grpc}`, apiToken: p.secrets.apiToken, adminToken: p.secrets.adminToken };
}

/** The stopped container starts again alone, from its own state (keys, peers, licences), and serves. */
async function restart(p, gw, issuer) {
  const t0 = Date.now();
  await pm.podman(['start', p.name]);
  p.restartMs = await waitReady(p, t0);
  const r = await fed.call(gw, 'POST', '/v1/verifications', demoRequest(issuer.code));
  expect(r.status === 200 && r.body.status === 'VALID', `${p.code} restarted alone (podman start) in ${(p.restartMs / 1000).toFixed(1)} s and verifies a ${issuer.code} licence again`, r.body);
}

async function containerChecks(p) {
  const uid = (await pm.podman(['exec', p.name, 'id', '-u'])).stdout;
  const pid1 = (await pm.podman(['exec', p.name, 'cat', '/proc/1/status'])).stdout.match(/^Uid:\s+(\d+)/m)?.[1];
  expect(uid === '1000' && pid1 === '1000', `${p.code}: runs as uid 1000, not root (exec uid ${uid}, gateway process uid ${pid1})`);
  const ro = await pm.inspect(p.name, '{{.HostConfig.ReadonlyRootfs}}');
  const write = await pm.podman(['exec', p.name, 'node', '-e', "require('fs').writeFileSync('/app/probe', 'x')"], { allowFail: true });
  const tmp = await pm.podman(['exec', p.name, 'node', '-e', "require('fs').writeFileSync('/tmp/probe', 'x')"], { allowFail: true });
  expect(ro === 'true' && write.code !== 0 && /EROFS/.test(write.stderr) && tmp.code === 0, `${p.code}: root filesystem read-only (writing /app: EROFS), /tmp a tmpfs`, {
    ro,
    write: write.stderr.slice(0, 200),
  });
  const health = await pm.podman(['healthcheck', 'run', p.name], { allowFail: true });
  expect(health.code === 0, `${p.code}: \`podman healthcheck run\` passes (image HEALTHCHECK, /health/live on the health port)`, health);
}

async function main() {
  const t0 = Date.now();
  // The host side needs the pg package (the schema is dropped at the end): fail before making anything.
  try {
    require.resolve('pg');
  } catch {
    throw new Error('the pg package is not installed: run `npm ci` first (docs/operations.md §15.1)');
  }
  work = mkdtempSync(path.join(os.tmpdir(), 'tongban-image-test-'));
  const size = await pm.imageSize();
  if (!size) throw new Error(`image ${pm.IMAGE} not found: run \`npm run image:build\` first`);
  console.log(`image ${pm.IMAGE}: ${mb(size)} (goal <= 250 MB); work dir ${work}; run ${RUN}`);
  const hc = (await pm.podman(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', pm.IMAGE])).stdout;
  expect(/health\/live/.test(hc), 'the image carries its HEALTHCHECK (docker format)', hc);
  const pki = fed.newPkiSecrets();
  await makeTls(pki);
  const used = new Set();
  for (const p of PROVINCES) await prepare(p, used, pki);
  for (const p of PROVINCES) await importLicences(p);
  console.log('starting the gateways');
  const gws = await Promise.all(PROVINCES.map(start));
  const byCode = Object.fromEntries(gws.map((g) => [g.code, g]));
  await fed.connectAll(gws);
  console.log('  ok  every gateway trusts the others (peers over gRPC with mutual TLS)');
  console.log('verification walkthrough');
  await verificationWalkthrough(byCode);
  console.log('case walkthrough (广东 on PostgreSQL accepts, 河北 on SQLite is the origin)');
  await caseWalkthrough(byCode['440000'], byCode['130000']);
  console.log('container checks');
  for (const p of PROVINCES) await containerChecks(p);
  console.log('SIGTERM drain');
  const pg = PROVINCES.find((p) => p.db === 'postgres');
  const drain = await drainCheck(pg, byCode[pg.code], byCode['110000'], { graceMs: GRACE_MS, stopTimeoutS: STOP_TIMEOUT_S });
  await restart(pg, byCode[pg.code], byCode['130000']);
  console.log(`
image:test passed in ${(ms(t0) / 1000).toFixed(0)} s
  image size       ${mb(size)} (goal <= 250 MB)
  start-up         ${PROVINCES.map((p) => `${p.code} ${(p.startupMs / 1000).toFixed(1)} s`).join(', ')} (podman run -> /health/ready 200; three at once)
  restart          ${pg.code} ${(pg.restartMs / 1000).toFixed(1)} s alone (podman start -> /health/ready 200)
  SIGTERM          ${drain.inFlight} requests in flight completed 200; exit ${drain.exitCode} ${(drain.stopMs / 1000).toFixed(1)} s after SIGTERM (grace ${GRACE_MS} ms, stop timeout ${STOP_TIMEOUT_S} s)`);
}

function run() {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => cleanup().then(() => process.exit(130)));
  main().then(
    () => cleanup().then(() => process.exit(0)),
    async (e) => {
      console.error(`\nimage:test FAILED: ${e.stack || e}`);
      for (const p of PROVINCES.filter((x) => x.name)) {
        const logs = await pm.podman(['logs', '--tail', '12', p.name], { allowFail: true });
        if (logs.code === 0) console.error(`--- ${p.code} logs (last 12 lines) ---\n${logs.stdout}\n${logs.stderr}`);
      }
      await cleanup();
      process.exit(1);
    },
  );
}

// `npm run image:test -- --compose`: deploy/compose.yaml with podman-compose instead (compose-test.js).
if (process.argv.slice(2).includes('--compose')) require('./compose-test').run();
else run();
