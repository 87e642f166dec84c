#!/usr/bin/env node
'use strict';
// Idle cost of gateways (`node scripts/bench/idle-cost.js`): starts N real gateways the way
// `npm start` does (mutual TLS, demo licences, each trusting the others), lets them settle, then
// reads each process's CPU time (utime+stime from /proc/<pid>/stat) and its wake-ups (context
// switches of every thread, /proc/<pid>/task/*/status) over a window, and its RSS. A bare Node
// process (an HTTP server that does nothing) is measured in the same window: the floor of the
// runtime itself. CPU time is what the process used, so the figure holds on a loaded machine; the
// load average is printed beside it.
//
// Optionally (IDLE_LOAD_S > 0) it then runs c=64 verifications (last gateway asks the first one)
// for that many seconds, reports the peak RSS of both sides, waits, and measures idle CPU again
// (the workers must fall back to idle after load).
//
// Env: IDLE_GATEWAYS (default 3), IDLE_SETTLE_S (default 20), IDLE_MEASURE_S (default 30),
//      IDLE_PG=1 (every gateway on PostgreSQL, own schema; IDLE_PG_URL, default
//      postgres://postgres@127.0.0.1:5432/test), IDLE_LOAD_S (default 0), IDLE_LOAD_CONNECTIONS (64).
// Output: a table on stdout, the issue-10 target block (scripts/bench/targets.js; BENCH_RECORD=1 appends the run to
// docs/performance-history.csv) and .bench/idle-<timestamp>.json. Exit 0 = every target PASS, 1 = a
// target FAIL, 2 = the benchmark could not run. 127.0.0.1 only; children and temp dirs are removed.
const childProcess = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { stopProcesses, trackForkedChildren } = require('../lib/processes');
// Before ../lib/federation, which takes `fork` when first required: cleanup then reaches every child.
const children = trackForkedChildren();
const fed = require('../lib/federation');
const targets = require('./targets');

const CODES = ['110000', '130000', '440000', '310000', '320000', '330000', '420000', '510000'];
const N = intEnv('IDLE_GATEWAYS', 3, 1, CODES.length);
const SETTLE_S = intEnv('IDLE_SETTLE_S', 20, 0, 3600);
const MEASURE_S = intEnv('IDLE_MEASURE_S', 30, 5, 3600);
const LOAD_S = intEnv('IDLE_LOAD_S', 0, 0, 600);
const LOAD_C = intEnv('IDLE_LOAD_CONNECTIONS', 64, 1, 1024);
const PG = process.env.IDLE_PG === '1';
const PG_URL = process.env.IDLE_PG_URL || 'postgres://postgres@127.0.0.1:5432/test';
const TARGETS = { idleCpuPct: targets.GOALS.idleCpuShare * 100, idleRssMiB: targets.GOALS.idleRssMiB, loadRssMiB: targets.GOALS.rssUnderLoadMiB };
const CLK_TCK = 100; // USER_HZ on Linux
const PAGE = 4096;

function intEnv(name, def, min, max) {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer ${min}-${max} (got ${v})`);
  return n;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** CPU seconds used so far by the whole process (all threads, including exited ones). */
function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}

/** Context switches of the main thread and of all live threads. */
function switches(pid) {
  let main = 0;
  let all = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let text;
    try {
      text = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    } catch {
      continue; // the thread exited
    }
    const n = [...text.matchAll(/_ctxt_switches:\s+(\d+)/g)].reduce((s, m) => s + Number(m[1]), 0);
    all += n;
    if (tid === String(pid)) main = n;
  }
  return { main, all };
}

function rssMiB(pid) {
  const statm = fs.readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ');
  return (Number(statm[1]) * PAGE) / 2 ** 20;
}

/** CPU % of one core, wake-ups/s and RSS of every process in `procs` over `seconds`. */
async function measure(procs, seconds) {
  const before = procs.map((p) => ({ cpu: cpuSeconds(p.pid), sw: switches(p.pid), t: process.hrtime.bigint() }));
  await sleep(seconds * 1000);
  return procs.map((p, i) => {
    const elapsed = Number(process.hrtime.bigint() - before[i].t) / 1e9;
    const sw = switches(p.pid);
    return {
      name: p.name,
      cpuPct: ((cpuSeconds(p.pid) - before[i].cpu) / elapsed) * 100,
      mainWakeupsPerS: (sw.main - before[i].sw.main) / elapsed,
      allSwitchesPerS: (sw.all - before[i].sw.all) / elapsed,
      rssMiB: rssMiB(p.pid),
    };
  });
}

function printRows(title, rows) {
  console.log(`\n${title}`);
  console.log(`  ${'process'.padEnd(16)} ${'CPU % of a core'.padStart(16)} ${'main-thread wake-ups/s'.padStart(23)} ${'all switches/s'.padStart(15)} ${'RSS MiB'.padStart(8)}`);
  for (const r of rows)
    console.log(
      `  ${r.name.padEnd(16)} ${r.cpuPct.toFixed(2).padStart(16)} ${r.mainWakeupsPerS.toFixed(1).padStart(23)} ${r.allSwitchesPerS.toFixed(1).padStart(15)} ${r.rssMiB.toFixed(1).padStart(8)}`,
    );
}

/** Bare floor: a Node process with an HTTP server listening and nothing to do. */
function startBare() {
  const proc = childProcess.spawn(process.execPath, ['-e', "require('node:http').createServer((q, s) => s.end()).listen(0, '127.0.0.1')"], { stdio: 'ignore' });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  return proc;
}

/** Verification bodies for the demo licences of `issuerCode` (every status). */
function demoBodies(issuerCode) {
  const demo = JSON.parse(fs.readFileSync(path.join(fed.ROOT, 'deploy', 'demo', `licences-${issuerCode}.json`), 'utf8'));
  return demo.map((l) =>
    JSON.stringify({
      licenceType: l.typeCode,
      licenceId: l.licenceId,
      holder: l.holderCodeType === '111' ? { name: l.holderName, idNumber: l.holderCode } : { name: l.holderName, creditCode: l.holderCode },
      purpose: '异地办理业务核验',
    }),
  );
}

/** c=LOAD_C verifications for LOAD_S seconds from `asker` to the first gateway; peak RSS sampled every 250 ms. */
async function loadPhase(asker, issuer, tmpDir) {
  const bodiesFile = path.join(tmpDir, 'bodies.json');
  fs.writeFileSync(bodiesFile, JSON.stringify(demoBodies(issuer.code)));
  const peak = new Map([asker, issuer].map((g) => [g.code, rssMiB(g.proc.pid)]));
  const sampler = setInterval(() => {
    for (const g of [asker, issuer]) peak.set(g.code, Math.max(peak.get(g.code), rssMiB(g.proc.pid)));
  }, 250);
  try {
    const runner = childProcess.fork(path.join(__dirname, 'load-runner.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const result = await new Promise((resolve, reject) => {
      runner.on('message', (m) => {
        if (m.type === 'result') resolve(m.result);
        else if (m.type === 'error') reject(new Error(m.message));
      });
      runner.once('exit', (code) => reject(new Error(`load runner exited (${code})`)));
      runner.send({ url: asker.baseUrl, path: '/v1/verifications', token: asker.apiToken, bodiesFile, connections: LOAD_C, kind: 'single', timeoutS: 10, warmupS: 2, durationS: LOAD_S });
    });
    return { reqPerSec: result.reqPerSec, p99Ms: result.p99, errors: result.errors + result.non2xx, peakRssMiB: Object.fromEntries(peak) };
  } finally {
    clearInterval(sampler);
  }
}

async function main() {
  const startedAt = new Date().toISOString();
  const machine = { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version, loadAverage: os.loadavg().map((l) => +l.toFixed(2)) };
  let commit = 'unknown';
  try {
    commit = childProcess.execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: fed.ROOT }).toString().trim();
  } catch {
    // not a git checkout
  }
  console.log(`idle-cost — ${machine.cpu}, ${machine.cores} cores, node ${machine.node}, commit ${commit}, ${startedAt}`);
  console.log(`${N} gateway(s) on ${PG ? 'PostgreSQL' : 'SQLite'}, mutual TLS, demo licences, full trust; settle ${SETTLE_S} s, measure ${MEASURE_S} s; load average ${machine.loadAverage.join(' ')}`);
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tongban-idle-'));
  const schemas = [];
  const cleanup = async () => {
    await stopProcesses(children);
    fs.rmSync(tmpDir, { recursive: true, force: true });
    if (schemas.length) {
      const { Client } = require('pg');
      const client = new Client({ connectionString: PG_URL });
      await client.connect();
      for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await client.end();
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => cleanup().finally(() => process.exit(2)));
  try {
    const codes = CODES.slice(0, N);
    const tls = fed.localPki(path.join(tmpDir, 'tls'), codes, fed.newPkiSecrets());
    const gateways = [];
    for (const [i, code] of codes.entries()) {
      const schema = `idle_${process.pid}_${code}`;
      if (PG) schemas.push(schema);
      const o = {
        code,
        dir: path.join(tmpDir, code),
        secrets: fed.newSecrets(),
        tls: tls[code],
        httpPort: 27000 + i,
        grpcPort: 27100 + i,
        databaseUrl: PG ? PG_URL : undefined,
        env: { TONGBAN_LOG_LEVEL: 'warn', ...(PG ? { TONGBAN_DATABASE_SCHEMA: schema } : {}) },
      };
      gateways.push(await fed.startGateway(o));
      const imported = await fed.runCli(o, ['licences', 'import', path.join(fed.ROOT, 'deploy', 'demo', `licences-${code}.json`)]);
      if (imported.code !== 0 && fs.existsSync(path.join(fed.ROOT, 'deploy', 'demo', `licences-${code}.json`))) throw new Error(`import for ${code} failed: ${imported.stderr}`);
    }
    await fed.connectAll(gateways);
    const bare = startBare();
    await sleep(SETTLE_S * 1000);
    const procs = [{ name: 'bare node', pid: bare.pid }, ...gateways.map((g) => ({ name: `gateway ${g.code}`, pid: g.proc.pid }))];
    const idle = await measure(procs, MEASURE_S);
    printRows(`idle, ${MEASURE_S} s window (load average now ${os.loadavg()[0].toFixed(2)})`, idle);
    const gw = idle.slice(1);
    const result = {
      benchmark: 'idle-cost',
      startedAt,
      commit,
      machine,
      settings: { gateways: N, database: PG ? 'postgres' : 'sqlite', settleS: SETTLE_S, measureS: MEASURE_S, loadS: LOAD_S, loadConnections: LOAD_C },
      targets: TARGETS,
      idle,
    };
    const checks = [
      [
        `idle CPU ≤ ${TARGETS.idleCpuPct} % of a core per gateway (max ${Math.max(...gw.map((r) => r.cpuPct)).toFixed(2)} %, bare node ${idle[0].cpuPct.toFixed(2)} %)`,
        gw.every((r) => r.cpuPct <= TARGETS.idleCpuPct),
      ],
      [
        `idle RSS ≤ ${TARGETS.idleRssMiB} MiB per gateway (max ${Math.max(...gw.map((r) => r.rssMiB)).toFixed(1)} MiB, bare node ${idle[0].rssMiB.toFixed(1)} MiB)`,
        gw.every((r) => r.rssMiB <= TARGETS.idleRssMiB),
      ],
    ];
    if (LOAD_S > 0 && N >= 2) {
      const load = await loadPhase(gateways[N - 1], gateways[0], tmpDir);
      console.log(
        `\nload: c=${LOAD_C} verifications ${gateways[N - 1].code} → ${gateways[0].code} for ${LOAD_S} s: ${load.reqPerSec.toFixed(0)} req/s, p99 ${load.p99Ms?.toFixed(1)} ms, ${load.errors} errors; peak RSS ${JSON.stringify(load.peakRssMiB)}`,
      );
      await sleep(SETTLE_S * 1000);
      const after = await measure(procs, MEASURE_S);
      printRows(`idle again after the load, ${MEASURE_S} s window (load average now ${os.loadavg()[0].toFixed(2)})`, after);
      Object.assign(result, { load, idleAfterLoad: after });
      const peak = Math.max(...Object.values(load.peakRssMiB));
      checks.push([`RSS under c=${LOAD_C} load ≤ ${TARGETS.loadRssMiB} MiB (peak ${peak.toFixed(1)} MiB)`, peak <= TARGETS.loadRssMiB]);
      checks.push([
        `idle CPU after load ≤ ${TARGETS.idleCpuPct} % (max ${Math.max(...after.slice(1).map((r) => r.cpuPct)).toFixed(2)} %)`,
        after.slice(1).every((r) => r.cpuPct <= TARGETS.idleCpuPct),
      ]);
    }
    console.log('');
    for (const [what, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'}  ${what}`);
    result.checks = checks.map(([what, ok]) => ({ what, ok }));
    const maxCpu = Math.max(...gw.map((r) => r.cpuPct));
    const maxRss = Math.max(...gw.map((r) => r.rssMiB));
    const peak = result.load ? Math.max(...Object.values(result.load.peakRssMiB)) : undefined;
    result.issue10 = targets.report(
      'idle-cost',
      [
        targets.check(`idle gateway CPU ≤ ${TARGETS.idleCpuPct} % of a core`, maxCpu <= TARGETS.idleCpuPct, `${maxCpu.toFixed(2)} % (max of ${N}; bare node ${idle[0].cpuPct.toFixed(2)} %)`, maxCpu),
        targets.check(`idle gateway RSS ≤ ${TARGETS.idleRssMiB} MiB`, maxRss <= TARGETS.idleRssMiB, `${maxRss.toFixed(1)} MiB (max of ${N})`, maxRss),
        targets.check(
          `gateway RSS under load ≤ ${TARGETS.loadRssMiB} MiB`,
          peak === undefined ? null : peak <= TARGETS.loadRssMiB,
          peak === undefined ? 'not measured (IDLE_LOAD_S=0)' : `${peak.toFixed(1)} MiB (peak, c=${LOAD_C})`,
          peak,
        ),
      ],
      { note: `${N} gateways on ${PG ? 'PostgreSQL' : 'SQLite'}, ${MEASURE_S} s window` },
    );
    fs.mkdirSync(path.join(fed.ROOT, '.bench'), { recursive: true });
    const out = path.join(fed.ROOT, '.bench', `idle-${startedAt.replace(/[:.]/g, '-')}.json`);
    fs.writeFileSync(out, JSON.stringify(result, null, 2));
    console.log(`results: ${path.relative(process.cwd(), out)}`);
    return checks.every(([, ok]) => ok) ? 0 : 1;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`idle-cost failed: ${e.stack || e}`);
    process.exit(2);
  },
);
