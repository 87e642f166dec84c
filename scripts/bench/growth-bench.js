#!/usr/bin/env node
'use strict';
// Cost growth benchmark (`npm run bench:growth`, issue 10 item 3): does the cost of a request stay
// flat as the data grows? Verification (asker 440000 → issuer 110000, mutual TLS, c=16) with 10k,
// 100k and 1M licences in the issuer's registry (each imported into a fresh database with
// `tongban licences import`, timed, peak RSS of the CLI sampled from /proc), and with 1, 8 and 31
// peers in both trust stores (fake peers with real keys, unreachable endpoints); then two-step cases
// with 1k and 100k cases already in both databases (growth-cases.js). CPU per request comes from
// /proc (user+system of the gateways over the timed window), which other load on the machine
// disturbs far less than req/s. Flat = largest ÷ smallest size ≤ 1.2 (targets.js).
// Env: GROWTH_LICENCES (default 10000,100000,1000000), GROWTH_PEERS (1,8,31), GROWTH_CASES
//      (1000,100000), GROWTH_CASES_DB (sqlite,postgres; TEST_DATABASE_URL), GROWTH_SKIP (verify | peers | cases), BENCH_DURATION_S (10 s per run), GROWTH_REPEATS
//      (runs per verification point, default 3: the least CPU counts), BENCH_QUICK=1
//      (3 s, 2000,20000 licences, 1,8 peers, 200,2000 cases), BENCH_RECORD=1 (history line).
const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { stopProcesses, trackForkedChildren } = require('../lib/processes');
// Before ../lib/federation, which takes `fork` when first required: cleanup then reaches every child.
const children = trackForkedChildren();
const fed = require('../lib/federation');
const data = require('./licence-data');
const { freePort, runLoad, withTimeout } = require('./measure');
const { casesGrowth } = require('./growth-cases');
const targets = require('./targets');

const ISSUER = '110000';
const ASKER = '440000';
const QUICK = process.env.BENCH_QUICK === '1';
const list = (name, dflt) => (process.env[name] || dflt).split(',').map(Number);
const LICENCES = list('GROWTH_LICENCES', QUICK ? '2000,20000' : '10000,100000,1000000');
const PEERS = list('GROWTH_PEERS', QUICK ? '1,8' : '1,8,31');
const CASES = list('GROWTH_CASES', QUICK ? '200,2000' : '1000,100000');
const CASES_DB = (process.env.GROWTH_CASES_DB || 'sqlite,postgres').split(',');
const SKIP = process.env.GROWTH_SKIP ?? '';
const DURATION_S = QUICK ? 3 : Number(process.env.BENCH_DURATION_S || 10);
const REPEATS = QUICK ? 1 : Number(process.env.GROWTH_REPEATS || 3);
const JIT_WARMUP_S = QUICK ? 2 : 8; // fresh gateways: let the JIT settle before the first timed run
const CONNECTIONS = 16;
const BODIES = 5000;
const ENV = { TONGBAN_LOG_LEVEL: 'warn' };
const log = (...a) => console.log(...a);
const f1 = (v) => (v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(1));

let tmpDir;
async function cleanup() {
  await stopProcesses(children);
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
  tmpDir = undefined;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(signal, () => cleanup().finally(() => process.exit(130)));

/** `tongban licences import` of `file` into `o`'s database: wall time and the CLI's peak RSS (VmHWM). */
async function importTimed(o, file) {
  const t = Date.now();
  const proc = childProcess.fork(fed.CLI_MAIN, ['licences', 'import', file], { env: fed.gatewayEnv(o), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  proc.stdout.on('data', (c) => (out += c));
  proc.stderr.on('data', (c) => (out = (out + c).slice(-5000)));
  let peakKb = 0;
  const sample = () => {
    try {
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1] ?? 0));
    } catch {
      // exited
    }
  };
  const timer = setInterval(sample, 100);
  const code = await new Promise((resolve) => proc.once('exit', resolve));
  clearInterval(timer);
  if (code !== 0 || !/read \d+, created \d+/.test(out)) throw new Error(`licence import failed (exit ${code}): ${out.slice(-2000)}`);
  return { ms: Date.now() - t, peakRssMiB: peakKb / 1024, output: /read \d+, created \d+, updated \d+/.exec(out)[0] };
}

/** Writes `n` licences to a CSV file and returns random request bodies drawn over all of them. */
function licenceFile(file, n) {
  const want = new Set();
  const rand = data.prng(20261203 + n);
  while (want.size < Math.min(BODIES, n)) want.add(Math.floor(rand() * n));
  const bodies = [];
  data.writeLicenceFile(file, n, 'csv', undefined, (i, r) => want.has(i) && bodies.push(JSON.stringify(data.verificationBody(r))));
  for (let i = bodies.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [bodies[i], bodies[j]] = [bodies[j], bodies[i]];
  }
  return bodies;
}

/** A peer the gateway trusts but that never calls: a real Ed25519 public key, an endpoint nobody listens on. */
async function addFakePeer(gw, code, port) {
  const jwk = crypto.generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  // kid: the RFC 7638 thumbprint, as the trust store requires.
  const kid = crypto
    .createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }))
    .digest('base64url');
  const body = { code, endpoint: `127.0.0.1:${port}`, allowedLicenceTypes: ['*'], keys: [{ ...jwk, alg: 'EdDSA', use: 'sig', kid }] };
  const r = await fed.call(gw, 'POST', '/admin/peers', body, gw.adminToken);
  if (r.status !== 201 && r.status !== 200) throw new Error(`adding fake peer ${code} to ${gw.code}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
}

/**
 * One point: REPEATS timed runs, keeping the one with the least CPU per verification (other jobs on
 * a shared machine only ever add CPU time, so the least is the closest to the request's own cost).
 */
async function point(dimension, size, asker, issuer, bodiesFile) {
  const runs = [];
  for (let k = 0; k < REPEATS; k++) {
    runs.push(
      await runLoad(
        { url: asker.baseUrl, path: '/v1/verifications', token: asker.apiToken, bodiesFile, connections: CONNECTIONS, kind: 'single', durationS: DURATION_S },
        { asker: asker.proc.pid, issuer: issuer.proc.pid },
      ),
    );
  }
  const cost = (x) => (x.cpu.asker?.usPerRequest ?? NaN) + (x.cpu.issuer?.usPerRequest ?? NaN);
  const r = runs.reduce((best, x) => (cost(x) < cost(best) ? x : best));
  const spread = runs.map((x) => f1(cost(x))).join(' / ');
  const a = r.cpu.asker?.usPerRequest ?? NaN;
  const i = r.cpu.issuer?.usPerRequest ?? NaN;
  const row = {
    dimension,
    size,
    reqPerSec: r.reqPerSec,
    p50: r.p50,
    p99: r.p99,
    bad: runs.reduce((n, x) => n + x.non2xx + x.errors + x.timeouts + x.mismatches, 0),
    runsCpuUs: runs.map(cost),
    cpuUs: a + i,
    askerUs: a,
    issuerUs: i,
    otherCpu: r.cpu.other?.utilisation,
  };
  log(
    `  ${dimension.padEnd(8)} ${String(size).padStart(8)}: ${f1(row.reqPerSec)} req/s, p50 ${f1(row.p50)} ms, p99 ${f1(row.p99)} ms, CPU ${f1(row.cpuUs)} µs/verification (asker ${f1(a)}, issuer ${f1(i)}), runs ${spread} µs, bad ${row.bad}, other CPU ${f1((row.otherCpu ?? NaN) * 100)}% of a core`,
  );
  return row;
}

async function verificationGrowth(tls, ports) {
  const rows = [];
  const imports = [];
  for (const [k, n] of LICENCES.entries()) {
    const dir = path.join(tmpDir, `licences-${n}`);
    const o = (code) => ({ code, dir: path.join(dir, code), secrets: fed.newSecrets(), tls: tls[code], env: ENV });
    const issuerO = { ...o(ISSUER), httpPort: await freePort(ports), grpcPort: await freePort(ports) };
    const askerO = { ...o(ASKER), httpPort: await freePort(ports), grpcPort: await freePort(ports) };
    fs.mkdirSync(issuerO.dir, { recursive: true });
    const file = path.join(dir, 'licences.csv');
    let t = Date.now();
    const bodies = licenceFile(file, n);
    const fileMiB = fs.statSync(file).size / 2 ** 20;
    log(`  generated ${n} licences (${f1(fileMiB)} MiB CSV) in ${f1((Date.now() - t) / 1000)} s`);
    const imp = await importTimed(issuerO, file);
    imports.push({ records: n, fileMiB, ...imp });
    fs.rmSync(file);
    log(`  imported ${n}: ${f1(imp.ms / 1000)} s (${Math.round(n / (imp.ms / 1000))} records/s), CLI peak RSS ${f1(imp.peakRssMiB)} MiB: ${imp.output}`);
    const bodiesFile = path.join(dir, 'bodies.json');
    fs.writeFileSync(bodiesFile, JSON.stringify(bodies));
    t = Date.now();
    const issuer = await withTimeout(fed.startGateway(issuerO), 90_000, 'start issuer');
    const asker = await withTimeout(fed.startGateway(askerO), 90_000, 'start asker');
    try {
      await fed.connectAll([issuer, asker]);
      await runLoad({ url: asker.baseUrl, path: '/v1/verifications', token: asker.apiToken, bodiesFile, connections: CONNECTIONS, kind: 'single', warmupS: 0, durationS: JIT_WARMUP_S });
      rows.push(await point('licences', n, asker, issuer, bodiesFile));
      if (k === 0 && !SKIP.includes('peers')) {
        // Peers: the same gateways, more peers in both trust stores (the asker is peer number 1).
        const others = require('../../data/participants.json')
          .participants.map((p) => p.code)
          .filter((c) => c !== ISSUER && c !== ASKER);
        let known = 1;
        for (const p of PEERS) {
          for (; known < p; known++) {
            const port = await freePort(ports);
            await addFakePeer(issuer, others[known - 1], port);
            await addFakePeer(asker, others[known - 1], port);
          }
          rows.push(p === 1 ? { ...rows.at(-1), dimension: 'peers', size: 1 } : await point('peers', p, asker, issuer, bodiesFile));
        }
      }
    } finally {
      await Promise.all([asker.stop(), issuer.stop()]);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return { rows, imports };
}

/** Largest ÷ smallest size of `key` within a dimension, with the flat verdict. */
function growth(rows, dimension, key) {
  const r = rows.filter((x) => x.dimension === dimension);
  if (r.length < 2) return null;
  const first = r[0];
  const last = r.at(-1);
  return { first, last, ratio: last[key] / first[key] };
}

function report(rows, imports, machine) {
  log('');
  log('='.repeat(110));
  log(
    `cost growth — ${machine.cpu} ×${machine.cores}, Node ${process.version}, ${new Date().toISOString()}; load average at start ${machine.load.join(' ')}, now ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  log(
    `verification: mutual TLS, c=${CONNECTIONS}; fresh gateways warmed ${JIT_WARMUP_S} s; per point the least CPU of ${REPEATS} runs of ${DURATION_S} s (after 2 s warm-up each); cases: 4 openers, ${CASES_DB.join(' and ')}`,
  );
  log(`${'dimension'.padEnd(10)} ${'size'.padStart(9)} | ${'req/s'.padStart(7)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} | cost per request`);
  for (const r of rows) {
    const cost = r.dimension.startsWith('cases')
      ? `${r.cpuMsPerCase.toFixed(2)} ms CPU per case; CPU per read: list ${r.listNewest.cpuUs.toFixed(0)} / by state ${r.listCompleted.cpuUs.toFixed(0)} / by id ${r.byId.cpuUs.toFixed(0)} µs`
      : `${f1(r.cpuUs)} µs CPU (asker ${f1(r.askerUs)} + issuer ${f1(r.issuerUs)})`;
    const rate = r.dimension.startsWith('cases') ? r.casesPerSec : r.reqPerSec;
    const p50 = r.dimension.startsWith('cases') ? r.openP50 : r.p50;
    const p99 = r.dimension.startsWith('cases') ? r.openP99 : r.p99;
    log(`${r.dimension.padEnd(10)} ${r.size.toLocaleString('en').padStart(9)} | ${f1(rate).padStart(7)} ${f1(p50).padStart(7)} ${f1(p99).padStart(7)} | ${cost}`);
  }
  log('  (cases: rate = completed cases/s, p50/p99 = POST /v1/cases, CPU = both gateways per completed case)');
  for (const i of imports)
    log(
      `licence import ${i.records.toLocaleString('en')} records (${f1(i.fileMiB)} MiB CSV): ${f1(i.ms / 1000)} s, ${Math.round(i.records / (i.ms / 1000))} records/s, CLI peak RSS ${f1(i.peakRssMiB)} MiB`,
    );
  const G = targets.GOALS.growthFlatRatio;
  const flat = (name, g, unit, show) =>
    g === null ? targets.check(name, null, 'not measured (one size)') : targets.check(name, g.ratio <= G, `${g.ratio.toFixed(2)}× (${show(g.first)} → ${show(g.last)} ${unit})`, g.ratio);
  const checks = [
    flat(`verification CPU flat from ${LICENCES[0]} to ${LICENCES.at(-1)} licences (≤ ${G}×)`, growth(rows, 'licences', 'cpuUs'), 'µs', (r) => f1(r.cpuUs)),
    flat(`verification CPU flat from ${PEERS[0]} to ${PEERS.at(-1)} peers (≤ ${G}×)`, growth(rows, 'peers', 'cpuUs'), 'µs', (r) => f1(r.cpuUs)),
    ...['cases', 'cases-pg'].flatMap((dim) => {
      const db = dim === 'cases' ? 'SQLite' : 'PostgreSQL';
      if (!rows.some((r) => r.dimension === dim)) return [];
      return [
        flat(`case CPU flat from ${CASES[0]} to ${CASES.at(-1)} cases stored, ${db} (≤ ${G}×)`, growth(rows, dim, 'cpuMsPerCase'), 'ms', (r) => r.cpuMsPerCase.toFixed(2)),
        ...[
          ['listNewest', 'case list (newest 20)'],
          ['listCompleted', 'case list by state (newest 20 COMPLETED)'],
          ['byId', 'case by id'],
        ].map(([key, what]) =>
          flat(
            `${what} CPU flat from ${CASES[0]} to ${CASES.at(-1)} cases, ${db} (≤ ${G}×)`,
            growth(
              rows.map((r) => (r.dimension === dim ? { ...r, readUs: r[key].cpuUs } : r)),
              dim,
              'readUs',
            ),
            'µs',
            (r) => r[key].cpuUs.toFixed(0),
          ),
        ),
      ];
    }),
  ];
  if (imports.length > 1) {
    // Streaming: ten times the records, the same memory. (The smallest import ends before the V8 heap
    // and SQLite's caches reach their working size, so it is not the reference.)
    const [a, b] = [imports.at(-2), imports.at(-1)];
    const ratio = b.peakRssMiB / a.peakRssMiB;
    checks.push(
      targets.check(
        `licence import streams: CLI peak RSS flat from ${a.records} to ${b.records} records (≤ ${G}×)`,
        ratio <= G,
        `${ratio.toFixed(2)}× (${f1(a.peakRssMiB)} → ${f1(b.peakRssMiB)} MiB; ${b.records} in ${f1(b.ms / 1000)} s)`,
        ratio,
      ),
    );
  }
  const bad = rows.filter((r) => r.bad || r.failures);
  log('='.repeat(110));
  const issue10 = targets.report('bench:growth', checks, { note: `load average ${os.loadavg()[0].toFixed(1)} at the end${QUICK ? '; BENCH_QUICK' : ''}` });
  if (bad.length) {
    log(`ERROR: ${bad.length} point(s) had failed requests; their figures are not valid`);
    process.exitCode = 2;
  }
  const outDir = path.join(fed.ROOT, '.bench');
  fs.mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, `growth-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(out, JSON.stringify({ benchmark: 'growth', machine, settings: { LICENCES, PEERS, CASES, DURATION_S, CONNECTIONS, REPEATS, JIT_WARMUP_S }, rows, imports, issue10 }, null, 2));
  log(`results written to ${path.relative(fed.ROOT, out)}`);
}

async function main() {
  if (!fs.existsSync(fed.GATEWAY_MAIN) || !fs.existsSync(fed.CLI_MAIN)) throw new Error('dist/ is missing: run `npm run build` first');
  const machine = { cpu: os.cpus()[0]?.model?.trim(), cores: os.cpus().length, load: os.loadavg().map((l) => +l.toFixed(2)) };
  log(`Tongban cost growth benchmark — ${machine.cpu} ×${machine.cores}, load average ${machine.load.join(' ')}`);
  log(
    `  ${SKIP.includes('verify') ? '' : `licences ${LICENCES.join(', ')}; ${SKIP.includes('peers') ? '' : `peers ${PEERS.join(', ')}; `}`}${SKIP.includes('cases') ? '' : `cases already stored ${CASES.join(', ')} (${CASES_DB.join(', ')}); `}${DURATION_S} s per run`,
  );
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tongban-growth-'));
  const ports = new Set();
  const tls = fed.localPki(path.join(tmpDir, 'tls'), [ISSUER, ASKER, '130000'], fed.newPkiSecrets());
  let rows = [];
  let imports = [];
  if (!SKIP.includes('verify')) {
    log('[1/2] verification with growing licence registries and trust stores');
    ({ rows, imports } = await verificationGrowth(tls, ports));
  }
  if (!SKIP.includes('cases')) {
    log('[2/2] cases with growing case tables');
    for (const database of CASES_DB) {
      const pgUrl = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
      rows = rows.concat(await casesGrowth({ dir: path.join(tmpDir, `cases-${database}`), tls, ports, sizes: CASES, durationS: DURATION_S, repeats: Math.min(REPEATS, 2), database, pgUrl, log }));
    }
  }
  report(rows, imports, machine);
}

main()
  .catch((e) => {
    console.error(`\nbench:growth failed: ${e?.stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
