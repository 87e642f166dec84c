#!/usr/bin/env node
'use strict';
// Cases benchmark (`npm run bench:cases`): two gateways, two-step 多地联办 cases opened at 北京
// (step 0 done by the opening driver), step 1 done by an automatic department robot at 河北; the
// case completes at 北京 when 河北's outcome arrives. Prints completed cases/s and p50/p99 of
// open→completed (the owner's own openedAt/closedAt), database statements and gateway CPU per
// completed case (from each gateway's /metrics: tongban_database_statements_total and
// process_cpu_seconds_total; on PostgreSQL also transactions per case from pg_stat_database), on
// SQLite, then on PostgreSQL with each gateway on its own database, then the replica comparison:
// one 北京 and two replicas of 北京 sharing one database, each 北京 process in a CPU budget of its
// own (as replicas on separate machines; the ratio of two to one is printed and checked).
// Env: BENCH_DURATION_S (default 20), BENCH_CONCURRENCY (default 16), BENCH_QUICK=1 (5 s),
//      BENCH_SKIP_PG=1, BENCH_SKIP_SQLITE=1, BENCH_REPLICAS=0 (skip the replica comparison),
//      BENCH_REPLICA_CPU=<cores> (default 0.25: the CPU budget of each 北京 process in the replica
//      comparison, a cgroup v1 `cpu` quota, which needs root; replicas as on separate machines, so
//      the 1-vs-2 ratio shows whether the work spreads over replicas, not whether the bench's cores
//      hold a third process. 0, or no writable cgroup, compares uncapped processes instead, and
//      says so. The SQLite run and the first PostgreSQL run, which the cases/s targets read, are
//      never capped),
//      BENCH_PROFILE=1 (CPU-profile every gateway over the timed window: .cpuprofile files go to
//      .bench/, a summary of each is printed; see cpuprofile-summary.js; the profiler costs CPU, so
//      compare figures of profiled runs only with each other), BENCH_PG_LOG=1 (PostgreSQL logs every
//      statement of the bench's databases with its parse, bind and execute times: the server's log),
//      BENCH_PORT_BASE (default 28000: gateways listen on HTTP BASE+n and gRPC BASE+1000+n; another
//      base lets two benchmarks run side by side for a same-run A/B), BENCH_WARMUP_S (default 3, 1
//      with BENCH_QUICK, 0 for none: the same load, not counted, before the timed window; on
//      PostgreSQL each database is then ANALYZEd, as autovacuum would have done in a gateway's first
//      minute, so the window measures the plans a running gateway uses, not a new database's).
//      Bounded in time; talks to 127.0.0.1 only.
const { accessSync, constants: fsConstants, mkdtempSync, rmSync, rmdirSync, mkdirSync, writeFileSync, readFileSync } = require('node:fs');
const { tmpdir, cpus, totalmem } = require('node:os');
const path = require('node:path');
const fed = require('../lib/federation');
const { withPg } = require('../lib/pg');
const bot = require('../lib/case-bot');
const { leanCall } = require('../lib/lean-http');
const targets = require('./targets');

const QUICK = process.env.BENCH_QUICK === '1';
const DURATION_S = Number(process.env.BENCH_DURATION_S || (QUICK ? 5 : 20));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 16);
const PG_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const ENV = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '500', TONGBAN_DELIVERY_POLL_MS: '200', TONGBAN_LOG_LEVEL: 'warn' };
const { BENCH_CATALOGUE, benchCaseBody } = require('./bench-catalogue');
const profileSummary = require('./cpuprofile-summary');
const { metric } = require('./measure');

const PROFILE = process.env.BENCH_PROFILE === '1';
const PORT_BASE = Number(process.env.BENCH_PORT_BASE || 28000);
const WARMUP_S = Number(process.env.BENCH_WARMUP_S ?? (QUICK ? 1 : 3));
const REPLICA_CPU_ASKED = Number(process.env.BENCH_REPLICA_CPU ?? 0.25);
const CGROUP_CPU = '/sys/fs/cgroup/cpu';

/** The CPU budget of each 北京 process in the replica comparison, or undefined (uncapped): asked for, and cgroups writable here. */
function replicaCpu() {
  if (!(REPLICA_CPU_ASKED > 0)) return undefined;
  try {
    accessSync(CGROUP_CPU, fsConstants.W_OK);
    return REPLICA_CPU_ASKED;
  } catch {
    return undefined;
  }
}

/** Puts process `pid` in a cgroup of its own limited to `cores` of CPU (cgroup v1 cpu quota); returns its path. */
function capCpu(pid, cores) {
  const dir = path.join(CGROUP_CPU, `tongban-bench-${pid}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'cpu.cfs_period_us'), '100000');
  writeFileSync(path.join(dir, 'cpu.cfs_quota_us'), String(Math.round(cores * 100_000)));
  writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
  return dir;
}

/** Sends a profiling command to a gateway started with profile-preload.js and waits for its answer. */
function profileCommand(gw, message, expect) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`profile ${gw.code}: no ${expect} within 30 s`)), 30_000);
    const done = (err, m) => {
      clearTimeout(timer);
      gw.proc.off('message', on);
      if (err) reject(err);
      else resolve(m);
    };
    const on = (m) => {
      if (m?.type === expect) done(undefined, m);
      else if (m?.type === 'bench:profile:error') done(new Error(`profile ${gw.code}: ${m.message}`));
    };
    gw.proc.on('message', on);
    gw.proc.send(message);
  });
}

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

/** Statements sent and CPU seconds used so far by each gateway process. */
async function gatewayCounters(gws) {
  return Promise.all(gws.map(async (g) => ({ statements: await metric(g, 'tongban_database_statements_total'), cpuS: await metric(g, 'process_cpu_seconds_total') })));
}

/**
 * Committed + rolled-back transactions and rows written so far in each database (the server's own
 * count), and the server's write-ahead log position in bytes: the whole cluster's, so only a bench
 * alone on its server measures its own WAL.
 */
async function pgCounters(databases) {
  return withPg(PG_URL, async (c) => {
    const rows = (await c.query('SELECT datname, xact_commit + xact_rollback AS xacts, tup_inserted + tup_updated + tup_deleted AS writes FROM pg_stat_database WHERE datname = ANY($1)', [databases]))
      .rows;
    const [{ wal }] = (await c.query("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS wal")).rows;
    const byDatabase = databases.map((d) => {
      const r = rows.find((x) => x.datname === d);
      return { xacts: Number(r?.xacts ?? 0), writes: Number(r?.writes ?? 0) };
    });
    return { byDatabase, walBytes: Number(wal) };
  });
}

/**
 * CPU seconds used so far by each PostgreSQL backend serving the bench's databases, by pid (from
 * /proc: the server runs on this machine in the bench's set-up; an empty map when it does not). A
 * backend that ends between two readings takes its CPU with it: the gateways' pools keep theirs.
 */
async function pgBackendCpu(databases) {
  const pids = await withPg(PG_URL, async (c) => (await c.query('SELECT pid FROM pg_stat_activity WHERE datname = ANY($1)', [databases])).rows.map((r) => r.pid));
  const out = new Map();
  for (const pid of pids) {
    try {
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      out.set(pid, (Number(f[11]) + Number(f[12])) / CLK_TCK);
    } catch {
      // not on this machine, or ended
    }
  }
  return out;
}
const CLK_TCK = 100; // Linux's USER_HZ on every architecture Node runs on here

const databaseUrl = (name) => {
  const u = new URL(PG_URL);
  u.pathname = `/${name}`;
  return u.toString();
};

/**
 * The load: CONCURRENCY openers, spread over 北京's replicas, each opening a case and completing its
 * step 0 in a loop for `seconds`. Returns the collaboration ids opened and the failed calls.
 */
async function drive(bjs, body, seconds) {
  const opened = [];
  let failures = 0;
  const endAt = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, k) => {
      const at = bjs[k % bjs.length];
      while (Date.now() < endAt) {
        const r = await leanCall(at, 'POST', '/v1/cases', body);
        if (r.status !== 201) {
          failures++;
          continue;
        }
        const done = await leanCall(at, 'POST', `/v1/tasks/${r.body.collaborationId}~0/complete`, { outputs: {} });
        if (done.status !== 200) failures++;
        opened.push(r.body.collaborationId);
      }
    }),
  );
  return { opened, failures };
}

/**
 * Waits (until `deadline`) for the cases opened so far to complete, with a one-row read (is any
 * case still open?): listing every case each time read thousands of cases and steps per poll while
 * the last ones finished, the benchmark's own load counted in 北京's CPU per case. Then waits for
 * their last deliveries: a case completes at 北京 before its CaseClosed reaches 河北, and under this
 * load 北京's outbox ends the run with a backlog of them (2026-12-04: 0.44 per case left undelivered
 * with one 北京, none with two replicas, whose two dispatchers drain it). Counted as they were, the
 * one-replica run's figures left that work out and the replica ratio carried it.
 */
async function settle(bj, gws, deadline) {
  while (Date.now() < deadline) {
    if ((await fed.call(bj, 'GET', '/v1/cases?state=OPEN&limit=1')).body.cases.length === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const pendingOutbox = async () => sum(await Promise.all(gws.map((g) => metric(g, 'tongban_outbox_messages', { status: 'PENDING' }))));
  while (Date.now() < deadline && (await pendingOutbox()) > 0) await new Promise((r) => setTimeout(r, 200));
}

/** Every completed case at 北京, listed once (pages of 1,000). */
async function allCompleted(bj) {
  const out = [];
  for (let offset = 0; ; offset += 1000) {
    const page = (await fed.call(bj, 'GET', `/v1/cases?state=COMPLETED&limit=1000&offset=${offset}`)).body.cases;
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

/**
 * One run. `database`: 'sqlite' or 'postgres' (each province on its own database); `bjReplicas`:
 * gateway processes of 北京 sharing its database (PostgreSQL only); `cpuCap`: each 北京 process's
 * CPU budget in cores (PostgreSQL only), or undefined.
 */
async function run(label, database, bjReplicas = 1, cpuCap = undefined) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tongban-bench-cases-'));
  const bjs = [];
  let hb;
  const databases = [];
  const cgroups = [];
  let robot;
  try {
    const tls = fed.localPki(path.join(dir, 'tls'), ['110000', '130000'], fed.newPkiSecrets());
    const stamp = Date.now().toString(36);
    const urls = {};
    if (database === 'postgres') {
      for (const code of ['110000', '130000']) {
        const name = `tongban_bench_${code}_${stamp}`;
        await withPg(PG_URL, (c) => c.query(`CREATE DATABASE "${name}"`));
        if (process.env.BENCH_PG_LOG === '1') await withPg(PG_URL, (c) => c.query(`ALTER DATABASE "${name}" SET log_min_duration_statement = 0`));
        databases.push(name);
        urls[code] = databaseUrl(name);
      }
    }
    let port = 0;
    const start = (code, secrets, extra = {}) =>
      fed.startGateway({
        code,
        dir: path.join(dir, `${code}-${port}`),
        secrets,
        tls: tls[code],
        httpPort: PORT_BASE + port,
        grpcPort: PORT_BASE + 1000 + port++,
        env: { ...ENV, ...extra },
        databaseUrl: urls[code],
        execArgv: PROFILE ? ['-r', path.join(__dirname, 'profile-preload.js')] : [],
      });
    const bjSecrets = fed.newSecrets();
    // Replicas learn the peer and the catalogue added through replica 0 when they commit (the admin tables' trigger).
    for (let i = 0; i < bjReplicas; i++) bjs.push(await start('110000', bjSecrets));
    if (cpuCap && database === 'postgres') for (const b of bjs) cgroups.push(capCpu(b.proc.pid, cpuCap));
    hb = await start('130000', fed.newSecrets());
    const bj = bjs[0];
    await fed.connectAll([bj, hb]);
    const loaded = await fed.call(bj, 'PUT', '/admin/catalogue', BENCH_CATALOGUE, bj.adminToken);
    if (loaded.status !== 200) throw new Error(`loading the bench catalogue failed: ${JSON.stringify(loaded.body)}`);
    for (const r of bjs.slice(1)) {
      for (let waited = 0; (await fed.call(r, 'GET', '/admin/peers/130000', undefined, r.adminToken)).status !== 200; waited += 200) {
        if (waited > 30_000) throw new Error('replica did not learn 河北 from the shared database');
        await new Promise((res) => setTimeout(res, 200));
      }
    }
    const items = new Map(BENCH_CATALOGUE.items.map((i) => [i.code, i]));
    const body = benchCaseBody('110000', '130000');
    const gws = [...bjs, hb];
    // The robot's task-list polls (100 a second) are the benchmark's load, not the cases' cost:
    // their statements and CPU are measured idle (workers alone, then workers and robot) and taken
    // out of the figures (a poll that finds tasks reads them in the same one statement, CaseQuery.tasks).
    // At a few cases/s the polls' CPU would otherwise be a large, load-dependent share per case.
    const idleWindow = async (ms) => {
      const a = await gatewayCounters(gws);
      const polls = stats.polls;
      const t = Date.now();
      await new Promise((r) => setTimeout(r, ms));
      const b = await gatewayCounters(gws);
      return {
        statements: sum(b.map((c) => c.statements)) - sum(a.map((c) => c.statements)),
        cpuS: sum(b.map((c) => c.cpuS)) - sum(a.map((c) => c.cpuS)),
        polls: stats.polls - polls,
        s: (Date.now() - t) / 1000,
      };
    };
    const stats = { polls: 0, found: 0 };
    const workers = await idleWindow(1500);
    robot = bot.startBot(() => hb, items, { intervalMs: 10, stats, call: leanCall });
    const withRobot = await idleWindow(2000);
    const statementsPerPoll = Math.max(0, withRobot.statements - (workers.statements / workers.s) * withRobot.s) / Math.max(1, withRobot.polls);
    const idleStatementsPerS = workers.statements / workers.s;
    const cpuSPerPoll = Math.max(0, withRobot.cpuS - (workers.cpuS / workers.s) * withRobot.s) / Math.max(1, withRobot.polls);
    if (WARMUP_S > 0) {
      const warm = await drive(bjs, body, WARMUP_S);
      if (warm.failures) throw new Error(`warm-up: ${warm.failures} of ${warm.opened.length + warm.failures} cases failed`);
      await settle(bj, gws, Date.now() + 60_000);
      for (const d of databases) await withPg(databaseUrl(d), (c) => c.query('ANALYZE'));
    }
    const before = await gatewayCounters(gws);
    const statsBefore = { ...stats };
    const pgBefore = database === 'postgres' ? await pgCounters(databases) : undefined;
    const pgCpuBefore = database === 'postgres' ? await pgBackendCpu(databases) : undefined;
    if (PROFILE) await Promise.all(gws.map((g) => profileCommand(g, { type: 'bench:profile:start', intervalUs: 200 }, 'bench:profile:started')));
    const t0 = Date.now();
    const driverCpu0 = process.cpuUsage();
    const { opened, failures } = await drive(bjs, body, DURATION_S);
    // Let the last cases and their last deliveries finish (bounded).
    await settle(bj, gws, Date.now() + 60_000);
    const inWindow = new Set(opened);
    const completed = (await allCompleted(bj)).filter((c) => inWindow.has(c.collaborationId));
    const after = await gatewayCounters(gws);
    const driverCpu = process.cpuUsage(driverCpu0);
    const pgCpuAfter = database === 'postgres' ? await pgBackendCpu(databases) : undefined;
    if (PROFILE) {
      mkdirSync('.bench', { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      for (const [i, g] of gws.entries()) {
        const file = path.join('.bench', `cases-${database}-${stamp}-${g.code}-${i}.cpuprofile`);
        await profileCommand(g, { type: 'bench:profile:stop', file }, 'bench:profile:written');
        console.log(profileSummary.format(`${label} ${g.code}#${i} (${file})`, profileSummary.summarise(JSON.parse(readFileSync(file, 'utf8'))), 40));
      }
    }
    const elapsedS = (Date.now() - t0) / 1000;
    const robotStatements = (stats.polls - statsBefore.polls) * statementsPerPoll;
    await robot.stop();
    robot = undefined;
    const lat = completed.map((c) => Date.parse(c.closedAt) - Date.parse(c.openedAt)).sort((a, b) => a - b);
    const lastClose = completed.reduce((m, c) => Math.max(m, Date.parse(c.closedAt)), 0);
    const n = completed.length || NaN;
    const delta = (k) => gws.map((_, i) => after[i][k] - before[i][k]);
    const statements = delta('statements');
    const cpu = delta('cpuS');
    let pgPerCase;
    if (database === 'postgres') {
      // Backends report their counts when they end: stop the gateways first.
      await Promise.all(gws.map((g) => g.stop()));
      const pgAfter = await pgCounters(databases);
      pgPerCase = {
        xacts: sum(pgAfter.byDatabase.map((a, i) => a.xacts - pgBefore.byDatabase[i].xacts)) / n,
        rowsWritten: sum(pgAfter.byDatabase.map((a, i) => a.writes - pgBefore.byDatabase[i].writes)) / n,
        walBytes: (pgAfter.walBytes - pgBefore.walBytes) / n,
        // The server's backends, on this machine: as much of a case's cost as a gateway's.
        backendCpuMs: pgCpuAfter.size ? (1000 * sum([...pgCpuAfter].map(([pid, s]) => s - (pgCpuBefore.get(pid) ?? 0)))) / n : NaN,
      };
    }
    const result = {
      database: label,
      bjReplicas,
      cpuCap: cpuCap ?? null,
      concurrency: CONCURRENCY,
      durationS: DURATION_S,
      warmupS: WARMUP_S,
      opened: opened.length,
      completed: completed.length,
      failures,
      casesPerSec: completed.length / ((lastClose - t0) / 1000),
      p50Ms: pct(lat, 50),
      p99Ms: pct(lat, 99),
      maxMs: lat[lat.length - 1],
      statementsPerCase: sum(statements) / n,
      statementsPerCaseNet: (sum(statements) - robotStatements) / n,
      robotPollsPerCase: (stats.polls - statsBefore.polls) / n,
      statementsPerRobotPoll: statementsPerPoll,
      statementsPerCaseByGateway: Object.fromEntries(gws.map((g, i) => [`${g.code}#${i}`, +(statements[i] / n).toFixed(2)])),
      idleStatementsPerS,
      idlePollingPerCaseAtMost: (idleStatementsPerS * elapsedS) / n,
      cpuMsPerCase: (1000 * sum(cpu)) / n,
      cpuMsPerCaseNet: (1000 * (sum(cpu) - (stats.polls - statsBefore.polls) * cpuSPerPoll)) / n,
      cpuMsPerRobotPoll: 1000 * cpuSPerPoll,
      // This process (openers, robot, polls): the load generator shares the machine's cores with the gateways.
      driverCpuMsPerCase: (driverCpu.user + driverCpu.system) / 1000 / n,
      cpuMsPerCaseByGateway: Object.fromEntries(gws.map((g, i) => [`${g.code}#${i}`, +((1000 * cpu[i]) / n).toFixed(2)])),
      ...(pgPerCase
        ? { pgTransactionsPerCase: pgPerCase.xacts, pgRowsWrittenPerCase: pgPerCase.rowsWritten, pgWalBytesPerCase: pgPerCase.walBytes, pgBackendCpuMsPerCase: pgPerCase.backendCpuMs }
        : {}),
    };
    console.log(
      `${label.padEnd(22)} opened ${result.opened}, completed ${result.completed}, failures ${failures}: ${result.casesPerSec.toFixed(1)} cases/s; open→completed p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms`,
    );
    console.log(
      `${''.padEnd(22)} per completed case: ${result.statementsPerCase.toFixed(1)} statements (${result.statementsPerCaseNet.toFixed(1)} without the robot's ${result.robotPollsPerCase.toFixed(1)} task-list polls at ${statementsPerPoll.toFixed(2)}, of which at most ${result.idlePollingPerCaseAtMost.toFixed(1)} the workers' polling, ${idleStatementsPerS.toFixed(0)}/s when idle; ${Object.entries(
        result.statementsPerCaseByGateway,
      )
        .map(([g, v]) => `${g} ${v}`)
        .join(', ')}), gateway CPU ${result.cpuMsPerCase.toFixed(1)} ms (${result.cpuMsPerCaseNet.toFixed(1)} without the robot's polls at ${result.cpuMsPerRobotPoll.toFixed(2)} ms; ${Object.entries(
        result.cpuMsPerCaseByGateway,
      )
        .map(([g, v]) => `${g} ${v}`)
        .join(
          ', ',
        )})${pgPerCase ? `; PostgreSQL: ${pgPerCase.xacts.toFixed(1)} transactions, ${pgPerCase.rowsWritten.toFixed(1)} rows written, ${(pgPerCase.walBytes / 1024).toFixed(1)} KiB of WAL (the server's), backends' CPU ${pgPerCase.backendCpuMs.toFixed(1)} ms` : ''}; load generator (this process) ${result.driverCpuMsPerCase.toFixed(1)} ms`,
    );
    return result;
  } finally {
    if (robot) await robot.stop();
    await Promise.all([...bjs, hb].filter(Boolean).map((g) => g.stop()));
    for (const d of cgroups) rmdirSync(d);
    rmSync(dir, { recursive: true, force: true });
    if (databases.length)
      await withPg(PG_URL, async (c) => {
        for (const d of databases) await c.query(`DROP DATABASE IF EXISTS "${d}" WITH (FORCE)`);
      });
  }
}

async function main() {
  const machine = { cpu: cpus()[0]?.model, cores: cpus().length, memGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, date: new Date().toISOString() };
  console.log(`bench:cases — ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, node ${machine.node}, ${machine.date}`);
  console.log(
    `two-step 联办 cases 北京→河北, ${CONCURRENCY} concurrent openers for ${DURATION_S}s after a ${WARMUP_S} s warm-up${WARMUP_S > 0 ? ' (PostgreSQL databases ANALYZEd after it)' : ''}; robot at 河北 polls tasks every 10 ms`,
  );
  const results = [];
  const checks = [];
  let replicas;
  let replicaCap;
  const verdict = (what, ok, figure) => {
    console.log(`target ${what}: ${ok ? 'PASS' : 'FAIL'} (${figure})`);
    checks.push(targets.check(what, ok, figure, Number(figure)));
  };
  if (process.env.BENCH_SKIP_SQLITE !== '1') {
    const sqlite = await run('SQLite', 'sqlite');
    results.push(sqlite);
  }
  if (process.env.BENCH_SKIP_PG !== '1') {
    const pgOne = await run('PostgreSQL', 'postgres');
    results.push(pgOne);
    if (process.env.BENCH_REPLICAS !== '0') {
      replicaCap = replicaCpu();
      if (replicaCap) console.log(`replica comparison: each 北京 process capped at ${replicaCap} of a core (BENCH_REPLICA_CPU; replicas as on separate machines)`);
      else
        console.log(
          `replica comparison: uncapped (${REPLICA_CPU_ASKED > 0 ? `no writable ${CGROUP_CPU}` : 'BENCH_REPLICA_CPU=0'}): every process shares this machine's ${cpus().length} cores, so the ratio shows what a third process costs here, not whether replicas spread the work`,
        );
      const one = replicaCap ? await run(`PostgreSQL, 北京 ×1 at ${replicaCap} core`, 'postgres', 1, replicaCap) : pgOne;
      if (replicaCap) results.push(one);
      const two = await run(`PostgreSQL, 北京 ×2${replicaCap ? ` at ${replicaCap} core each` : ''}`, 'postgres', 2, replicaCap);
      results.push(two);
      replicas = { one, two };
      console.log(
        `two replicas of 北京 on one database / one replica: ${(two.casesPerSec / one.casesPerSec).toFixed(2)}× cases/s, ${(two.cpuMsPerCase / one.cpuMsPerCase).toFixed(2)}× gateway CPU per case`,
      );
    }
  }
  for (const r of results) {
    if (r.bjReplicas !== 1 || r.cpuCap) continue;
    const goal = r.database === 'SQLite' ? targets.GOALS.casesPerSecSqlite : targets.GOALS.casesPerSecPostgres;
    verdict(`≥ ${goal} cases/s on ${r.database}`, r.casesPerSec >= goal, r.casesPerSec.toFixed(1));
  }
  const pg = results.find((r) => r.database === 'PostgreSQL' && !r.cpuCap);
  const maxStatements = targets.GOALS.statementsPerCasePostgres;
  if (pg) verdict(`≤ ${maxStatements} statements per case on PostgreSQL (half of the 134 counted before)`, pg.statementsPerCaseNet <= maxStatements, pg.statementsPerCaseNet.toFixed(1));
  if (replicas) {
    const ratio = replicas.two.casesPerSec / replicas.one.casesPerSec;
    checks.push(
      targets.check(
        'two replicas of 北京 on one PostgreSQL database scale (cases/s ratio > 1)',
        ratio > 1,
        `${ratio.toFixed(2)}×${replicaCap ? ` (each 北京 at ${replicaCap} core)` : ' (uncapped, shared cores)'}`,
        ratio,
      ),
    );
  }
  targets.report('bench:cases', checks, {
    note: `${CONCURRENCY} openers, ${DURATION_S} s, warm-up ${WARMUP_S} s${replicas ? (replicaCap ? `, replica comparison with each 北京 process at ${replicaCap} core` : ', replica comparison uncapped') : ''}${QUICK ? ', BENCH_QUICK' : ''}`,
  });
  mkdirSync('.bench', { recursive: true });
  writeFileSync(path.join('.bench', `cases-${machine.date.replace(/[:.]/g, '-')}.json`), JSON.stringify({ machine, results }, null, 2));
}

main().catch((e) => {
  console.error(`bench:cases failed: ${e.stack || e}`);
  process.exit(1);
});
