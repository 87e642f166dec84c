'use strict';
// `npm run image:test -- --compose` (after `npm run image:build`): deploy/compose.yaml run for real
// with podman-compose, as docs/operations.md §15.2 tells an operator: PostgreSQL from the image
// scripts/image/postgres.sh makes (built here when missing, then cached), three provinces with two
// replicas each on their own schemas, mutual TLS from `tongban tls` run in the image. Runs the
// verification walkthrough, the 户口迁移 case walkthrough across replicas, the healthchecks of every
// container, then `podman-compose down -v` and checks that nothing of the project is left.
// The compose file is run as committed, from a work directory of its own (with its .env and tls/ beside
// it), under a project name of its own (tongban-ct<run>): an operator's deploy/.env is never read.
// Bounded: every wait has a deadline; traffic goes to 127.0.0.1 and between the project's containers.
const { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const fed = require('../lib/federation');
const pm = require('./podman');
const { expect, until, demoRequest, verificationWalkthrough, caseWalkthrough } = require('./walkthroughs');

const PG_IMAGE = process.env.TONGBAN_POSTGRES_IMAGE || 'localhost/tongban-postgres:15-bookworm';
const CODES = ['110000', '130000', '440000'];
const REPLICAS = 2;
const RUN = `${process.pid}-${randomBytes(2).toString('hex')}`;
const PROJECT = `tongban-ct${RUN}`;
const READY_TIMEOUT_MS = 300000;
const work = mkdtempSync(path.join(os.tmpdir(), 'tongban-compose-test-'));
const file = path.join(work, 'compose.yaml');
const ms = (t0) => Date.now() - t0;
const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
const container = (service, i = 1) => `${PROJECT}_${service}_${i}`;
const compose = (args, o = {}) => pm.podman(['-p', PROJECT, '-f', file, ...args], { ...o, cmd: 'podman-compose' });
const projectFilter = ['--filter', `label=io.podman.compose.project=${PROJECT}`];

/** The project's containers, volumes and networks still there (names). */
async function leftovers() {
  const list = async (args) => (await pm.podman(args, { allowFail: true })).stdout.split('\n').filter(Boolean);
  return {
    containers: await list(['ps', '-a', ...projectFilter, '--format', '{{.Names}}']),
    volumes: (await list(['volume', 'ls', '--format', '{{.Name}}'])).filter((v) => v.startsWith(`${PROJECT}_`)),
    networks: (await list(['network', 'ls', '--format', '{{.Name}}'])).filter((n) => n.startsWith(`${PROJECT}_`)),
  };
}

let downDone = false;
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    if (!downDone) await compose(['down', '-v'], { allowFail: true });
    const left = await leftovers();
    for (const c of left.containers) await pm.podman(['rm', '-f', '-t', '0', c], { allowFail: true });
    for (const v of left.volumes) await pm.podman(['volume', 'rm', '-f', v], { allowFail: true });
    for (const n of left.networks) await pm.podman(['network', 'rm', '-f', n], { allowFail: true });
    rmSync(work, { recursive: true, force: true });
  })();
  return cleaning;
}

/** The PostgreSQL image, made by scripts/image/postgres.sh when missing (cached after). */
async function postgresImage() {
  if (!(await pm.imageSize(PG_IMAGE))) {
    console.log(`${PG_IMAGE} is missing: scripts/image/postgres.sh builds it (once, a few minutes)`);
    const r = spawnSync('bash', [path.join(__dirname, 'postgres.sh')], { stdio: 'inherit', env: { ...process.env, TONGBAN_POSTGRES_IMAGE: PG_IMAGE } });
    if (r.status !== 0) throw new Error(`scripts/image/postgres.sh exited ${r.status}`);
  }
  return pm.imageSize(PG_IMAGE);
}

/** deploy/compose.yaml beside a fresh .env (the secrets it references) and tls/ (for gateway-<code>). */
async function prepare() {
  copyFileSync(path.join(pm.ROOT, 'deploy', 'compose.yaml'), file);
  const pki = fed.newPkiSecrets();
  const secrets = Object.fromEntries(CODES.map((c) => [c, fed.newSecrets()]));
  const env = {
    TONGBAN_IMAGE: pm.IMAGE,
    TONGBAN_POSTGRES_IMAGE: PG_IMAGE,
    POSTGRES_PASSWORD: randomBytes(18).toString('base64url'),
    TONGBAN_TLS_KEY_PASSPHRASE: pki.keyPassphrase,
  };
  for (const c of CODES) {
    env[`TONGBAN_${c}_KEY_ENCRYPTION_SECRET`] = secrets[c].keyEncryptionSecret;
    env[`TONGBAN_${c}_API_TOKENS`] = `hall:${secrets[c].apiToken}`;
    env[`TONGBAN_${c}_ADMIN_TOKEN`] = secrets[c].adminToken;
  }
  const dotenv = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  writeFileSync(path.join(work, '.env'), dotenv.join('\n') + '\n', { mode: 0o600 });
  await pm.imageTls(
    path.join(work, 'tls'),
    CODES,
    CODES.map((c) => `gateway-${c}`),
    pki,
  );
  console.log(`  ok  ${work}: compose.yaml (deploy/compose.yaml as committed), .env (mode 600), tls/ from \`tongban tls\` in the image`);
  return secrets;
}

/** Until every container of the project passes its own healthcheck (`podman healthcheck run`). */
async function waitHealthy(names, t0) {
  const pending = new Set(names);
  const healthyAt = {};
  while (pending.size) {
    for (const n of [...pending]) {
      const r = await pm.podman(['healthcheck', 'run', n], { allowFail: true });
      if (r.code === 0) {
        healthyAt[n] = ms(t0);
        pending.delete(n);
      }
    }
    if (!pending.size) break;
    if (ms(t0) > READY_TIMEOUT_MS) throw new Error(`not healthy ${READY_TIMEOUT_MS / 1000} s after up: ${[...pending].join(', ')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  return healthyAt;
}

/** A handle (scripts/lib/federation.js shape) on replica `i` of province `code`, by its published port. */
async function handle(code, i, secrets) {
  const port = (await pm.podman(['port', container(`gateway-${code}`, i), '8080'])).stdout.split('\n')[0];
  expect(/^127\.0\.0\.1:\d+$/.test(port), `gateway-${code} replica ${i}: HTTP published on loopback only (${port})`, port);
  return { code, replica: i, baseUrl: `http://${port}`, grpcEndpoint: `gateway-${code}:9090`, apiToken: secrets[code].apiToken, adminToken: secrets[code].adminToken };
}

/** Demo licences into a province's schema with the CLI of a running replica (file on stdin). */
async function importLicences(code) {
  const data = readFileSync(path.join(pm.ROOT, 'deploy', 'demo', `licences-${code}.json`));
  const r = await pm.podman(['exec', '-i', container(`gateway-${code}`), 'sh', '-c', 'cat > /tmp/licences.json && node dist/apps/cli/main.js licences import /tmp/licences.json'], {
    input: data,
    allowFail: true,
  });
  expect(r.code === 0, `${code}: demo licences imported by \`podman exec -i … tongban licences import\`: ${r.stdout.split('\n').pop()}`, r.stderr);
}

async function healthChecks(names) {
  for (const n of names) {
    const test = await pm.inspect(n, '{{json .Config.Healthcheck.Test}}');
    const r = await pm.podman(['healthcheck', 'run', n], { allowFail: true });
    const what = n.includes('_postgres_') ? 'pg_isready' : '/health/ready on the health port';
    expect(r.code === 0 && test.includes(what.split(' ')[0]), `${n}: its compose healthcheck (${what}) passes`, { test, r });
  }
  const gw = container('gateway-110000', 2);
  const user = await pm.inspect(gw, '{{.Config.User}}');
  const ro = await pm.inspect(gw, '{{.HostConfig.ReadonlyRootfs}}');
  const pid1 = (await pm.podman(['exec', gw, 'cat', '/proc/1/status'])).stdout.match(/^Uid:\s+(\d+)/m)?.[1];
  expect(user === '1000:1000' && ro === 'true' && pid1 === '1000', `${gw}: user 1000:1000 (gateway process uid ${pid1}), read-only root filesystem`, { user, ro });
}

async function main() {
  const t0 = Date.now();
  const size = await pm.imageSize();
  if (!size) throw new Error(`image ${pm.IMAGE} not found: run \`npm run image:build\` first`);
  const pgSize = await postgresImage();
  console.log(`images ${pm.IMAGE} ${mb(size)}, ${PG_IMAGE} ${mb(pgSize)}; project ${PROJECT}; work dir ${work}`);
  const secrets = await prepare();

  console.log('podman-compose up -d');
  const tUp = Date.now();
  const up = await compose(['up', '-d'], { allowFail: true });
  expect(up.code === 0, `\`podman-compose -f compose.yaml up -d\` exits 0 (${(ms(tUp) / 1000).toFixed(1)} s)`, up.stderr.slice(-1500));
  const gateways = CODES.flatMap((c) => Array.from({ length: REPLICAS }, (_, i) => container(`gateway-${c}`, i + 1)));
  const all = [container('postgres'), ...gateways];
  const running = (await pm.podman(['ps', ...projectFilter, '--format', '{{.Names}}'])).stdout.split('\n').filter(Boolean);
  expect(
    all.every((n) => running.includes(n)),
    `${all.length} containers running: postgres and ${CODES.length} provinces × ${REPLICAS} replicas`,
    running,
  );
  const healthyAt = await waitHealthy(all, tUp);
  const startupMs = Math.max(...Object.values(healthyAt));
  const restarts = {};
  for (const n of gateways) restarts[n] = Number(await pm.inspect(n, '{{.RestartCount}}'));
  console.log(`  ok  every container healthy ${(startupMs / 1000).toFixed(1)} s after up (restarts: ${Object.values(restarts).join(' ')})`);

  const replicas = {};
  for (const c of CODES) replicas[c] = [await handle(c, 1, secrets), await handle(c, 2, secrets)];
  for (const c of CODES) await importLicences(c);
  const first = CODES.map((c) => replicas[c][0]);
  await fed.connectAll(first);
  console.log('  ok  every province trusts the others (peer endpoints gateway-<code>:9090, mutual TLS on the compose network)');
  // Set through replica 1; replica 2 reloads the trust store from the shared schema when the change
  // commits (the admin tables' trigger and its wake-up listener, docs/operations.md §1): a peer's
  // call may reach either replica.
  const tTrust = Date.now();
  for (const c of CODES) {
    const r2 = replicas[c][1];
    const others = CODES.filter((x) => x !== c);
    await until(`${c} replica 2 to load its peers`, async () => {
      const r = await fed.call(r2, 'GET', '/admin/peers', undefined, r2.adminToken);
      return r.status === 200 && others.every((x) => r.body.peers?.some((p) => p.code === x && p.keys?.length));
    });
  }
  console.log(`  ok  every replica 2 holds the peers and keys set through replica 1 (${(ms(tTrust) / 1000).toFixed(1)} s after the last was set)`);

  console.log('verification walkthrough (replica 1 of each province)');
  await verificationWalkthrough(Object.fromEntries(first.map((g) => [g.code, g])));
  for (const c of CODES) {
    const issuer = CODES.find((x) => x !== c);
    const r = await fed.call(replicas[c][1], 'POST', '/v1/verifications', demoRequest(issuer));
    expect(r.status === 200 && r.body.status === 'VALID', `${c} replica 2 verifies a ${issuer} licence (the province's schema, keys and peers are shared)`, r.body);
  }
  console.log('case walkthrough (广东 replica 2 accepts, 河北 replica 2 is the origin)');
  await caseWalkthrough(replicas['440000'][1], replicas['130000'][1]);

  console.log('health');
  await healthChecks(all);

  console.log('podman-compose down -v');
  const tDown = Date.now();
  const down = await compose(['down', '-v'], { allowFail: true });
  downDone = true;
  const left = await leftovers();
  // podman-compose 1.0.3 leaves the project's network: cleanup() removes it (and says so).
  const network = left.networks.length ? `; it leaves the network ${left.networks.join(', ')}, removed now` : '';
  expect(
    down.code === 0 && !left.containers.length && !left.volumes.length,
    `\`podman-compose down -v\` removes every container and volume of the project (${(ms(tDown) / 1000).toFixed(1)} s)${network}`,
    {
      left,
      err: down.stderr.slice(-800),
    },
  );
  console.log(`
image:test --compose passed in ${(ms(t0) / 1000).toFixed(0)} s
  images           gateway ${mb(size)}, PostgreSQL ${mb(pgSize)}
  start-up         ${(startupMs / 1000).toFixed(1)} s from \`up -d\` until all ${all.length} containers pass their healthchecks (${gateways.length} gateway replicas, restarts ${Object.values(restarts).reduce((a, b) => a + b, 0)})`);
}

/** Runs the compose test; exits the process (0 passed, 1 failed) after removing what it made. */
function run() {
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => cleanup().then(() => process.exit(130)));
  main().then(
    () => cleanup().then(() => process.exit(0)),
    async (e) => {
      console.error(`\nimage:test --compose FAILED: ${e.stack || e}`);
      for (const n of [container('postgres'), ...CODES.map((c) => container(`gateway-${c}`))]) {
        const logs = await pm.podman(['logs', '--tail', '15', n], { allowFail: true });
        if (logs.code === 0) console.error(`--- ${n} (last 15 lines) ---\n${logs.stdout}\n${logs.stderr}`);
      }
      await cleanup();
      process.exit(1);
    },
  );
}

module.exports = { run };
