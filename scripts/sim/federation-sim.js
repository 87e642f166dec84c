#!/usr/bin/env node
'use strict';
// Federation scale simulation (`npm run sim:federation`): ALL participants of data/participants.json
// (31 provinces + 660000) as real gateway processes on one machine, each with its own database, every
// gateway trusting every other one, a few generated licences per province, then a mixed bounded
// workload for SIM_DURATION_S: cross-province verifications between random pairs (the answer must be
// the status the licence was generated with) and cases of every catalogue item between random
// participants, worked by a department robot at every gateway. Afterwards it waits (bounded) until
// every case is final at its owner and every participant, reconciles like scripts/soak/cases-soak.js,
// and reports throughput, latency, errors, cases per item, and memory (RSS) per gateway at idle and at
// the end.
//
// Env (all optional):
//   SIM_DURATION_S        load seconds (default 60; SIM_QUICK=1 → 20)
//   SIM_QUICK=1           short run (20 s load)
//   SIM_PG=1              every participant on PostgreSQL (SIM_PG_URL, default
//                         postgres://postgres@127.0.0.1:5432/test), one schema each, dropped at the end
//   SIM_PARTICIPANTS=N    only the first N participants (default: all; for debugging)
//   SIM_LICENCES          licences per province (default 50)
//   SIM_VERIFY_CONCURRENCY concurrent verification clients (default 8)
//   SIM_CASE_CONCURRENCY  concurrent case openers (default 2)
//   SIM_VERIFICATIONS=N   fixed work: the load ends once N verifications have been sent and answered (still bounded
//                         by SIM_DURATION_S); with SIM_SEED the same N asker/issuer/licence draws in every run, so the
//                         gateways' CPU over the load compares between builds on a busy machine, where req/s does not
//   SIM_SEED              seed of the verification draws (default: Math.random)
//   SIM_CASES_PER_S       pace of case opening in all (default 4; 0 = unpaced)
//   SIM_MAX_CASES         cap on cases opened (default 2000)
//   SIM_BOT_INTERVAL_MS   robot polling interval per gateway (default 200)
//   SIM_SETTLE_S          bound on waiting for cases to finish after the load (default 120)
//   SIM_IDLE_S            quiet seconds after start+trust over which idle CPU is read, before the idle RSS reading (default 120:
//                         long enough to hold each gateway's one memory-reducer GC after the trust phase, which V8 runs
//                         within ~100 s of the last full GC; a 20 s window read 0.1 % or 1.3 % by whether it fell inside)
//   SIM_IDLE_AFTER_READY_S the idle window starts no sooner than this long after the last gateway was ready (default 30:
//                         a gateway's first half-minute holds its start-up's follow-up work, not idle cost)
//   SIM_HTTP_BASE / SIM_GRPC_BASE  port bases (default 30000 / 31000; participant i gets base+i)
//   SIM_GATEWAY_EXEC_ARGV extra node flags for every gateway (space-separated), e.g. --max-old-space-size=96
//   SIM_MEM_PROBE=1       preload scripts/sim/mem-probe.js (with --expose-gc) into every gateway and report
//                         V8 heap / external / native breakdowns at idle and at the end, before and after a full GC
//   SIM_TLS_COUNT=1       preload scripts/bench/tls-count-preload.js into every gateway and report the TLS
//                         secure contexts built (and their CPU) and the handshakes made during the load
//   SIM_PROFILE=N         V8 CPU profiles (scripts/bench/profile-preload.js, 200 µs sampling) of N gateways spread
//                         over the participants, over the load phase only; written to .bench/sim-profile-<code>.cpuprofile
//                         (summarise with scripts/bench/cpuprofile-summary.js or cpuprofile-parts.js)
//   SIM_ROOT              repository whose dist/ and scripts/lib/ to use (e.g. a clean worktree);
//                         default: the repository this script is in. Results go to this repository's .bench/.
// Output: a report on stdout and .bench/sim-<timestamp>.json. Exit 0 = every target PASS, 1 = a
// target FAIL, 2 = the simulation could not run. Bounded in count and time; 127.0.0.1 only; every
// child process and temp dir (and PostgreSQL schema) is removed on exit, error or Ctrl-C.
const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const SCRIPT_ROOT = path.resolve(__dirname, '..', '..');
const LIB_ROOT = process.env.SIM_ROOT ? path.resolve(process.env.SIM_ROOT) : SCRIPT_ROOT;

// Track every child process, including those scripts/lib/federation.js forks (it destructures `fork`
// when first required, so the wrapper must be in place before that require).
const children = new Map(); // proc -> label
const realFork = childProcess.fork;
childProcess.fork = function trackedFork(modulePath, args, options) {
  const proc = realFork.call(this, modulePath, args, options);
  const code = options?.env?.TONGBAN_CODE || '?';
  const kind = String(modulePath).includes(`${path.sep}cli${path.sep}`) ? 'cli' : 'gateway';
  children.set(proc, `${kind}:${code}`);
  proc.once('exit', () => children.delete(proc));
  return proc;
};
const fed = require(path.join(LIB_ROOT, 'scripts', 'lib', 'federation'));
const bot = require(path.join(LIB_ROOT, 'scripts', 'lib', 'case-bot'));
const { replicaProblems } = require(path.join(LIB_ROOT, 'scripts', 'lib', 'reconcile'));
const { metric, metricsByLabel } = require(path.join(SCRIPT_ROOT, 'scripts', 'bench', 'measure'));
const { stopProcesses } = require(path.join(LIB_ROOT, 'scripts', 'lib', 'processes'));
const { expectedStatus, verificationBody } = require(path.join(LIB_ROOT, 'scripts', 'bench', 'licence-data'));
const { citizenCheck, creditCheck, licenceId, orgCodeCheck, prng, selfCheck } = require(path.join(LIB_ROOT, 'scripts', 'lib', 'check-characters'));

// ---------------------------------------------------------------- settings

function intEnv(name, def, min, max) {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer ${min}-${max} (got ${v})`);
  return n;
}

const QUICK = process.env.SIM_QUICK === '1';
const PG = process.env.SIM_PG === '1';
const PG_URL = process.env.SIM_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const MEM_PROBE = process.env.SIM_MEM_PROBE === '1';
const TLS_COUNT = process.env.SIM_TLS_COUNT === '1';
const PROFILE_N = intEnv('SIM_PROFILE', 0, 0, 1000);
const S = {
  durationS: intEnv('SIM_DURATION_S', QUICK ? 20 : 60, 1, 3600),
  participants: intEnv('SIM_PARTICIPANTS', 0, 0, 1000),
  licencesPerProvince: intEnv('SIM_LICENCES', 50, 4, 10_000),
  verifyConcurrency: intEnv('SIM_VERIFY_CONCURRENCY', 8, 0, 256),
  verifications: intEnv('SIM_VERIFICATIONS', 0, 0, 10_000_000),
  seed: intEnv('SIM_SEED', 0, 0, 2 ** 31),
  caseConcurrency: intEnv('SIM_CASE_CONCURRENCY', 2, 0, 64),
  casesPerS: intEnv('SIM_CASES_PER_S', 4, 0, 10_000),
  maxCases: intEnv('SIM_MAX_CASES', 2000, 0, 100_000),
  botIntervalMs: intEnv('SIM_BOT_INTERVAL_MS', 200, 10, 60_000),
  settleS: intEnv('SIM_SETTLE_S', 120, 5, 3600),
  idleS: intEnv('SIM_IDLE_S', 120, 0, 600),
  idleAfterReadyS: intEnv('SIM_IDLE_AFTER_READY_S', 30, 0, 600),
  httpBase: intEnv('SIM_HTTP_BASE', 30000, 1024, 65000),
  grpcBase: intEnv('SIM_GRPC_BASE', 31000, 1024, 65000),
  startConcurrency: 4,
  importConcurrency: 4,
  trustConcurrency: 8,
  reconcileConcurrency: 16,
  refuseRate: 0.05,
  cancelRate: 0.03,
  notFoundRate: 0.05,
  requestTimeoutMs: 15_000,
  gatewayStartTimeoutMs: 120_000,
  cliTimeoutMs: 180_000,
  database: PG ? 'postgres' : 'sqlite',
  gatewayExecArgv: [
    ...(process.env.SIM_GATEWAY_EXEC_ARGV || '').split(/\s+/).filter(Boolean),
    ...(MEM_PROBE ? ['--expose-gc', '-r', path.join(__dirname, 'mem-probe.js')] : []),
    ...(TLS_COUNT ? ['-r', path.join(__dirname, '..', 'bench', 'tls-count-preload.js')] : []),
    ...(PROFILE_N ? ['-r', path.join(__dirname, '..', 'bench', 'profile-preload.js')] : []),
  ],
  memProbe: MEM_PROBE,
};
const GATEWAY_ENV = {
  TONGBAN_LOG_LEVEL: 'warn',
  TONGBAN_DELIVERY_POLL_MS: '250',
  TONGBAN_DELIVERY_BACKOFF_BASE_MS: '100',
  TONGBAN_DELIVERY_BACKOFF_CAP_MS: '2000',
  TONGBAN_DELIVERY_CONCURRENCY: '4',
  ...(PG ? { TONGBAN_DATABASE_POOL_SIZE: '2' } : {}), // 32 × (2 + 1 wake-up listener) connections stays under max_connections = 100
};
const targets = require('../bench/targets');
const TARGETS = { idleRssMiB: targets.GOALS.idleRssMiB, totalRssGiB: 20 };
const FINAL = ['COMPLETED', 'REFUSED', 'CANCELLED'];
// Setup (imports, starts, trust) must finish within this, whatever happens; so must the whole run.
const SETUP_MAX_MS = 900_000;
const RUN_MAX_MS = SETUP_MAX_MS + (S.durationS + S.settleS + 600) * 1000;

const log = (...a) => console.log(...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const MiB = (kB) => kB / 1024;
const f1 = (n) => (Number.isFinite(n) ? n.toFixed(1) : String(n));
const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  if (!s.length) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const countUp = (obj, key, n = 1) => (obj[key] = (obj[key] || 0) + n);

// ---------------------------------------------------------------- cleanup

let tmpDir;
let stopping = false; // set when the load or the whole run ends; loops check it
let cleaning;
const pgSchemas = [];
const robots = [];

async function dropPgSchemas() {
  if (!pgSchemas.length) return;
  const { Client } = require('pg');
  const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    for (const s of pgSchemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  } catch (e) {
    console.error(`dropping PostgreSQL schemas failed: ${e.message} (left: ${pgSchemas.join(', ')})`);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Stops robots and every child (SIGTERM, SIGKILL after 5 s), removes the temp dir and PG schemas. Idempotent. */
function cleanup() {
  cleaning ??= (async () => {
    stopping = true;
    await Promise.race([Promise.all(robots.map((r) => r.stop().catch(() => {}))), sleep(10_000)]);
    await stopProcesses(children.keys());
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = undefined;
    await Promise.race([dropPgSchemas(), sleep(30_000)]);
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping gateways and removing temp files…`);
    cleanup().finally(() => process.exit(130));
  });
}
process.on('exit', () => {
  for (const p of children.keys()) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already exited
    }
  }
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});
const watchdog = setTimeout(() => {
  console.error(`sim: exceeded its time bound (${RUN_MAX_MS / 1000} s); stopping`);
  cleanup().finally(() => process.exit(2));
}, RUN_MAX_MS);
watchdog.unref();

// ---------------------------------------------------------------- helpers

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Runs fn over items with at most n in flight; resolves with the results in order. */
async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await fn(items[i], i);
      }
    }),
  );
  return results;
}

/** Like federation.call, with a timeout. */
async function callT(gw, method, urlPath, body, token, timeoutMs = S.requestTimeoutMs) {
  const res = await fetch(gw.baseUrl + urlPath, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), authorization: `Bearer ${token || gw.apiToken}` },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

const errKey = (e) => `network ${e?.name === 'TimeoutError' ? 'timeout' : e?.cause?.code || e?.name || 'error'}`;

/** Memory of a process from /proc/<pid>/status, in kB. */
function memOf(pid) {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const get = (k) => Number((text.match(new RegExp(`^${k}:\\s+(\\d+)`, 'm')) || [])[1] || NaN);
    // PSS: shared pages (the node binary, libraries) divided among the processes mapping them — what
    // the processes really cost together; the sum of RSS counts every shared page once per process.
    let pssKb = NaN;
    try {
      pssKb = Number((fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').match(/^Pss:\s+(\d+)/m) || [])[1] || NaN);
    } catch {
      // smaps_rollup needs Linux 4.14+: Pss stays NaN without it
    }
    return { vmRssKb: get('VmRSS'), vmHwmKb: get('VmHWM'), rssAnonKb: get('RssAnon'), rssFileKb: get('RssFile'), rssShmemKb: get('RssShmem'), pssKb, threads: get('Threads') };
  } catch {
    return null;
  }
}

let clockTicks;
/** CPU ms (user+system) a process has used, from /proc/<pid>/stat. */
function cpuMsOf(pid) {
  try {
    return statCpuMs(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** utime + stime in ms from the text of a /proc/…/stat file (of a process or of one of its threads). */
function statCpuMs(stat) {
  clockTicks ??= Number(childProcess.execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}

/**
 * CPU ms so far of a process's threads, summed by kind: the main thread (the event loop, and V8's
 * work on it), V8's platform workers (concurrent marking and sweeping, background compilation) and
 * the rest (libuv's pool: scrypt, fs, DNS; worker threads). Node 20 names every thread `node`, so the
 * kind is read from the order of creation (thread ids rise within a process): the main thread, the
 * platform's delayed-task thread, its V8_POOL_SIZE workers, then the others.
 */
const V8_POOL_SIZE = 4; // Node's default --v8-pool-size on a machine with more than one core
function threadCpuMsOf(pid) {
  const out = { main: 0, v8: 0, other: 0 };
  try {
    const tids = fs
      .readdirSync(`/proc/${pid}/task`)
      .map(Number)
      .sort((a, b) => a - b);
    tids.forEach((tid, rank) => {
      const ms = statCpuMs(fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      out[rank === 0 ? 'main' : rank >= 2 && rank < 2 + V8_POOL_SIZE ? 'v8' : 'other'] += ms;
    });
  } catch {
    // the process is gone: what was read stands
  }
  return out;
}

/** A gateway's GC events so far by kind (prom-client's nodejs_gc_duration_seconds): { major: { n, s }, minor: …, incremental: …, weakcb: … }. */
async function gcByKind(g) {
  const m = await metricsByLabel(g, ['nodejs_gc_duration_seconds_count', 'nodejs_gc_duration_seconds_sum'], 'kind');
  return Object.fromEntries(Object.entries(m.nodejs_gc_duration_seconds_count).map(([kind, n]) => [kind, { n, s: m.nodejs_gc_duration_seconds_sum[kind] ?? 0 }]));
}

/** GC events of a window by kind, e.g. "major 1 (38 ms), minor 3 (2 ms)" (wall time on the main thread); "none". */
function gcText(gc) {
  if (!gc) return 'not read';
  const parts = Object.entries(gc)
    .filter(([, v]) => v.n > 0)
    .map(([k, v]) => `${k} ${v.n} (${v.ms.toFixed(0)} ms)`);
  return parts.length ? parts.join(', ') : 'none';
}

/** Busy and total CPU ms of the whole machine so far, from /proc/stat. */
function machineCpuMs() {
  try {
    clockTicks ??= Number(childProcess.execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = v[3] + (v[4] || 0);
    return { busy: ((total - idle) * 1000) / clockTicks, total: (total * 1000) / clockTicks };
  } catch {
    return null;
  }
}

/**
 * Sends `request` to a gateway process over IPC and resolves with its first message that `isReply`
 * accepts, or null when it does not answer within 10 s (or cannot be sent to).
 */
function askChild(proc, request, isReply) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), 10_000);
    const on = (m) => isReply(m) && done(m);
    function done(v) {
      clearTimeout(timer);
      proc.off('message', on);
      resolve(v);
    }
    proc.on('message', on);
    try {
      proc.send(request);
    } catch {
      done(null);
    }
  });
}

/** TLS counters of every gateway (SIM_TLS_COUNT=1), summed: secure contexts, their CPU ms, client and server handshakes. */
async function tlsTotals(gws) {
  const rows = await pool(gws, 8, (g) => askChild(g.proc, { type: 'bench:tls:count' }, (m) => m?.type === 'bench:tls:counts'));
  const total = { gateways: 0, secureContexts: 0, secureContextCpuMs: 0, clientConnects: 0, clientSessionsReused: 0, serverHandshakes: 0, serverSessionsReused: 0 };
  for (const r of rows.filter(Boolean)) {
    total.gateways++;
    for (const k of Object.keys(total)) if (k !== 'gateways') total[k] += r[k];
  }
  return total;
}

let probeSeq = 0;
/** Asks a gateway running scripts/sim/mem-probe.js for its memory figures (null if it does not answer). */
function probeMemory(gw, gc) {
  const id = ++probeSeq;
  return askChild(gw.proc, { type: 'sim:mem', id, gc }, (m) => m?.type === 'sim:mem' && m.id === id);
}

/** Median V8/native breakdown over gateways, before and after a full GC (MiB), with RSS after GC from /proc. */
async function probeSummary(gws) {
  const rows = await pool(gws, 4, async (g) => {
    const p = await probeMemory(g, true);
    return p && { code: g.code, p, rssAfterGcKb: memOf(g.proc.pid)?.vmRssKb };
  });
  const ok = rows.filter(Boolean);
  if (!ok.length) return null;
  const M = (b) => b / 2 ** 20;
  const med = (f) => +f1(median(ok.map(f)));
  const spaces = {};
  for (const name of Object.keys(ok[0].p.spaces)) spaces[name] = { usedMiB: med((r) => M(r.p.spaces[name]?.used || 0)), sizeMiB: med((r) => M(r.p.spaces[name]?.size || 0)) };
  return {
    gateways: ok.length,
    medianMiB: {
      before: {
        rss: med((r) => M(r.p.before.rss)),
        heapTotal: med((r) => M(r.p.before.heapTotal)),
        heapUsed: med((r) => M(r.p.before.heapUsed)),
        external: med((r) => M(r.p.before.external)),
        arrayBuffers: med((r) => M(r.p.before.arrayBuffers)),
      },
      afterGc: {
        rss: med((r) => M(r.rssAfterGcKb * 1024)),
        heapTotal: med((r) => M(r.p.after.heapTotal)),
        heapUsed: med((r) => M(r.p.after.heapUsed)),
        external: med((r) => M(r.p.after.external)),
        arrayBuffers: med((r) => M(r.p.after.arrayBuffers)),
      },
      mallocedByV8: med((r) => M(r.p.heap.mallocedMemory)),
    },
    rssAfterGcMiB: { min: +f1(Math.min(...ok.map((r) => r.rssAfterGcKb / 1024))), max: +f1(Math.max(...ok.map((r) => r.rssAfterGcKb / 1024))) },
    heapSpacesAfterGc: spaces,
    activeHandles: med((r) => r.p.handles.active),
  };
}

const probeLine = (s) =>
  s
    ? `medians — before GC: rss ${s.medianMiB.before.rss}, V8 heap ${s.medianMiB.before.heapUsed} used / ${s.medianMiB.before.heapTotal} total, external ${s.medianMiB.before.external} (ArrayBuffers ${s.medianMiB.before.arrayBuffers}); ` +
      `after full GC: rss ${s.medianMiB.afterGc.rss} (min ${s.rssAfterGcMiB.min}, max ${s.rssAfterGcMiB.max}), heap ${s.medianMiB.afterGc.heapUsed} used / ${s.medianMiB.afterGc.heapTotal} total, external ${s.medianMiB.afterGc.external}; ` +
      `heap spaces used: ${Object.entries(s.heapSpacesAfterGc)
        .filter(([, v]) => v.usedMiB >= 0.5)
        .map(([k, v]) => `${k} ${v.usedMiB}`)
        .join(', ')} MiB; active handles ${s.activeHandles}`
    : 'no answer from the probe';

/** CPU ms used so far by the PostgreSQL server processes alive now (SIM_PG=1). */
function postgresCpuMs() {
  let ms = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') ms += cpuMsOf(pid) || 0;
    } catch {
      // the process is gone: it counts as zero
    }
  }
  return ms;
}

/** RSS and PSS of the PostgreSQL server processes (SIM_PG=1: part of what the federation costs). */
function postgresMemory() {
  let rssKb = 0;
  let pssKb = 0;
  let processes = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      const m = memOf(pid);
      if (!m) continue;
      processes++;
      rssKb += m.vmRssKb || 0;
      pssKb += m.pssKb || 0;
    } catch {
      // the process is gone: it counts as zero
    }
  }
  return { processes, rssMiB: +f1(MiB(rssKb)), pssMiB: +f1(MiB(pssKb)) };
}

function memorySummary(gws) {
  const per = {};
  for (const g of gws) per[g.code] = memOf(g.proc.pid);
  const rss = Object.values(per)
    .filter(Boolean)
    .map((m) => MiB(m.vmRssKb));
  const anon = Object.values(per)
    .filter(Boolean)
    .map((m) => MiB(m.rssAnonKb));
  const file = Object.values(per)
    .filter(Boolean)
    .map((m) => MiB(m.rssFileKb));
  const hwm = Object.values(per)
    .filter(Boolean)
    .map((m) => MiB(m.vmHwmKb));
  const pss = Object.values(per)
    .filter(Boolean)
    .map((m) => MiB(m.pssKb));
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  return {
    at: new Date().toISOString(),
    gateways: rss.length,
    rssMiB: { min: Math.min(...rss), median: median(rss), max: Math.max(...rss), total: sum(rss) },
    rssAnonMiB: { min: Math.min(...anon), median: median(anon), max: Math.max(...anon), total: sum(anon) },
    rssFileMiB: { min: Math.min(...file), median: median(file), max: Math.max(...file) },
    peakHwmMiB: { max: Math.max(...hwm), total: sum(hwm) },
    pssMiB: { median: median(pss), total: sum(pss) },
    ...(PG ? { postgres: postgresMemory() } : {}),
    perGatewayKb: per,
  };
}

const memLine = (m) =>
  `RSS min ${f1(m.rssMiB.min)} / median ${f1(m.rssMiB.median)} / max ${f1(m.rssMiB.max)} MiB, total ${f1(m.rssMiB.total)} MiB (${(m.rssMiB.total / 1024).toFixed(2)} GiB); ` +
  `anon median ${f1(m.rssAnonMiB.median)} MiB, file-backed median ${f1(m.rssFileMiB.median)} MiB; peak VmHWM max ${f1(m.peakHwmMiB.max)} MiB; PSS total ${f1(m.pssMiB.total)} MiB${m.postgres ? `; PostgreSQL server: ${m.postgres.processes} processes, RSS ${m.postgres.rssMiB} MiB, PSS ${m.postgres.pssMiB} MiB` : ''}`;

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function newestTsMtime(dir) {
  let newest = 0;
  if (!fs.existsSync(dir)) return 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestTsMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function git(args) {
  try {
    return childProcess.execFileSync('git', ['-C', LIB_ROOT, ...args], { encoding: 'utf8', timeout: 10_000 }).trim();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- licence data
const pad = (n, w) => String(n).padStart(w, '0');

const TYPE_STYLE = {
  '009': { word: '营', holder: 'company', organ: '市场监督管理局', years: [null, 20] },
  '011': { word: '婚', holder: 'citizen', organ: '民政局', years: [null] },
  '020': { word: '驾', holder: 'citizen', organ: '公安厅交通管理局', years: [6, 10] },
  '031': { word: '不动产权', holder: 'citizen', organ: '自然资源厅', years: [null] },
};
const SURNAMES = '王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈';
const GIVEN = '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞建国文斌宇浩晨欣怡雪梅立新海波';

/**
 * `n` licences issued in participant `p`: issuer credit codes carry region <nn>0100 (so verification
 * routes to p), holders region <nn>0102. Status mix ≈ 88% VALID (some past validUntil = EXPIRED),
 * 6% SUSPENDED, 6% REVOKED; the first 4 of each province are one of each kind. Also `phantoms`:
 * well-formed identifiers of the same issuers that are not imported (expected NOT_FOUND).
 */
function provinceLicences(p, n, types) {
  const nn = p.code.slice(0, 2);
  const issuerRegion = `${nn}0100`;
  const holderRegion = `${nn}0102`;
  const rand = prng(Number(p.code) + 7);
  const int = (min, max) => min + Math.floor(rand() * (max - min + 1));
  const digits = (k) => Array.from({ length: k }, () => int(0, 9)).join('');
  const creditCode = (prefix, region) => {
    const org8 = '0' + digits(7);
    const body = prefix + region + org8 + orgCodeCheck(org8);
    return body + creditCheck(body);
  };
  const tps = types.map((t) => {
    const style = TYPE_STYLE[t.code.slice(18)];
    if (!style) throw new Error(`no style for licence type ${t.code}`);
    return { code: t.code, name: t.name, ...style, organName: `${p.name}${style.organ}`, issuerCode: creditCode('11', issuerRegion) };
  });
  const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
  const records = [];
  for (let i = 0; i < n; i++) {
    // The first four: VALID, EXPIRED, SUSPENDED, REVOKED (on the driving-licence type, which expires).
    const forced = i < 4 ? ['VALID', 'EXPIRED', 'SUSPENDED', 'REVOKED'][i] : null;
    const type = forced ? tps.find((t) => t.code.endsWith('020')) : tps[i % tps.length];
    let issueYear = int(2005, 2025);
    if (forced === 'EXPIRED') issueYear = int(2005, 2012);
    if (forced === 'VALID') issueYear = 2024;
    const month = int(1, 12);
    const day = int(1, 28);
    const serial = `${issueYear}${pad(i, 6)}`;
    const issueDate = `${issueYear}-${pad(month, 2)}-${pad(day, 2)}`;
    const term = forced === 'EXPIRED' ? 6 : forced === 'VALID' ? 10 : type.years[int(0, type.years.length - 1)];
    let holderName;
    let holderCode;
    if (type.holder === 'company') {
      holderName = `${p.name}模拟${pad(i, 5)}号商贸有限公司`;
      holderCode = creditCode('91', holderRegion);
    } else {
      holderName = SURNAMES[int(0, SURNAMES.length - 1)] + GIVEN[int(0, GIVEN.length - 1)] + (rand() < 0.5 ? GIVEN[int(0, GIVEN.length - 1)] : '');
      const b17 = holderRegion + `${int(1950, Math.min(2000, issueYear - 22))}${pad(int(1, 12), 2)}${pad(int(1, 28), 2)}` + digits(3);
      holderCode = b17 + citizenCheck(b17);
    }
    const u = rand();
    const status = forced ? (forced === 'EXPIRED' ? 'VALID' : forced) : u < 0.06 ? 'SUSPENDED' : u < 0.12 ? 'REVOKED' : 'VALID';
    const r = {
      licenceId: licenceId(type.code, type.issuerCode, serial),
      typeCode: type.code,
      name: type.name,
      number: `${nn}${type.word}字${serial}`,
      issuerOrganName: type.organName,
      issuerOrganCode: type.issuerCode,
      holderName,
      holderCode,
      holderCodeType: type.holder === 'company' ? '001' : '111',
      issueDate,
      validFrom: issueDate,
      validUntil: term === null ? null : `${issueYear + term}-${pad(month, 2)}-${pad(day, 2)}`,
      status,
      jurisdictionCode: issuerRegion,
    };
    if (forced === 'EXPIRED' && !(r.validUntil < today)) throw new Error('generated EXPIRED licence is not expired');
    records.push(r);
  }
  // Not imported: same issuers and holders, serials from a year no record uses.
  const phantoms = records.slice(0, 8).map((r, k) => {
    const serial = `2099${pad(k, 6)}`;
    return { ...r, licenceId: licenceId(r.typeCode, r.issuerOrganCode, serial), number: `${nn}字${serial}` };
  });
  return { records, phantoms };
}

// ---------------------------------------------------------------- main

async function main() {
  const t0 = Date.now();
  const setupDeadline = t0 + SETUP_MAX_MS;
  const result = { simulation: 'federation', settings: { ...S, gatewayEnv: GATEWAY_ENV, targets: TARGETS }, problems: [] };

  // -- machine and build
  const gatewayMain = fed.GATEWAY_MAIN;
  if (!fs.existsSync(gatewayMain) || !fs.existsSync(fed.CLI_MAIN)) {
    throw new Error(`${path.relative(process.cwd(), gatewayMain)} is missing: run \`npm run build\` in ${LIB_ROOT} first`);
  }
  const builtAt = fs.statSync(gatewayMain).mtimeMs;
  const sourcesAt = Math.max(newestTsMtime(path.join(LIB_ROOT, 'apps')), newestTsMtime(path.join(LIB_ROOT, 'libs')));
  const dirty = git(['status', '--porcelain', '--', 'apps', 'libs']);
  result.machine = {
    cpuModel: os.cpus()[0]?.model,
    cores: os.cpus().length,
    totalMemGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    date: new Date().toISOString(),
    loadAvgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
  };
  result.build = {
    root: LIB_ROOT,
    gitHead: git(['rev-parse', '--short', 'HEAD']),
    dirtySourceFiles: dirty === null ? null : dirty.split('\n').filter(Boolean).length,
    gatewayMainBuiltAt: new Date(builtAt).toISOString(),
    gatewayMainSha256: crypto.createHash('sha256').update(fs.readFileSync(gatewayMain)).digest('hex').slice(0, 16),
    staleVsSources: sourcesAt > builtAt,
  };
  log(`sim:federation — ${result.machine.cpuModel}, ${result.machine.cores} cores, ${result.machine.totalMemGiB} GiB, node ${process.version}, load avg ${result.machine.loadAvgAtStart.join(' ')}`);
  log(
    `build: ${LIB_ROOT} @ ${result.build.gitHead}${result.build.dirtySourceFiles ? ` (+${result.build.dirtySourceFiles} uncommitted source files)` : ''}, dist built ${result.build.gatewayMainBuiltAt}`,
  );
  if (result.build.staleVsSources) log('WARNING: dist/ is older than apps/ or libs/ sources — the gateways run the last build, not the working tree');

  // -- participants
  const all = JSON.parse(fs.readFileSync(path.join(LIB_ROOT, 'data', 'participants.json'), 'utf8')).participants;
  const participants = S.participants ? all.slice(0, S.participants) : all;
  const types = JSON.parse(fs.readFileSync(path.join(LIB_ROOT, 'data', 'licence-types.json'), 'utf8')).types;
  log(
    `settings: ${participants.length} participants on ${S.database}; ${S.licencesPerProvince} licences each; load ${S.durationS} s: ${S.verifyConcurrency} verification clients, ` +
      `${S.caseConcurrency} case openers at ≤${S.casesPerS || '∞'} cases/s (cap ${S.maxCases}); robots every ${S.botIntervalMs} ms; settle ≤${S.settleS} s; ports HTTP ${S.httpBase}+i, gRPC ${S.grpcBase}+i`,
  );

  const busy = [];
  for (let i = 0; i < participants.length; i++) for (const port of [S.httpBase + i, S.grpcBase + i]) if (!(await portFree(port))) busy.push(port);
  if (busy.length) throw new Error(`ports in use on 127.0.0.1: ${busy.join(', ')} (set SIM_HTTP_BASE / SIM_GRPC_BASE)`);

  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tongban-sim-'));
  const runId = Date.now().toString(36);
  const tls = fed.localPki(
    path.join(tmpDir, 'tls'),
    participants.map((p) => p.code),
    fed.newPkiSecrets(),
  );
  const options = participants.map((p, i) => {
    const schema = `sim_${p.code}_${runId}`;
    if (PG) pgSchemas.push(schema);
    return {
      code: p.code,
      dir: path.join(tmpDir, p.code),
      secrets: fed.newSecrets(),
      tls: tls[p.code],
      httpPort: S.httpBase + i,
      grpcPort: S.grpcBase + i,
      databaseUrl: PG ? PG_URL : undefined,
      env: { ...GATEWAY_ENV, ...(PG ? { TONGBAN_DATABASE_SCHEMA: schema } : {}) },
      execArgv: S.gatewayExecArgv,
    };
  });

  // -- licences
  selfCheck();
  const licences = {};
  const tGen = Date.now();
  for (const [i, p] of participants.entries()) {
    licences[p.code] = provinceLicences(p, S.licencesPerProvince, types);
    fs.mkdirSync(options[i].dir, { recursive: true });
    fs.writeFileSync(path.join(options[i].dir, 'licences.json'), JSON.stringify(licences[p.code].records));
  }
  const expectedMix = {};
  for (const p of participants) for (const r of licences[p.code].records) countUp(expectedMix, expectedStatus(r));
  const tImport = Date.now();
  const imports = await pool(options, S.importConcurrency, async (o) => {
    if (Date.now() > setupDeadline) throw new Error('setup time bound exceeded during imports');
    const r = await withTimeout(fed.runCli(o, ['licences', 'import', path.join(o.dir, 'licences.json')]), S.cliTimeoutMs, `licence import ${o.code}`).catch((e) => ({
      code: -1,
      stdout: '',
      stderr: e.message,
    }));
    if (r.code !== 0) {
      for (const [proc, label] of children) if (label === `cli:${o.code}`) proc.kill('SIGKILL');
      throw new Error(`licence import for ${o.code} failed (${r.code}):\n${r.stderr.slice(-3000)}`);
    }
    const m = r.stdout.match(/created (\d+)/);
    return Number(m ? m[1] : NaN);
  });
  result.licences = { perProvince: S.licencesPerProvince, total: imports.reduce((a, b) => a + b, 0), expectedStatusMix: expectedMix, generateMs: tImport - tGen, importMs: Date.now() - tImport };
  log(
    `licences: ${result.licences.total} imported via the CLI in ${(result.licences.importMs / 1000).toFixed(1)} s (${participants.length} × ${S.licencesPerProvince}; expected mix ${JSON.stringify(expectedMix)})`,
  );

  // -- start gateways
  const tStart = Date.now();
  const startFailures = {};
  const startTimes = {};
  const started = await pool(options, S.startConcurrency, async (o) => {
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (Date.now() > setupDeadline) break;
      const t = Date.now();
      try {
        const gw = await withTimeout(fed.startGateway(o), S.gatewayStartTimeoutMs, `start gateway ${o.code}`);
        startTimes[o.code] = Date.now() - t;
        gw.readyAt = performance.now();
        return gw;
      } catch (e) {
        for (const [proc, label] of children) if (label === `gateway:${o.code}`) proc.kill('SIGKILL');
        startFailures[o.code] = `attempt ${attempt}: ${String(e.message).slice(0, 2000)}`;
        console.error(`gateway ${o.code} failed to start (attempt ${attempt}): ${String(e.message).slice(0, 600)}`);
      }
    }
    return null;
  });
  const gws = started.filter(Boolean);
  const crashed = {};
  for (const g of gws) {
    g.exited.then(({ code, signal }) => {
      if (!stopping) {
        crashed[g.code] = `exited (${code ?? signal}) during the run:\n${g.output().slice(-3000)}`;
        console.error(`gateway ${g.code} exited (${code ?? signal}) during the run!\n${g.output().slice(-1500)}`);
      }
    });
  }
  const st = Object.values(startTimes).sort((a, b) => a - b);
  result.start = { requested: options.length, started: gws.length, failures: startFailures, wallMs: Date.now() - tStart, perGatewayMs: { min: st[0], median: median(st), max: st[st.length - 1] } };
  log(
    `gateways: ${gws.length}/${options.length} started in ${((Date.now() - tStart) / 1000).toFixed(1)} s (${S.startConcurrency} at a time; each ${st[0]}–${st[st.length - 1]} ms, median ${median(st)} ms)`,
  );
  if (gws.length < 2) throw new Error(`only ${gws.length} gateways started: ${JSON.stringify(startFailures).slice(0, 3000)}`);

  // -- trust: every gateway trusts every other one (pairs ordered so concurrent calls hit different gateways)
  const tTrust = Date.now();
  const pairs = [];
  for (let d = 1; d < gws.length; d++) for (let i = 0; i < gws.length; i++) pairs.push([gws[i], gws[(i + d) % gws.length]]);
  const trustFailures = [];
  let trustRetries = 0;
  await pool(pairs, S.trustConcurrency, async ([a, b]) => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      if (Date.now() > setupDeadline) return trustFailures.push(`${a.code}→${b.code}: setup time bound`);
      try {
        await withTimeout(fed.trustPeer(a, b), 30_000, `trust ${a.code}→${b.code}`);
        return;
      } catch (e) {
        if (attempt === 3) trustFailures.push(`${a.code}→${b.code}: ${String(e.message).slice(0, 300)}`);
        else trustRetries++;
        await sleep(500);
      }
    }
  });
  // Every gateway sees every other one as an ACTIVE peer.
  const peerCounts = await pool(gws, 8, async (g) => {
    const r = await callT(g, 'GET', '/admin/peers', undefined, g.adminToken).catch(() => ({ status: 0 }));
    const list = r.status === 200 ? r.body.peers || r.body : [];
    return Array.isArray(list) ? list.filter((p) => p.status === 'ACTIVE').length : -1;
  });
  const fullyTrusted = peerCounts.every((n) => n === gws.length - 1);
  result.trust = {
    calls: pairs.length,
    concurrency: S.trustConcurrency,
    wallMs: Date.now() - tTrust,
    retries: trustRetries,
    failures: trustFailures,
    activePeersPerGateway: { min: Math.min(...peerCounts), max: Math.max(...peerCounts) },
    fullyTrusted,
  };
  log(
    `trust: ${pairs.length} admin trust calls (${S.trustConcurrency} at a time) in ${(result.trust.wallMs / 1000).toFixed(1)} s; ${trustFailures.length} failed, ${trustRetries} retried; ACTIVE peers per gateway ${Math.min(...peerCounts)}–${Math.max(...peerCounts)} (expected ${gws.length - 1})`,
  );
  for (const f of trustFailures.slice(0, 10)) log(`  trust failure: ${f}`);

  // -- preconnect (TONGBAN_PEER_PRECONNECT): every gateway opens each peer's connection when it trusts
  // it, so the last links of the trust phase leave handshakes still running. The idle window starts
  // once every gateway has ended its attempts (tongban_peer_preconnects_total = its peers; bounded),
  // so it measures an idle federation; a gateway that counts none has preconnect off: no wait.
  {
    const tPre = Date.now();
    const counts = () => pool(gws, 8, (g) => metric(g, 'tongban_peer_preconnects_total').catch(() => -1));
    let n = await counts();
    const on = n.some((c) => c > 0);
    while (on && n.some((c) => c < gws.length - 1) && Date.now() - tPre < 30_000) {
      await sleep(200);
      n = await counts();
    }
    const failed = on ? (await pool(gws, 8, (g) => metric(g, 'tongban_peer_preconnects_total', { outcome: 'failed' }).catch(() => 0))).reduce((a, b) => a + b, 0) : 0;
    result.preconnect = on ? { waitMs: Date.now() - tPre, attempts: n.reduce((a, b) => a + b, 0), failed } : null;
    log(
      on
        ? `preconnect: ${result.preconnect.attempts} peer connections opened ahead of first calls (${failed} failed); settled ${((Date.now() - tPre) / 1000).toFixed(1)} s after the trust phase`
        : 'preconnect: off (no gateway counted an attempt)',
    );
  }

  // -- idle memory and CPU (CPU time each gateway used over the quiet window: holds on a loaded machine)
  // The window starts once the youngest gateway has been ready SIM_IDLE_AFTER_READY_S: a gateway's first
  // half-minute holds its start-up's own follow-up work (JIT, the start-up memory release's collection;
  // idle-cost.js measured 1.15-1.20 % for a gateway 5 s after trust, 0.05-0.10 % after 40 s, with
  // preconnect on or off), which is not the cost of an idle gateway.
  {
    const youngestReady = Math.max(...gws.map((g) => g.readyAt));
    const waitMs = Math.max(0, S.idleAfterReadyS * 1000 - (performance.now() - youngestReady));
    if (S.idleS && waitMs > 0) {
      log(`idle window: waiting ${(waitMs / 1000).toFixed(1)} s until every gateway has been ready ${S.idleAfterReadyS} s`);
      await sleep(waitMs);
    }
  }
  // Each gateway's garbage collection so far (prom-client's nodejs_gc_duration_seconds, every kind: the
  // wall time of V8's GC events), read before the window's CPU snapshot and after its end; with each
  // process's CPU by thread (threadCpuMsOf), it tells what an outlier of the idle window was doing.
  const gcSeconds = () => Promise.all(gws.map((g) => gcByKind(g).catch(() => null)));
  const gcFrom = S.idleS ? await gcSeconds() : [];
  const idleFrom = { at: performance.now(), cpu: gws.map((g) => cpuMsOf(g.proc.pid)), threads: gws.map((g) => threadCpuMsOf(g.proc.pid)), machine: machineCpuMs() };
  if (S.idleS) await sleep(S.idleS * 1000);
  if (S.idleS) {
    const ms = performance.now() - idleFrom.at;
    const cpuTo = gws.map((g) => cpuMsOf(g.proc.pid));
    const threadsTo = gws.map((g) => threadCpuMsOf(g.proc.pid));
    const gcTo = await gcSeconds();
    const byGateway = gws.map((g, i) => ({
      code: g.code,
      pct: ((cpuTo[i] - idleFrom.cpu[i]) / ms) * 100,
      gc: gcFrom[i] && gcTo[i] ? Object.fromEntries(Object.keys(gcTo[i]).map((k) => [k, { n: gcTo[i][k].n - (gcFrom[i][k]?.n ?? 0), ms: (gcTo[i][k].s - (gcFrom[i][k]?.s ?? 0)) * 1000 }])) : null,
      threadsMs: Object.fromEntries(Object.keys(threadsTo[i]).map((k) => [k, threadsTo[i][k] - idleFrom.threads[i][k]])),
      readyS: (idleFrom.at - g.readyAt) / 1000,
    }));
    const pct = byGateway.map((r) => r.pct).filter((v) => Number.isFinite(v));
    const m = machineCpuMs();
    const otherCores = m && idleFrom.machine ? (m.busy - idleFrom.machine.busy) / ms - pct.reduce((a, b) => a + b, 0) / 100 : null;
    result.cpuIdle = { windowS: ms / 1000, perGatewayPct: { max: Math.max(...pct), median: pct.sort((a, b) => a - b)[pct.length >> 1] }, totalCores: pct.reduce((a, b) => a + b, 0) / 100, otherCores };
    log(
      `idle CPU (${gws.length} gateways, ${(ms / 1000).toFixed(1)} s): per gateway median ${result.cpuIdle.perGatewayPct.median.toFixed(2)} % / max ${result.cpuIdle.perGatewayPct.max.toFixed(2)} % of a core, all together ${result.cpuIdle.totalCores.toFixed(3)} cores${otherCores === null ? '' : `; other processes ${otherCores.toFixed(2)} cores`}`,
    );
    // Which gateways, and how long before the window each was ready (a one-off GC after start-up shows here).
    result.cpuIdle.largest = byGateway.sort((a, b) => b.pct - a.pct).slice(0, 5);
    log(
      `  largest idle CPU: ${result.cpuIdle.largest.map((r) => `${r.code} ${r.pct.toFixed(2)} % (main thread ${r.threadsMs.main.toFixed(0)} ms; V8 workers ${r.threadsMs.v8.toFixed(0)} ms; other threads ${r.threadsMs.other.toFixed(0)} ms; GC events ${gcText(r.gc)}; ready ${r.readyS.toFixed(0)} s before the window)`).join(', ')}`,
    );
  }
  result.memoryIdle = memorySummary(gws);
  log(`idle memory (${gws.length} gateways, ${S.idleS} s after start+trust): ${memLine(result.memoryIdle)}`);
  if (MEM_PROBE) {
    result.memoryIdleProbe = await probeSummary(gws);
    log(`  idle probe (MiB): ${probeLine(result.memoryIdleProbe)}`);
  }

  // -- catalogue and robots
  const items = await bot.catalogueItems(gws[0]);
  const itemList = [...items.values()];
  for (const g of gws) robots.push(bot.startBot(() => g, items, { refuseRate: S.refuseRate, intervalMs: S.botIntervalMs }));
  log(`catalogue: ${itemList.length} items (${itemList.map((i) => i.code).join(', ')}); ${robots.length} robots started`);

  // -- load
  const issuers = gws.filter((g) => licences[g.code]);
  const ver = { ok: 0, latMs: [], errors: {}, errorSamples: {}, mismatches: 0, mismatchSamples: [], byExpected: {} };
  // How much of the window is cold: each verification's latency by whether its asker had called that issuer
  // before in this run (a first call opens the pair's gRPC channel and mutual-TLS connection) and by when it ended.
  const askedPairs = new Set();
  const byPair = { first: [], repeat: [] };
  const perSlice = []; // verifications completed per SLICE_MS of the load
  const SLICE_MS = 5000;
  const cases = new Map();
  const caseOpen = { attempts: 0, errors: {}, errorSamples: {}, latMs: [], cancelRequested: 0, cancelAccepted: 0, cancelErrors: {} };
  const perItemOpened = Object.fromEntries(itemList.map((i) => [i.code, 0]));
  const tlsBefore = TLS_COUNT ? await tlsTotals(gws) : null;
  const profiled = PROFILE_N ? gws.filter((_, i) => i % Math.max(1, Math.floor(gws.length / PROFILE_N)) === 0).slice(0, PROFILE_N) : [];
  await pool(profiled, 8, (g) => askChild(g.proc, { type: 'bench:profile:start', intervalUs: 200 }, (m) => m?.type === 'bench:profile:started'));
  const cpuBefore = Object.fromEntries(gws.map((g) => [g.code, cpuMsOf(g.proc.pid)]));
  const selfCpuBefore = process.cpuUsage();
  const machineBefore = machineCpuMs();
  const pgCpuBefore = PG ? postgresCpuMs() : 0;
  const loadStart = Date.now();
  let loadEnd = loadStart + S.durationS * 1000;
  let loadOver = false;
  // The verification draws: seeded (SIM_SEED) for fixed-work comparisons, else Math.random.
  const draw = S.seed ? prng(S.seed) : Math.random;
  const drawFrom = (a) => a[Math.floor(draw() * a.length)];
  let verificationsSent = 0;

  const verifyClient = async () => {
    while (Date.now() < loadEnd && !stopping && !(S.verifications && verificationsSent >= S.verifications)) {
      verificationsSent++;
      const asker = drawFrom(gws);
      const candidates = issuers.length > 1 ? issuers.filter((g) => g !== asker) : issuers;
      const issuer = drawFrom(candidates);
      const L = licences[issuer.code];
      const notFound = draw() < S.notFoundRate;
      const rec = notFound ? drawFrom(L.phantoms) : drawFrom(L.records);
      const expected = notFound ? 'NOT_FOUND' : expectedStatus(rec);
      const pairKey = `${asker.code}>${issuer.code}`;
      const firstOfPair = !askedPairs.has(pairKey);
      askedPairs.add(pairKey);
      const t = performance.now();
      let r;
      try {
        r = await callT(asker, 'POST', '/v1/verifications', verificationBody(rec));
      } catch (e) {
        countUp(ver.errors, errKey(e));
        await sleep(50);
        continue;
      }
      const ms = performance.now() - t;
      if (r.status !== 200) {
        const key = `HTTP ${r.status} ${r.body?.error?.code || ''}`.trim();
        countUp(ver.errors, key);
        if (!ver.errorSamples[key]) ver.errorSamples[key] = `${asker.code}→${issuer.code}: ${JSON.stringify(r.body).slice(0, 400)}`;
        continue;
      }
      ver.ok++;
      ver.latMs.push(ms);
      (firstOfPair ? byPair.first : byPair.repeat).push(ms);
      const slice = Math.floor((Date.now() - loadStart) / SLICE_MS);
      perSlice[slice] = (perSlice[slice] || 0) + 1;
      countUp(ver.byExpected, expected);
      const b = r.body;
      const holderOk = notFound ? true : b.holderMatch?.name === 'MATCH' && b.holderMatch?.code === 'MATCH';
      if (b.status !== expected || b.issuer?.province !== issuer.code || !holderOk) {
        ver.mismatches++;
        if (ver.mismatchSamples.length < 10)
          ver.mismatchSamples.push({ asker: asker.code, issuer: issuer.code, licenceId: rec.licenceId, expected, got: { status: b.status, issuer: b.issuer, holderMatch: b.holderMatch } });
      }
    }
  };

  let ticket = 0;
  let itemIdx = 0;
  const caseOpener = async () => {
    while (Date.now() < loadEnd && !stopping && caseOpen.attempts < S.maxCases) {
      if (S.casesPerS) {
        const due = loadStart + (ticket++ * 1000) / S.casesPerS;
        if (due > loadEnd) break;
        if (due > Date.now()) await sleep(due - Date.now());
        if (Date.now() >= loadEnd || stopping) break;
      }
      caseOpen.attempts++;
      const item = itemList[itemIdx++ % itemList.length];
      const owner = pick(gws);
      const other = pick(gws.filter((g) => g !== owner));
      const t = performance.now();
      let r;
      try {
        r = await callT(owner, 'POST', '/v1/cases', bot.caseBody(item, owner.code, [other.code]));
      } catch (e) {
        countUp(caseOpen.errors, errKey(e));
        continue;
      }
      if (r.status !== 201) {
        const key = `HTTP ${r.status} ${r.body?.error?.code || ''}`.trim();
        countUp(caseOpen.errors, key);
        if (!caseOpen.errorSamples[key]) caseOpen.errorSamples[key] = `${item.code} at ${owner.code}: ${JSON.stringify(r.body).slice(0, 400)}`;
        continue;
      }
      caseOpen.latMs.push(performance.now() - t);
      perItemOpened[item.code]++;
      const c = { item: item.code, owner: owner.code, participants: [...new Set(Object.values(r.body.participants))], cancelRequested: false };
      cases.set(r.body.collaborationId, c);
      if (Math.random() < S.cancelRate) {
        c.cancelRequested = true;
        caseOpen.cancelRequested++;
        try {
          const x = await callT(owner, 'POST', `/v1/cases/${r.body.collaborationId}/cancel`, { reason: 'simulated cancellation' });
          if (x.status === 200) caseOpen.cancelAccepted++;
          else countUp(caseOpen.cancelErrors, `HTTP ${x.status} ${x.body?.error?.code || ''}`.trim());
        } catch (e) {
          countUp(caseOpen.cancelErrors, errKey(e));
        }
      }
    }
  };

  const progress = (async () => {
    let last = { ok: 0, t: loadStart };
    while (!loadOver && !stopping) {
      await sleep(Math.min(10_000, Math.max(1000, loadEnd - Date.now())));
      if (loadOver || stopping) break;
      const now = Date.now();
      const errs = Object.values(ver.errors).reduce((a, b) => a + b, 0);
      log(
        `  t=${((now - loadStart) / 1000).toFixed(0)}s: ${ver.ok} verifications (${((ver.ok - last.ok) / ((now - last.t) / 1000)).toFixed(1)}/s, ${errs} errors, ${ver.mismatches} mismatches), ${cases.size} cases opened; load avg ${os.loadavg()[0].toFixed(2)}`,
      );
      last = { ok: ver.ok, t: now };
    }
  })();

  log(`load: ${S.verifications ? `${S.verifications} verifications (at most ${S.durationS} s)` : `${S.durationS} s`}…`);
  const verifiers = Promise.all(Array.from({ length: S.verifyConcurrency }, verifyClient)).then(() => {
    // Fixed work: the case openers stop with the verifications.
    if (S.verifications) loadEnd = Math.min(loadEnd, Date.now());
  });
  await Promise.all([verifiers, ...Array.from({ length: S.caseConcurrency }, caseOpener)]);
  loadOver = true;
  await progress;
  const loadMs = Date.now() - loadStart;
  const cpuAfter = Object.fromEntries(gws.map((g) => [g.code, cpuMsOf(g.proc.pid)]));
  const selfCpu = process.cpuUsage(selfCpuBefore);
  const machineAfter = machineCpuMs();
  // Backends that exited during the load are missed (their CPU then counts as "other").
  const pgCpuMs = PG ? Math.max(0, postgresCpuMs() - pgCpuBefore) : 0;
  const gwCpuMs = gws.reduce((a, g) => a + ((cpuAfter[g.code] ?? 0) - (cpuBefore[g.code] ?? 0)), 0);
  result.memoryEndOfLoad = memorySummary(gws);
  if (profiled.length) {
    fs.mkdirSync(path.join(SCRIPT_ROOT, '.bench'), { recursive: true });
    const files = await pool(profiled, 4, async (g) => {
      const file = path.join(SCRIPT_ROOT, '.bench', `sim-profile-${g.code}.cpuprofile`);
      const m = await askChild(g.proc, { type: 'bench:profile:stop', file }, (r) => r?.type === 'bench:profile:written' || r?.type === 'bench:profile:error');
      return m?.type === 'bench:profile:written'
        ? `${g.code}: ${path.relative(process.cwd(), file)} (${f1((cpuAfter[g.code] - cpuBefore[g.code]) / 1000)} CPU-s in the load)`
        : `${g.code}: no profile`;
    });
    log(`CPU profiles of the load phase: ${files.join('; ')}`);
  }
  if (TLS_COUNT) {
    const after = await tlsTotals(gws);
    result.tlsDuringLoad = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, k === 'gateways' ? v : +(v - tlsBefore[k]).toFixed(1)]));
  }

  const vl = [...ver.latMs].sort((a, b) => a - b);
  result.verifications = {
    ok: ver.ok,
    perSec: ver.ok / (loadMs / 1000),
    p50Ms: pct(vl, 50),
    p99Ms: pct(vl, 99),
    maxMs: vl[vl.length - 1],
    errors: ver.errors,
    errorSamples: ver.errorSamples,
    mismatches: ver.mismatches,
    mismatchSamples: ver.mismatchSamples,
    byExpectedStatus: ver.byExpected,
    byPair: Object.fromEntries(
      Object.entries(byPair).map(([k, a]) => {
        const s = a.sort((x, y) => x - y);
        return [k, { n: s.length, meanMs: s.reduce((x, y) => x + y, 0) / (s.length || 1), p50Ms: pct(s, 50), p99Ms: pct(s, 99) }];
      }),
    ),
    distinctPairs: askedPairs.size,
    perSliceRates: Array.from({ length: perSlice.length }, (_, i) => +((perSlice[i] || 0) / (SLICE_MS / 1000)).toFixed(1)),
  };
  const ol = [...caseOpen.latMs].sort((a, b) => a - b);
  const driverCpuMs = (selfCpu.user + selfCpu.system) / 1000;
  const machineBusyMs = machineBefore && machineAfter ? machineAfter.busy - machineBefore.busy : NaN;
  const otherCpuMs = machineBusyMs - gwCpuMs - driverCpuMs - pgCpuMs;
  result.load = {
    durationMs: loadMs,
    gatewayCpuMs: gwCpuMs,
    gatewayCpuCores: gwCpuMs / loadMs,
    driverCpuMs,
    machineBusyCores: machineBusyMs / loadMs,
    ...(PG ? { postgresCpuCores: pgCpuMs / loadMs } : {}),
    otherProcessesCpuCores: otherCpuMs / loadMs,
    loadAvgAtEndOfLoad: os.loadavg().map((x) => +x.toFixed(2)),
  };
  log(
    `load done in ${(loadMs / 1000).toFixed(1)} s: gateways used ${(gwCpuMs / 1000).toFixed(1)} CPU-s (${(gwCpuMs / loadMs).toFixed(2)} cores), the driver ${(driverCpuMs / 1000).toFixed(1)} CPU-s${PG ? `, PostgreSQL ${(pgCpuMs / 1000).toFixed(1)} CPU-s` : ''}; ` +
      `machine busy ${result.load.machineBusyCores.toFixed(2)} of ${os.cpus().length} cores, of which other processes (not this simulation) ${result.load.otherProcessesCpuCores.toFixed(2)}`,
  );
  const operations = ver.ok + caseOpen.attempts;
  result.load.gatewayCpuMsPerOperation = operations ? gwCpuMs / operations : null;
  log(`  gateway CPU per operation (verifications + case openings, ${operations}): ${f1(result.load.gatewayCpuMsPerOperation)} ms`);
  if (result.tlsDuringLoad) {
    const t = result.tlsDuringLoad;
    log(
      `  TLS during the load (${t.gateways} gateways): ${t.clientConnects} client handshakes (${t.clientSessionsReused} resumed), ${t.serverHandshakes} server handshakes, ${t.secureContexts} secure contexts built (${f1(t.secureContextCpuMs)} ms CPU)`,
    );
  }
  log(`  ${cases.size} cases opened (open p50 ${f1(pct(ol, 50))} ms, p99 ${f1(pct(ol, 99))} ms); memory now: ${memLine(result.memoryEndOfLoad)}`);

  // -- settle: every case final at every participant, every outbox drained (bounded)
  const tSettle = Date.now();
  const settleBy = tSettle + S.settleS * 1000;
  const views = new Map(); // id -> {code: view}
  let unfinished = [...cases.keys()];
  let undelivered = [];
  log(`settling: waiting ≤${S.settleS} s for ${unfinished.length} cases to be final everywhere…`);
  while (Date.now() < settleBy && !stopping) {
    const still = [];
    await pool(unfinished, S.reconcileConcurrency, async (id) => {
      const c = cases.get(id);
      const vs = {};
      let final = true;
      for (const code of c.participants) {
        const g = gws.find((x) => x.code === code);
        const r = await callT(g, 'GET', `/v1/cases/${id}`).catch(() => ({ status: 0 }));
        if (r.status === 200) vs[code] = r.body;
        if (r.status !== 200 || !FINAL.includes(r.body.state)) final = false;
      }
      views.set(id, vs);
      if (!final) still.push(id);
    });
    unfinished = still;
    if (!unfinished.length) {
      const depths = await pool(gws, 8, async (g) => {
        const r = await callT(g, 'GET', '/admin/outbox/depth', undefined, g.adminToken).catch(() => ({ status: 0 }));
        return r.status === 200 ? r.body.depth.filter((d) => d.count > 0).map((d) => ({ gateway: g.code, ...d })) : [{ gateway: g.code, status: 'UNKNOWN', count: -1 }];
      });
      undelivered = depths.flat();
      if (!undelivered.some((d) => d.status === 'PENDING' || d.status === 'UNKNOWN')) break;
    }
    await sleep(1000);
  }
  const settleMs = Date.now() - tSettle;
  log(`settled in ${(settleMs / 1000).toFixed(1)} s: ${unfinished.length} cases not final everywhere; undelivered outbox rows: ${undelivered.reduce((a, d) => a + Math.max(0, d.count), 0)}`);
  const robotActions = (await Promise.race([Promise.all(robots.map((r) => r.stop())), sleep(20_000).then(() => [])])).reduce((a, b) => a + b, 0);
  robots.length = 0;

  // -- reconcile (as scripts/soak/cases-soak.js), from the views read when each case was last seen
  const problems = [];
  const perItem = Object.fromEntries(itemList.map((i) => [i.code, { opened: perItemOpened[i.code], COMPLETED: 0, REFUSED: 0, CANCELLED: 0, notFinal: 0, closeMs: [] }]));
  const closeMs = [];
  let cancelNotHonoured = 0;
  for (const [id, c] of cases) {
    const vs = views.get(id) || {};
    const o = vs[c.owner];
    const pi = perItem[c.item];
    if (!o || !FINAL.includes(o.state)) {
      pi.notFinal++;
      problems.push(`${id} (${c.item}): ${o ? o.state : 'unreadable'} at owner ${c.owner}`);
      continue;
    }
    pi[o.state]++;
    if (o.closedAt) {
      const ms = Date.parse(o.closedAt) - Date.parse(o.openedAt);
      closeMs.push(ms);
      pi.closeMs.push(ms);
    }
    if (c.cancelRequested && o.state !== 'CANCELLED') cancelNotHonoured++;
    problems.push(...replicaProblems(id, c.owner, Object.fromEntries(c.participants.map((p) => [p, vs[p]]))));
  }
  for (const d of undelivered) problems.push(`${d.gateway}: ${d.count} ${d.status} outbox messages to ${d.peer}`);
  for (const [code, why] of Object.entries(crashed)) problems.push(`gateway ${code} ${why.split('\n')[0]}`);
  const cl = closeMs.sort((a, b) => a - b);
  const counts = { COMPLETED: 0, REFUSED: 0, CANCELLED: 0, notFinal: 0 };
  for (const pi of Object.values(perItem)) for (const k of Object.keys(counts)) counts[k] += pi[k];
  result.cases = {
    opened: cases.size,
    openAttempts: caseOpen.attempts,
    openErrors: caseOpen.errors,
    openErrorSamples: caseOpen.errorSamples,
    openP50Ms: pct(ol, 50),
    openP99Ms: pct(ol, 99),
    cancelRequested: caseOpen.cancelRequested,
    cancelAccepted: caseOpen.cancelAccepted,
    cancelErrors: caseOpen.cancelErrors,
    cancelRequestedButNotCancelled: cancelNotHonoured,
    final: counts,
    openToClosedP50Ms: pct(cl, 50),
    openToClosedP99Ms: pct(cl, 99),
    openToClosedMaxMs: cl[cl.length - 1],
    perItem: Object.fromEntries(
      Object.entries(perItem).map(([k, v]) => {
        const s = v.closeMs.sort((a, b) => a - b);
        return [k, { opened: v.opened, COMPLETED: v.COMPLETED, REFUSED: v.REFUSED, CANCELLED: v.CANCELLED, notFinal: v.notFinal, openToClosedP50Ms: pct(s, 50), openToClosedP99Ms: pct(s, 99) }];
      }),
    ),
    settleMs,
    robotActions,
    problems: problems.slice(0, 200),
    problemCount: problems.length,
  };

  // -- end memory (after the load and the settle, gateways still up)
  result.memoryEnd = memorySummary(gws);
  if (MEM_PROBE) result.memoryEndProbe = await probeSummary(gws);
  result.machine.loadAvgAtEnd = os.loadavg().map((x) => +x.toFixed(2));

  // -- report
  log('');
  log('================ federation simulation ================');
  log(
    `participants: ${gws.length}/${options.length} gateways up on ${S.database}${Object.keys(startFailures).length ? ` (start failures: ${Object.keys(startFailures).join(', ')})` : ''}; trust ${fullyTrusted && !trustFailures.length ? `complete (${pairs.length} links)` : `INCOMPLETE (${trustFailures.length} failed)`}`,
  );
  log(
    `CPU during the load: gateways ${result.load.gatewayCpuCores.toFixed(2)} cores, driver ${(result.load.driverCpuMs / result.load.durationMs).toFixed(2)}${PG ? `, PostgreSQL ${result.load.postgresCpuCores.toFixed(2)}` : ''}, other processes on the machine ${result.load.otherProcessesCpuCores.toFixed(2)} (of ${os.cpus().length}); load avg at start ${result.machine.loadAvgAtStart.join(' ')}, end ${result.machine.loadAvgAtEnd.join(' ')}` +
      (result.load.otherProcessesCpuCores > 0.25 ? ' — NOTE: other work shared the CPU; throughput and latency are understated' : ''),
  );
  const V = result.verifications;
  log(
    `verifications: ${V.ok} OK in ${(loadMs / 1000).toFixed(1)} s = ${V.perSec.toFixed(1)}/s; latency p50 ${f1(V.p50Ms)} ms, p99 ${f1(V.p99Ms)} ms, max ${f1(V.maxMs)} ms; by expected status ${JSON.stringify(V.byExpectedStatus)}`,
  );
  log(
    `  first call of an asker→issuer pair in this run: ${V.byPair.first.n} (${V.distinctPairs} pairs asked), mean ${f1(V.byPair.first.meanMs)} ms, p50 ${f1(V.byPair.first.p50Ms)}, p99 ${f1(V.byPair.first.p99Ms)}; ` +
      `repeat calls: ${V.byPair.repeat.n}, mean ${f1(V.byPair.repeat.meanMs)} ms, p50 ${f1(V.byPair.repeat.p50Ms)}, p99 ${f1(V.byPair.repeat.p99Ms)}; per ${SLICE_MS / 1000} s of the load: ${V.perSliceRates.join(', ')}/s`,
  );
  log(`  status mismatches: ${V.mismatches}; errors by code: ${Object.keys(V.errors).length ? JSON.stringify(V.errors) : 'none'}`);
  for (const [k, s] of Object.entries(V.errorSamples)) log(`    e.g. ${k}: ${s}`);
  for (const m of V.mismatchSamples.slice(0, 3)) log(`    mismatch: ${JSON.stringify(m)}`);
  const C = result.cases;
  log(
    `cases: ${C.opened} opened (${C.openAttempts} attempts; open errors ${Object.keys(C.openErrors).length ? JSON.stringify(C.openErrors) : 'none'}); ${C.cancelRequested} cancels requested (${C.cancelAccepted} accepted${Object.keys(C.cancelErrors).length ? `, ${JSON.stringify(C.cancelErrors)}` : ''})`,
  );
  for (const [k, s] of Object.entries(C.openErrorSamples)) log(`    e.g. ${k}: ${s}`);
  log(
    `  final at owner: ${C.final.COMPLETED} completed, ${C.final.REFUSED} refused, ${C.final.CANCELLED} cancelled, ${C.final.notFinal} not final; open→closed p50 ${f1(C.openToClosedP50Ms)} ms, p99 ${f1(C.openToClosedP99Ms)} ms, max ${f1(C.openToClosedMaxMs)} ms; robots acted ${robotActions} times`,
  );
  log(`  ${'item'.padEnd(28)} ${'opened'.padStart(6)} ${'done'.padStart(6)} ${'refused'.padStart(7)} ${'cancel'.padStart(6)} ${'open'.padStart(5)}  p50 ms   p99 ms`);
  for (const [k, v] of Object.entries(C.perItem)) {
    log(
      `  ${k.padEnd(28)} ${String(v.opened).padStart(6)} ${String(v.COMPLETED).padStart(6)} ${String(v.REFUSED).padStart(7)} ${String(v.CANCELLED).padStart(6)} ${String(v.notFinal).padStart(5)}  ${f1(v.openToClosedP50Ms).padStart(7)}  ${f1(v.openToClosedP99Ms).padStart(7)}`,
    );
  }
  log(
    `  reconciliation: ${problems.length ? `FAILED (${problems.length} problems)` : 'every case in exactly one final state at its owner and every participant; no step applied twice; no outbox message pending or dead'}`,
  );
  for (const p of problems.slice(0, 20)) log(`    ${p}`);
  log(`memory idle:          ${memLine(result.memoryIdle)}`);
  log(`memory end of load:   ${memLine(result.memoryEndOfLoad)}`);
  log(`memory end (settled): ${memLine(result.memoryEnd)}`);
  if (MEM_PROBE) {
    log(`  idle probe (MiB): ${probeLine(result.memoryIdleProbe)}`);
    log(`  end probe (MiB):  ${probeLine(result.memoryEndProbe)}`);
  }
  const top = Object.entries(result.memoryIdle.perGatewayKb)
    .filter(([, m]) => m)
    .sort((a, b) => b[1].vmRssKb - a[1].vmRssKb)
    .slice(0, 3)
    .map(([c, m]) => `${c} ${f1(MiB(m.vmRssKb))}`)
    .join(', ');
  log(`  largest idle: ${top} MiB`);

  const totalPeakGiB = result.memoryEnd.peakHwmMiB.total / 1024;
  const checks = [
    [`every participant started and trusts every other one`, gws.length === options.length && fullyTrusted && !trustFailures.length],
    [`idle gateway RSS ≤ ${TARGETS.idleRssMiB} MiB (max ${f1(result.memoryIdle.rssMiB.max)} MiB)`, result.memoryIdle.rssMiB.max <= TARGETS.idleRssMiB],
    [
      `whole federation fits: total RSS < ${TARGETS.totalRssGiB} GiB (end ${(result.memoryEnd.rssMiB.total / 1024).toFixed(2)} GiB; sum of per-gateway peaks ${totalPeakGiB.toFixed(2)} GiB)`,
      totalPeakGiB < TARGETS.totalRssGiB && result.memoryEnd.rssMiB.total / 1024 < TARGETS.totalRssGiB,
    ],
    [`every case reconciled (${C.opened} cases, ${problems.length} problems)`, problems.length === 0 && C.final.notFinal === 0 && C.opened > 0],
    [
      `every verification answered as generated (${V.mismatches} mismatches, ${Object.values(V.errors).reduce((a, b) => a + b, 0)} errors)`,
      V.mismatches === 0 && Object.keys(V.errors).length === 0 && V.ok > 0,
    ],
  ];
  result.targets = checks.map(([what, ok]) => ({ what, pass: ok }));
  for (const [what, ok] of checks) log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
  const G = targets.GOALS;
  const loadRssMax = result.memoryEndOfLoad?.rssMiB?.max;
  result.issue10 = targets.report(
    'sim:federation',
    [
      targets.check(
        `idle gateway RSS ≤ ${G.idleRssMiB} MiB`,
        result.memoryIdle.rssMiB.max <= G.idleRssMiB,
        `${f1(result.memoryIdle.rssMiB.max)} MiB (max of ${gws.length})`,
        result.memoryIdle.rssMiB.max,
      ),
      targets.check(
        `gateway RSS under load ≤ ${G.rssUnderLoadMiB} MiB`,
        loadRssMax === undefined ? null : loadRssMax <= G.rssUnderLoadMiB,
        loadRssMax === undefined ? 'not sampled' : `${f1(loadRssMax)} MiB (max, end of load)`,
        loadRssMax,
      ),
      targets.check(
        `idle gateway CPU ≤ ${G.idleCpuShare * 100} % of a core`,
        result.cpuIdle ? result.cpuIdle.perGatewayPct.max <= G.idleCpuShare * 100 : null,
        result.cpuIdle ? `${result.cpuIdle.perGatewayPct.max.toFixed(2)} % (max of ${gws.length}; all together ${result.cpuIdle.totalCores.toFixed(3)} cores)` : 'not measured (SIM_IDLE_S=0)',
        result.cpuIdle?.perGatewayPct.max,
      ),
      targets.check(`≥ ${G.simVerificationsPerSec} verifications/s`, V.perSec >= G.simVerificationsPerSec, `${V.perSec.toFixed(1)}/s`, V.perSec),
      targets.check(`verification p99 ≤ ${G.simP99Ms} ms`, V.p99Ms <= G.simP99Ms, `${f1(V.p99Ms)} ms (p50 ${f1(V.p50Ms)} ms)`, V.p99Ms),
    ],
    { note: `${gws.length} gateways, ${S.durationS} s load${QUICK ? ', SIM_QUICK' : ''}` },
  );
  const allPass = checks.every(([, ok]) => ok);
  result.allPass = allPass;
  result.wallS = (Date.now() - t0) / 1000;

  const outDir = path.join(SCRIPT_ROOT, '.bench');
  fs.mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, `sim-${result.machine.date.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(outFile, JSON.stringify(result, null, 2));
  log(`results: ${path.relative(process.cwd(), outFile) || outFile} (wall ${result.wallS.toFixed(0)} s)`);
  return allPass;
}

main()
  .then(async (ok) => {
    await cleanup();
    process.exit(ok ? 0 : 1);
  })
  .catch(async (e) => {
    console.error(`sim:federation failed: ${e.stack || e}`);
    await cleanup();
    process.exit(2);
  });
