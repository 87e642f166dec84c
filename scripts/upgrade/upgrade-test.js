#!/usr/bin/env node
'use strict';
// `npm run upgrade:test` (docs/operations.md §9): a rolling upgrade with no downtime, on real processes.
//
// 北京 (110000) runs as two replicas on one PostgreSQL schema behind a readiness-aware TCP balancer
// (scripts/upgrade/tcp-proxy.js, one for HTTP and one for gRPC); 广东 (440000, the current build, on
// SQLite) is its peer. Both replicas start on the PREVIOUS release (scripts/upgrade/previous-release.js:
// built from git into a temp dir). While verifications and cases flow both ways (load.js), replica 1
// is stopped (SIGTERM: drains) and started on the CURRENT build, which migrates the shared schema
// while replica 2 — the previous release — goes on serving on the migrated schema; the previous
// release is also called directly then (verification, a case opened and read). Then replica 2 is
// upgraded. Then the code is rolled back on replica 2 (previous release on the migrated schema, no
// restore) and called directly again. At the end: no failed request (retries only as the protocol
// allows, load.js), every case in the same final state on both provinces with no step applied twice,
// and no outbox message pending or dead. Exit 0 only when all of that holds.
//
// Settings: UPGRADE_FROM=<commit> (default: the commit before the newest migration), UPGRADE_PHASE_S
// (seconds of traffic in each phase, default 15), TEST_DATABASE_URL (default the test PostgreSQL).
const { mkdtempSync, readFileSync, readdirSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const current = require('../lib/federation');
const bot = require('../lib/case-bot');
const { replicaProblems } = require('../lib/reconcile');
const measure = require('../bench/measure');
const { previousRef, buildPrevious } = require('./previous-release');
const { startProxy } = require('./tcp-proxy');
const { request, startLoad, send, newStats } = require('./load');

const BJ = '110000';
const GD = '440000';
const PG_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const PHASE_MS = Number(process.env.UPGRADE_PHASE_S || 15) * 1000;
const FINAL = ['COMPLETED', 'REFUSED', 'CANCELLED'];
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '1000', TONGBAN_DELIVERY_POLL_MS: '100', TONGBAN_LOG_LEVEL: 'warn' };
const usedPorts = new Set();
const freePort = () => measure.freePort(usedPorts);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (m) => console.log(`[upgrade ${new Date().toISOString().slice(11, 19)}] ${m}`);

/** The timestamps of the migration files of the build in `root` (a migration's class name ends with its timestamp). */
function migrationTimestamps(root) {
  return readdirSync(path.join(root, 'libs', 'persistence', 'src', 'migrations'))
    .map((f) => /^(\d{13})-.*\.ts$/.exec(f)?.[1])
    .filter(Boolean)
    .map(Number);
}
const timestampOf = (name) => Number(/(\d{13})$/.exec(name || '')?.[1] || 0);

/** Waits until replica `r` (asked directly, not through the balancer) trusts peer `code` with at least one key. */
async function replicaTrusts(r, code, adminToken, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await request(`http://127.0.0.1:${r.httpPort}`, 'GET', `/admin/peers/${code}`, undefined, adminToken);
    if (res.status === 200 && res.body.status === 'ACTIVE' && res.body.keys?.length) return;
    if (Date.now() > deadline) throw new Error(`replica on ${r.httpPort} does not trust ${code} after ${ms / 1000} s: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    await sleep(200);
  }
}

/** A VALID demo licence of `code` as a verification request body. */
function licenceQuery(code) {
  const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
  const all = JSON.parse(readFileSync(path.join(current.ROOT, 'deploy', 'demo', `licences-${code}.json`), 'utf8'));
  const l = all.find((x) => x.status === 'VALID' && x.validFrom <= today && (!x.validUntil || x.validUntil >= today));
  const holder = l.holderCodeType === '111' ? { name: l.holderName, idNumber: l.holderCode } : { name: l.holderName, creditCode: l.holderCode };
  return { issuer: code, body: { licenceType: l.typeCode, licenceId: l.licenceId, holder, purpose: '升级测试' } };
}

async function main() {
  const started = Date.now();
  const { ref, sha, why } = previousRef();
  log(`previous release: ${sha.slice(0, 12)} (${ref}: ${why}); current: the build in ${current.ROOT}`);
  const prevDir = buildPrevious(sha, log);
  const previous = require(path.join(prevDir, 'scripts', 'lib', 'federation.js'));
  const schema = `upgrade_${Date.now().toString(36)}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'tongban-upgrade-'));
  const tls = current.localPki(path.join(dir, 'tls'), [BJ, GD], current.newPkiSecrets());
  const secrets = current.newSecrets();
  const ports = { http: await freePort(), grpc: await freePort() };
  const replicaOptions = async (n) => ({
    code: BJ,
    dir: path.join(dir, `bj-${n}`),
    secrets,
    tls: tls[BJ],
    httpPort: await freePort(),
    grpcPort: await freePort(),
    databaseUrl: PG_URL,
    env: { ...FAST, TONGBAN_DATABASE_SCHEMA: schema, TONGBAN_HEALTH_PORT: String(await freePort()), TONGBAN_SHUTDOWN_GRACE_MS: '1500', TONGBAN_DATABASE_APPLICATION_NAME: `tongban-upgrade-${n}` },
  });
  const replicas = [await replicaOptions(1), await replicaOptions(2)];
  const running = [];
  const proxies = [];
  let gd;
  let load;
  const result = { ok: false, previous: sha.slice(0, 12), phases: [], direct: [] };
  try {
    // The province's data: demo licences imported by the previous release's CLI (it migrates to its own schema).
    const imported = await previous.runCli(replicas[0], ['licences', 'import', path.join(prevDir, 'deploy', 'demo', `licences-${BJ}.json`)]);
    if (imported.code !== 0) throw new Error(`licence import: ${imported.stderr}`);
    const t0 = Date.now();
    running[0] = await previous.startGateway(replicas[0]);
    running[1] = await previous.startGateway(replicas[1]);
    log(`two replicas of ${BJ} on the previous release, one PostgreSQL schema ${schema} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    const gdOptions = { code: GD, dir: path.join(dir, 'gd'), secrets: current.newSecrets(), tls: tls[GD], httpPort: await freePort(), grpcPort: await freePort(), env: FAST };
    await current.runCli(gdOptions, ['licences', 'import', path.join(current.ROOT, 'deploy', 'demo', `licences-${GD}.json`)]);
    gd = await current.startGateway(gdOptions);
    proxies.push(
      await startProxy(
        ports.http,
        replicas.map((r) => ({ port: r.httpPort, healthPort: Number(r.env.TONGBAN_HEALTH_PORT) })),
      ),
    );
    proxies.push(
      await startProxy(
        ports.grpc,
        replicas.map((r) => ({ port: r.grpcPort, healthPort: Number(r.env.TONGBAN_HEALTH_PORT) })),
      ),
    );
    for (const p of proxies) await p.waitReady();
    // 北京 as its peers and local systems see it: the balancer's addresses.
    const bj = { code: BJ, baseUrl: `http://127.0.0.1:${ports.http}`, grpcEndpoint: `127.0.0.1:${ports.grpc}`, apiToken: secrets.apiToken, adminToken: secrets.adminToken };
    await current.trustPeer(gd, bj);
    await current.trustPeer(bj, gd);
    // 广东 was added through the balancer, so on ONE replica; the other loads it when the change
    // commits (this release and its schema: the admin tables' trigger) or at its next periodic reload
    // (an older release: TONGBAN_TRUST_REFRESH_S, 10 s). Traffic starts once both replicas trust it,
    // as an operator waits before sending a new peer's traffic (operations.md §5.1).
    for (const r of replicas) await replicaTrusts(r, GD, secrets.adminToken);
    const items = await bot.catalogueItems(gd);

    const sides = [
      { code: BJ, baseUrl: bj.baseUrl, token: secrets.apiToken },
      { code: GD, baseUrl: gd.baseUrl, token: gd.apiToken },
    ];
    load = startLoad(sides, items, [licenceQuery(BJ), licenceQuery(GD)]);
    const phase = async (name) => {
      const before = JSON.stringify(load.stats.ok);
      await sleep(PHASE_MS);
      result.phases.push({ name, seconds: PHASE_MS / 1000, requestsBefore: JSON.parse(before) });
      log(`${name}: ${Object.values(load.stats.ok).reduce((a, b) => a + b, 0)} requests answered so far, ${load.cases.size} cases opened`);
    };
    /** The previous release, called directly (not through the balancer): it serves verification and cases. */
    const direct = async (gw, label) => {
      const stats = newStats();
      const base = `http://127.0.0.1:${gw.httpPort}`;
      const token = secrets.apiToken;
      const v1 = await send(
        stats,
        'verify own',
        (r) => r.status === 200,
        () => false,
        () => request(base, 'POST', '/v1/verifications', licenceQuery(BJ).body, token),
      );
      const v2 = await send(
        stats,
        'verify peer',
        (r) => r.status === 200,
        () => false,
        () => request(base, 'POST', '/v1/verifications', licenceQuery(GD).body, token),
      );
      const item = [...items.values()].find((i) => i.roles.length >= 2);
      const opened = await send(
        stats,
        'open case',
        (r) => r.status === 201,
        () => false,
        () => request(base, 'POST', '/v1/cases', bot.caseBody(item, BJ, [GD]), token),
      );
      if (opened.status === 201) load.cases.set(opened.body.collaborationId, { owner: BJ, participants: [...new Set(Object.values(opened.body.participants))] });
      const read =
        opened.status === 201
          ? await send(
              stats,
              'read case',
              (r) => r.status === 200,
              () => false,
              () => request(base, 'GET', `/v1/cases/${opened.body.collaborationId}`, undefined, token),
            )
          : { status: 0 };
      const entry = { label, verifyOwn: v1.status, verifyPeer: v2.status, openCase: opened.status, readCase: read.status, failed: stats.failed };
      result.direct.push(entry);
      log(`${label}: verification ${v1.status}/${v2.status}, case opened ${opened.status}, read ${read.status}`);
      return Object.keys(stats.failed).length === 0;
    };

    /** The balancers' refused connections to replica `i` (its HTTP and gRPC ports) so far. */
    const connectFailures = (i) => proxies.reduce((n, p) => n + (p.stats.connectFailures[replicas[i].httpPort] || 0) + (p.stats.connectFailures[replicas[i].grpcPort] || 0), 0);
    result.replacements = [];
    /**
     * Replaces replica `i` by `build` (SIGTERM: drains; then started on the same ports), then runs
     * the phase that follows. A connection the balancer sent to the replica and the replica refused
     * during all that means it said ready while its port did not accept (or still said ready after
     * closing it): a problem for a build whose readiness waits for its listeners (it reports the
     * `listening` check), a known fault of an older build otherwise (reported, not hidden).
     */
    const replace = async (i, build, label, phaseName, afterStart = async () => undefined) => {
      const before = connectFailures(i);
      const t = Date.now();
      await running[i].stop();
      running[i] = await build.startGateway(replicas[i]);
      const entry = { label, seconds: (Date.now() - t) / 1000 };
      const health = await request(`http://127.0.0.1:${replicas[i].env.TONGBAN_HEALTH_PORT}`, 'GET', '/health/ready');
      entry.readinessWaitsForListeners = health.body?.checks?.listening !== undefined;
      log(`${label} (${entry.seconds.toFixed(1)} s)`);
      await afterStart();
      await phase(phaseName);
      entry.connectFailures = connectFailures(i) - before;
      result.replacements.push(entry);
      return entry;
    };

    await phase('phase 1: both replicas on the previous release');
    const previousMigrations = new Set(migrationTimestamps(prevDir));
    let prevOnMigrated = false;
    await replace(
      0,
      current,
      'replica 1 upgraded: stopped (SIGTERM, drained) and started on the current build, schema migrated',
      'phase 2: replica 1 current, replica 2 previous, schema migrated',
      async () => {
        // The previous release is exercised on the migrated schema only if the current build applied
        // migrations the previous release does not have (by timestamp: one may be older than its newest).
        const pg = new Client({ connectionString: PG_URL });
        await pg.connect();
        const applied = (await pg.query(`SELECT name FROM "${schema}".migrations ORDER BY timestamp`)).rows.map((r) => r.name);
        await pg.end();
        const unknownToPrevious = applied.filter((n) => !previousMigrations.has(timestampOf(n)));
        result.migrations = { applied: applied.length, previousReleaseHas: previousMigrations.size, appliedThatThePreviousReleaseLacks: unknownToPrevious };
        result.migrations.schemaAheadOfPreviousRelease = unknownToPrevious.length > 0;
        prevOnMigrated = (await direct(running[1], 'previous release (replica 2) on the migrated schema')) && result.migrations.schemaAheadOfPreviousRelease;
      },
    );
    await replace(1, current, 'replica 2 upgraded', 'phase 3: both replicas on the current build');
    // Rollback of the code without a restore: the previous release again on replica 2.
    let rolledBack = false;
    await replace(1, previous, 'replica 2 rolled back to the previous release', 'phase 4: replica 2 rolled back to the previous release', async () => {
      rolledBack = await direct(running[1], 'rollback: previous release (replica 2) again on the migrated schema');
    });

    load.stopOpening();
    log(`stopped opening cases (${load.cases.size}); waiting for every case to finish…`);
    const deadline = Date.now() + 180_000;
    let unfinished = [...load.cases.keys()];
    while (unfinished.length && Date.now() < deadline) {
      const still = [];
      for (const id of unfinished) {
        const { participants } = load.cases.get(id);
        const views = await Promise.all(participants.map((p) => request(p === BJ ? bj.baseUrl : gd.baseUrl, 'GET', `/v1/cases/${id}`, undefined, p === BJ ? secrets.apiToken : gd.apiToken)));
        if (!views.every((v) => v.status === 200 && FINAL.includes(v.body.state))) still.push(id);
      }
      unfinished = still;
      if (unfinished.length) await sleep(1000);
    }
    await load.stop();

    const problems = [];
    const counts = {};
    for (const [id, { owner, participants }] of load.cases) {
      const views = {};
      for (const p of participants) views[p] = (await request(p === BJ ? bj.baseUrl : gd.baseUrl, 'GET', `/v1/cases/${id}`, undefined, p === BJ ? secrets.apiToken : gd.apiToken)).body;
      counts[views[owner].state] = (counts[views[owner].state] || 0) + 1;
      if (!FINAL.includes(views[owner].state)) problems.push(`${id}: ${views[owner].state} at owner ${owner}`);
      else problems.push(...replicaProblems(id, owner, views));
    }
    for (const side of [bj, gd]) {
      for (const status of ['DEAD', 'PENDING']) {
        const r = await request(side.baseUrl, 'GET', `/admin/outbox?status=${status}`, undefined, side.adminToken);
        if (r.status !== 200) problems.push(`${side.code}: outbox ${status} unreadable (${r.status})`);
        else if (r.body.messages.length) problems.push(`${side.code}: ${r.body.messages.length} outbox message(s) ${status}`);
      }
    }
    const failed = Object.values(load.stats.failed).reduce((a, b) => a + b, 0);
    if (failed) problems.push(`${failed} failed request(s): ${load.stats.samples.join(' | ')}`);
    if (!result.migrations.schemaAheadOfPreviousRelease)
      problems.push(`the previous release was not run against a migrated schema: the current build applied no migration the previous release lacks (${result.migrations.applied} applied)`);
    else if (!prevOnMigrated) problems.push('the previous release did not serve on the migrated schema');
    for (const r of result.replacements) {
      if (r.connectFailures && r.readinessWaitsForListeners) problems.push(`${r.label}: the balancer was refused ${r.connectFailures} connection(s) by a replica that said it was ready`);
    }
    if (!rolledBack) problems.push('the rolled-back previous release did not serve');
    Object.assign(result, {
      seconds: (Date.now() - started) / 1000,
      requests: load.stats.ok,
      retried: load.stats.retried,
      failed: load.stats.failed,
      cases: load.cases.size,
      finalStates: counts,
      balancer: { http: proxies[0].stats, grpc: proxies[1].stats },
      problems,
    });
    result.ok = problems.length === 0;
  } finally {
    await load?.stop();
    for (const p of proxies) await p.close();
    await Promise.all([...running, gd].filter(Boolean).map((g) => g.stop()));
    const pg = new Client({ connectionString: PG_URL });
    await pg
      .connect()
      .then(() => pg.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`))
      .finally(() => pg.end())
      .catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(JSON.stringify(result, null, 2));
  log(result.ok ? 'UPGRADE TEST PASSED: no failed request, every case reconciled, nothing pending or dead' : `UPGRADE TEST FAILED:\n  ${result.problems.join('\n  ')}`);
  process.exit(result.ok ? 0 : 1);
}

main().catch((e) => {
  console.error(`upgrade test failed: ${e.stack || e}`);
  process.exit(1);
});
