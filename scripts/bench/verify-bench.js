#!/usr/bin/env node
'use strict';
// Verification benchmark (`npm run bench:verify`): cross-province POST /v1/verifications through two
// real gateways (asker 440000 → issuer 110000 holding 100,000 licences), against a bare baseline
// doing the same crypto/RPC/SQLite work with no framework, plus batch throughput.
//
// The bare baseline (bare-front.js → bare-issuer.js) does per verification: JSON parse, 1 Ed25519
// sign, 1 raw grpc-js unary call, 1 verify + 1 indexed better-sqlite3 SELECT + 1 sign on the issuer,
// 1 verify of the reply, JSON answer. What Tongban does on top of that by design (read from the code
// when this was written: seal/open of both envelopes plus a signed attestation that the asker checks,
// i.e. 3 signs + 3 verifies; a replay-store INSERT per request; batched audit rows on both sides;
// zod validation) is part of what the ratio measures. Under concurrency Tongban's asker also sends
// the single requests of one event-loop turn to one issuer in one shared signed call
// (TONGBAN_VERIFY_COALESCE, protocol.md §7.7; each query keeps its own attestation), which the bare
// front does not: at c=1 nothing is shared. Each Tongban run prints its signed calls per verification
// (1 = nothing shared). After the batches a third gateway with TONGBAN_VERIFY_COALESCE=false runs c=64
// (unshared-mode.js): batches are compared with those single calls (the "batch ≥ 3× single calls"
// target of issue 2), and its ratios to the bare chain are printed beside the coalesced ones.
//
// Env: BENCH_DURATION_S (seconds per measurement, default 10), BENCH_QUICK=1 (3 s each: smoke run),
//      BENCH_PLAINTEXT=1 (both sides without TLS: gateways on the development flag, bare on plaintext
//      gRPC; by default both use the same mutual TLS, to measure what TLS costs),
//      BENCH_FOCUS=1 (only single calls at c=64, no batch: for before/after CPU comparisons),
//      BENCH_REQUESTS=n (each measurement is n requests after n/2 warm-up requests instead of a fixed
//      time: CPU per request over the same work however slow a busy machine makes it),
//      BENCH_PROFILE=1 (afterwards, CPU-profile the gateways and then the bare processes under c=64
//      load; .cpuprofile files go to .bench/, summaries are printed; see cpuprofile-summary.js),
//      BENCH_HEAP_PROFILE=1 (with BENCH_PROFILE: also sample allocations in the same window, collected
//      objects included; .heapprofile beside each .cpuprofile, read with heapprofile-parts.js),
//      BENCH_SM2=1 or `-- --sm2` (issue 11: afterwards a second Tongban pair signing SM2SM3 at c=64,
//      compared with the Ed25519 pair; see sm2-mode.js).
// Output: a table on stdout and .bench/verify-<timestamp>.json. Exits 0 on target FAIL (the figures
// are the output); exits 1 when the benchmark cannot run, 2 when timed runs got failed responses.
const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Track every child we start, including the ones scripts/lib/federation.js forks (gateways, CLI):
// it destructures `fork` when first required, so wrapping it first lets cleanup reach children whose
// start was interrupted before startGateway resolved.
const { stopProcesses, trackForkedChildren } = require('../lib/processes');
const children = trackForkedChildren();
const fed = require('../lib/federation');
const { generateLicences, expectedStatus, verificationBody, buildBareDatabase, prng } = require('./licence-data');
const { newBareKeys, writeProto } = require('./bare-common');
const profileSummary = require('./cpuprofile-summary');
const targets = require('./targets');
const measure = require('./measure');
const { withTimeout, freePort, machineCpu } = measure;
const sm2Mode = require('./sm2-mode');
const unsharedMode = require('./unshared-mode');

const ISSUER = '110000';
const ASKER = '440000';
const LICENCES = 100_000;
// BENCH_FOCUS=1: only the c=64 single-call point (and profiles, if asked): a short before/after run
// of CPU per verification on a shared machine; the targets it cannot judge are reported as such.
const FOCUS = process.env.BENCH_FOCUS === '1';
const SINGLE_CONCURRENCY = FOCUS ? [64] : [1, 16, 64];
const BATCH_CONCURRENCY = FOCUS ? [] : [4, 16];
const BATCH_SIZE = 100;
const SINGLE_BODIES = 20_000; // distinct random licences the single-call runs cycle over
const BATCH_BODIES = 200; // distinct random 100-item batches
const WARMUP_S = 2;
const REQUEST_TIMEOUT_S = 10;
const QUICK = process.env.BENCH_QUICK === '1';
const PROFILE = process.env.BENCH_PROFILE === '1';
const HEAP_PROFILE = PROFILE && process.env.BENCH_HEAP_PROFILE === '1';
const PLAINTEXT = process.env.BENCH_PLAINTEXT === '1';
const DURATION_S = QUICK ? 3 : parseDuration(process.env.BENCH_DURATION_S);
const REQUESTS = parseRequests(process.env.BENCH_REQUESTS);
const TARGETS = { throughputRatioC64: targets.GOALS.verifyThroughputC64, p99RatioC16: targets.GOALS.verifyP99C16, batchOverSingle: 3 };
// Issue 2's "batch ≥ 3× single calls": a batch against single requests that each make their own call.
const BATCH_CHECK = `batch licences/s ≥ ${TARGETS.batchOverSingle}× single calls`;

function parseRequests(v) {
  if (v === undefined || v === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 100 || n > 1_000_000) throw new Error(`BENCH_REQUESTS must be an integer 100-1000000 (got ${v})`);
  return n;
}

function parseDuration(v) {
  if (v === undefined || v === '') return 10;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 600) throw new Error(`BENCH_DURATION_S must be an integer 1-600 (got ${v})`);
  return n;
}

const log = (...a) => console.log(...a);
const secs = (ms) => (ms / 1000).toFixed(1) + ' s';

// ---------------------------------------------------------------- cleanup

let tmpDir;
let cleaning;

/** Stops every child (SIGTERM, then SIGKILL after 5 s) and removes the temp dir. Idempotent. */
function cleanup() {
  cleaning ??= (async () => {
    await stopProcesses(children);
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = undefined;
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping child processes and removing temp files…`);
    cleanup().finally(() => process.exit(130));
  });
}
// Last resort if something exits the process synchronously.
process.on('exit', () => {
  for (const p of children) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already exited
    }
  }
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

/** Forks a bare baseline process and resolves when it reports ready. */
function startBare(script, configFile, name) {
  const proc = childProcess.fork(path.join(__dirname, script), [], {
    env: { ...process.env, BARE_CONFIG: configFile },
    execArgv: PROFILE ? ['-r', path.join(__dirname, 'profile-preload.js')] : [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (c) => (output = (output + c).slice(-10000));
  proc.stdout.on('data', keep);
  proc.stderr.on('data', keep);
  const ready = new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`${name} exited (${code}) before ready:\n${output}`)));
    proc.on('message', (m) => m?.type === 'ready' && resolve());
  });
  return withTimeout(ready, 30_000, `start ${name}`).then(() => ({
    proc,
    output: () => output,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const hard = setTimeout(() => proc.kill('SIGKILL'), 5000);
        proc.once('exit', () => {
          clearTimeout(hard);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  }));
}

/** Starts a gateway with a bound on start-up time. */
async function startGatewayBounded(options) {
  return withTimeout(fed.startGateway(options), 90_000, `start gateway ${options.code}`);
}

/**
 * One warm-up + measurement (measure.runLoad) with this run's defaults; BENCH_REQUESTS makes each a
 * fixed number of requests instead of a duration.
 */
function runLoad(options, pids = {}) {
  const byCount = REQUESTS ? { requests: REQUESTS, warmupRequests: options.warmupS === 0 ? 0 : Math.ceil(REQUESTS / 2) } : {};
  return measure.runLoad({ timeoutS: REQUEST_TIMEOUT_S, warmupS: WARMUP_S, durationS: DURATION_S, ...options, ...byCount }, pids);
}

/** Calls POST on any {baseUrl, apiToken} target; returns {status, body}. */
const post = (target, urlPath, body) => fed.call(target, 'POST', urlPath, body);

/** Sample-checks single verifications before timing: status 200, expected status, holder matches. */
async function checkSingles(target, records, label) {
  for (const r of records) {
    const res = await post(target, '/v1/verifications', verificationBody(r));
    const b = res.body;
    const want = expectedStatus(r);
    if (res.status !== 200 || !b || typeof b.status !== 'string' || b.status !== want || b.holderMatch?.name !== 'MATCH' || b.holderMatch?.code !== 'MATCH') {
      throw new Error(`${label}: sample verification of ${r.licenceId} failed: HTTP ${res.status}, want status ${want}, got ${JSON.stringify(b).slice(0, 600)}`);
    }
  }
  log(`  ${label}: ${records.length} sample verifications OK (HTTP 200, expected status, holder MATCH/MATCH)`);
}

/** Sample-checks one batch: every item answered with the expected status. */
async function checkBatch(target, records, label) {
  const res = await post(target, '/v1/verifications/batch', { items: records.map(verificationBody) });
  const results = res.body?.results;
  if (res.status !== 200 || !Array.isArray(results) || results.length !== records.length) {
    throw new Error(`${label}: sample batch failed: HTTP ${res.status} ${JSON.stringify(res.body).slice(0, 600)}`);
  }
  results.forEach((item, i) => {
    if (item.error || item.status !== expectedStatus(records[i])) {
      throw new Error(`${label}: batch item ${i} (${records[i].licenceId}) failed: ${JSON.stringify(item).slice(0, 400)}`);
    }
  });
  log(`  ${label}: sample batch of ${records.length} OK (every item answered with the expected status)`);
}

/** Profiling window in gateways started with profile-preload.js. */
function profileCommand(gw, message, expect) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const on = (m) => {
        if (m?.type === expect) {
          gw.proc.off('message', on);
          resolve(m);
        } else if (m?.type === 'bench:profile:error') {
          gw.proc.off('message', on);
          reject(new Error(`profile ${gw.name}: ${m.message}`));
        }
      };
      gw.proc.on('message', on);
      gw.proc.send(message);
    }),
    30_000,
    `profile ${gw.name} ${message.type}`,
  );
}

/** Machine-wide CPU busy share (0-1) over `ms`: other load on the box. */
async function cpuBusyShare(ms) {
  const sum = machineCpu;
  const a = sum();
  await new Promise((r) => setTimeout(r, ms));
  const b = sum();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}

/** Which build is measured: dist/ is rebuilt by `npm run build`, so record its hash, time and the git state. */
function buildInfo() {
  const git = (args) => {
    try {
      return childProcess.execFileSync('git', args, { cwd: fed.ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 10_000 }).trim();
    } catch {
      return null;
    }
  };
  const stat = fs.statSync(fed.GATEWAY_MAIN);
  return {
    gatewayMainSha256: crypto.createHash('sha256').update(fs.readFileSync(fed.GATEWAY_MAIN)).digest('hex').slice(0, 16),
    gatewayMainBuiltAt: stat.mtime.toISOString(),
    gitHead: git(['rev-parse', '--short', 'HEAD']),
    gitDirtyFiles: (git(['status', '--porcelain']) ?? '').split('\n').filter(Boolean).length,
  };
}

function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    totalMemGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
    loadAvgAtStart: os.loadavg().map((l) => +l.toFixed(2)),
  };
}

const bad = (r) => (r ? r.non2xx + r.errors + r.timeouts + r.mismatches : 0);
const f0 = (v) => (v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(0));
const f2 = (v) => (v === null || v === undefined || Number.isNaN(v) ? '-' : v.toFixed(2));

/** CPU used by each process during the timed window, per request (or per licence for batches). */
function cpuLine(r, perItems = 1) {
  const parts = Object.entries(r.cpu || {}).map(([k, c]) =>
    k === 'other'
      ? `other processes ${f0(c.utilisation * 100)}% of a core${noisy(r) ? ' (NOISY)' : ''}`
      : `${k} ${c.usPerRequest === null ? '-' : f0(c.usPerRequest / perItems)} µs (${f0(c.utilisation * 100)}%)`,
  );
  return parts.length ? `${' '.repeat(30)}CPU per ${perItems === 1 ? 'request' : 'licence'}: ${parts.join(', ')}` : '';
}

/** A run during which other processes used more than a fifth of a core: its figures are suspect. */
const NOISE_LIMIT = 0.2;
const noisy = (r) => (r?.cpu?.other?.utilisation ?? 0) > NOISE_LIMIT;

function runLine(label, r) {
  return `  ${label.padEnd(26)} ${f0(r.reqPerSec).padStart(7)} req/s  p50 ${f2(r.p50).padStart(7)} ms  p99 ${f2(r.p99).padStart(7)} ms  ok ${r.ok2xx}  non2xx ${r.non2xx}  errors ${r.errors}  timeouts ${r.timeouts}  bad bodies ${r.mismatches}`;
}

// ---------------------------------------------------------------- main

async function main() {
  if (!fs.existsSync(fed.GATEWAY_MAIN) || !fs.existsSync(fed.CLI_MAIN)) {
    throw new Error(`${path.relative(fed.ROOT, fed.GATEWAY_MAIN)} or the CLI is missing: run \`npm run build\` first`);
  }
  const machine = machineInfo();
  const build = buildInfo();
  const startedAt = new Date();
  log('Tongban verification benchmark');
  log(`  machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.totalMemGiB} GiB, Node ${machine.node}, ${machine.platform}`);
  machine.otherCpuBusyAtStart = +(await cpuBusyShare(2000)).toFixed(3);
  log(
    `  date: ${machine.date}   load average at start: ${machine.loadAvgAtStart.join(' ')}   CPU busy before start (2 s, nothing of ours running): ${(machine.otherCpuBusyAtStart * 100).toFixed(0)}%`,
  );
  if (machine.otherCpuBusyAtStart > 0.15) log('  WARNING: other processes are using the CPU; figures will be noisy and lower than on an idle machine');
  log(
    `  settings: ${REQUESTS ? `${REQUESTS} requests per measurement after ${Math.ceil(REQUESTS / 2)} warm-up requests` : `${DURATION_S} s per measurement after ${WARMUP_S} s warm-up`}${QUICK ? ' (BENCH_QUICK)' : ''}; single c=${SINGLE_CONCURRENCY.join(',')}; batch of ${BATCH_SIZE} c=${BATCH_CONCURRENCY.join(',')}`,
  );
  log(`  build: dist/apps/gateway/main.js sha256 ${build.gatewayMainSha256}… built ${build.gatewayMainBuiltAt}; git ${build.gitHead} with ${build.gitDirtyFiles} changed/untracked path(s)`);
  log('  load generator: autocannon in a separate process; only 127.0.0.1 is targeted');
  log('');

  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tongban-bench-'));

  // 1. Data.
  log('[1/6] data');
  let t = Date.now();
  const records = generateLicences(LICENCES);
  const licencesFile = path.join(tmpDir, `licences-${ISSUER}.json`);
  fs.writeFileSync(licencesFile, JSON.stringify(records));
  const genMs = Date.now() - t;
  log(`  generated ${records.length} licence records in ${secs(genMs)} (${(fs.statSync(licencesFile).size / 2 ** 20).toFixed(1)} MiB)`);

  const ports = new Set();
  const tls = fed.localPki(path.join(tmpDir, 'tls'), [ISSUER, ASKER, ...(FOCUS ? [] : [unsharedMode.UNSHARED])], fed.newPkiSecrets());
  const issuerOptions = {
    code: ISSUER,
    dir: path.join(tmpDir, 'gw-110000'),
    secrets: fed.newSecrets(),
    ...(PLAINTEXT ? { insecure: true } : { tls: tls[ISSUER] }),
    httpPort: await freePort(ports),
    grpcPort: await freePort(ports),
    ...(PROFILE ? { execArgv: ['-r', path.join(__dirname, 'profile-preload.js')] } : {}),
  };
  const askerOptions = {
    code: ASKER,
    dir: path.join(tmpDir, 'gw-440000'),
    secrets: fed.newSecrets(),
    ...(PLAINTEXT ? { insecure: true } : { tls: tls[ASKER] }),
    httpPort: await freePort(ports),
    grpcPort: await freePort(ports),
    ...(PROFILE ? { execArgv: ['-r', path.join(__dirname, 'profile-preload.js')] } : {}),
  };

  t = Date.now();
  const imported = await withTimeout(fed.runCli(issuerOptions, ['licences', 'import', licencesFile]), 600_000, 'licence import');
  const importMs = Date.now() - t;
  if (imported.code !== 0 || !imported.stdout.includes(`created ${LICENCES}`)) {
    throw new Error(`licence import failed (exit ${imported.code}):\n${imported.stdout}\n${imported.stderr.slice(-3000)}`);
  }
  log(`  imported with \`tongban licences import\` in ${secs(importMs)} (${Math.round(LICENCES / (importMs / 1000))} records/s): ${imported.stdout.trim()}`);

  const bareDb = path.join(tmpDir, 'bare', 'licences.sqlite');
  fs.mkdirSync(path.dirname(bareDb), { recursive: true });
  t = Date.now();
  buildBareDatabase(bareDb, records);
  log(`  built the bare SQLite file (same ${records.length} rows, licence_id TEXT PRIMARY KEY) in ${secs(Date.now() - t)}`);

  // Request bodies: random existing licences (seeded, so runs are comparable).
  const rand = prng(20261125);
  const pick = () => records[Math.floor(rand() * records.length)];
  const singleBodiesFile = path.join(tmpDir, 'bodies-single.json');
  fs.writeFileSync(singleBodiesFile, JSON.stringify(Array.from({ length: SINGLE_BODIES }, () => JSON.stringify(verificationBody(pick())))));
  const batchBodiesFile = path.join(tmpDir, 'bodies-batch.json');
  fs.writeFileSync(batchBodiesFile, JSON.stringify(Array.from({ length: BATCH_BODIES }, () => JSON.stringify({ items: Array.from({ length: BATCH_SIZE }, () => verificationBody(pick())) }))));
  const samples = Array.from({ length: 12 }, pick);
  // Make sure the samples cover every status the data has.
  for (const want of ['VALID', 'EXPIRED', 'SUSPENDED', 'REVOKED']) {
    if (!samples.some((r) => expectedStatus(r) === want)) samples.push(records.find((r) => expectedStatus(r) === want));
  }
  const batchSample = Array.from({ length: BATCH_SIZE }, pick);

  // 2. Processes.
  log('[2/6] processes');
  t = Date.now();
  const issuer = await startGatewayBounded(issuerOptions);
  const asker = await startGatewayBounded(askerOptions);
  await withTimeout(fed.connectAll([issuer, asker]), 60_000, 'connectAll');
  log(`  gateways up and trusting each other in ${secs(Date.now() - t)}: issuer ${ISSUER} ${issuer.baseUrl} grpc ${issuer.grpcEndpoint}; asker ${ASKER} ${asker.baseUrl} grpc ${asker.grpcEndpoint}`);

  const bareConfig = {
    protoFile: writeProto(path.join(tmpDir, 'bare')),
    sqlitePath: bareDb,
    issuerCode: ISSUER,
    askerCode: ASKER,
    httpPort: await freePort(ports),
    grpcPort: await freePort(ports),
    apiToken: crypto.randomBytes(24).toString('base64url'),
    keys: newBareKeys(),
    // The same mutual TLS as the gateways (same CA and certificates), so the baseline pays the
    // same transport cost; BENCH_PLAINTEXT=1 runs both sides without TLS.
    tls: PLAINTEXT ? null : { issuer: tls[ISSUER], front: tls[ASKER] },
  };
  bareConfig.issuerGrpcPort = bareConfig.grpcPort;
  const bareConfigFile = path.join(tmpDir, 'bare', 'config.json');
  fs.writeFileSync(bareConfigFile, JSON.stringify(bareConfig), { mode: 0o600 });
  const bareIssuer = await startBare('bare-issuer.js', bareConfigFile, 'bare issuer');
  const bareFront = await startBare('bare-front.js', bareConfigFile, 'bare front');
  const bareTarget = { baseUrl: `http://127.0.0.1:${bareConfig.httpPort}`, apiToken: bareConfig.apiToken };
  log(`  bare baseline up: front ${bareTarget.baseUrl} (node:http) → issuer grpc 127.0.0.1:${bareConfig.grpcPort} (raw @grpc/grpc-js + better-sqlite3)`);

  const tongbanPids = { asker: asker.proc.pid, issuer: issuer.proc.pid };
  const barePids = { front: bareFront.proc.pid, issuer: bareIssuer.proc.pid };

  // 3. Correctness before timing.
  log('[3/6] sample checks before timing');
  await checkSingles(asker, samples, `Tongban ${ASKER}→${ISSUER}`);
  await checkBatch(asker, batchSample, `Tongban ${ASKER}→${ISSUER}`);
  await checkSingles(bareTarget, samples, 'bare baseline');

  // 4. Single calls, Tongban and bare interleaved per concurrency (so drift hits both alike).
  log(`[4/6] single verifications (${REQUESTS ? `${REQUESTS} requests each after ${Math.ceil(REQUESTS / 2)} warm-up requests` : `${DURATION_S} s each after ${WARMUP_S} s warm-up`})`);
  const single = [];
  for (const c of SINGLE_CONCURRENCY) {
    const { result: tongban, callsPerVerification } = await unsharedMode.callsPerVerification(asker, () =>
      runLoad({ url: asker.baseUrl, path: '/v1/verifications', token: asker.apiToken, bodiesFile: singleBodiesFile, connections: c, kind: 'single' }, tongbanPids),
    );
    // RSS of each gateway as the load ends (issue 10: ≤ 300 MiB under the c=64 load).
    tongban.rssMiB = { asker: targets.rssMiB(asker.proc.pid), issuer: targets.rssMiB(issuer.proc.pid) };
    tongban.callsPerVerification = callsPerVerification;
    log(`${runLine(`Tongban c=${c}`, tongban)}  calls per verification ${callsPerVerification.toFixed(3)}`);
    log(cpuLine(tongban));
    const bareRun = await runLoad({ url: bareTarget.baseUrl, path: '/v1/verifications', token: bareTarget.apiToken, bodiesFile: singleBodiesFile, connections: c, kind: 'single' }, barePids);
    log(runLine(`bare    c=${c}`, bareRun));
    log(cpuLine(bareRun));
    single.push({ connections: c, tongban, bare: bareRun });
  }

  // 5. Batches.
  log(`[5/6] batch verifications (${BATCH_SIZE} items per request, all issuer ${ISSUER})`);
  const batch = [];
  for (const c of BATCH_CONCURRENCY) {
    const r = await runLoad({ url: asker.baseUrl, path: '/v1/verifications/batch', token: asker.apiToken, bodiesFile: batchBodiesFile, connections: c, kind: 'batch' }, tongbanPids);
    log(`${runLine(`Tongban batch c=${c}`, r)}  → ${f0(r.reqPerSec * BATCH_SIZE)} licences/s`);
    log(cpuLine(r, BATCH_SIZE));
    batch.push({ connections: c, tongban: r, licencesPerSec: r.reqPerSec * BATCH_SIZE });
  }
  // What the batches are compared with: single requests that share no call (a third gateway, stopped after).
  const unshared = FOCUS
    ? null
    : await unsharedMode.run({ fed, issuer, tmpDir, tls, ports, PLAINTEXT, log, freePort, withTimeout, startGatewayBounded, checkSingles, runLoad, runLine, cpuLine, samples, singleBodiesFile });

  // Optional: CPU profiles of the gateways, then of the bare processes, each under c=64 single calls.
  let profile;
  if (PROFILE) {
    const benchDir = path.join(fed.ROOT, '.bench');
    fs.mkdirSync(benchDir, { recursive: true });
    const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
    profile = {};
    const sides = [
      {
        side: 'tongban',
        procs: [
          { name: `asker-${ASKER}`, proc: asker.proc },
          { name: `issuer-${ISSUER}`, proc: issuer.proc },
        ],
        target: asker,
        pids: tongbanPids,
      },
      {
        side: 'bare',
        procs: [
          { name: 'bare-front', proc: bareFront.proc },
          { name: 'bare-issuer', proc: bareIssuer.proc },
        ],
        target: bareTarget,
        pids: barePids,
      },
    ];
    for (const { side, procs, target, pids } of sides) {
      log(`[profile] CPU-profiling ${procs.map((p) => p.name).join(' and ')} for ${REQUESTS ? `${REQUESTS} requests` : `${DURATION_S} s`} of c=64 single calls`);
      await Promise.all(procs.map((p) => profileCommand(p, { type: 'bench:profile:start', intervalUs: 200, heap: HEAP_PROFILE }, 'bench:profile:started')));
      const loadRun = await runLoad({ url: target.baseUrl, path: '/v1/verifications', token: target.apiToken, bodiesFile: singleBodiesFile, connections: 64, kind: 'single', warmupS: 0 }, pids);
      const summaries = {};
      for (const p of procs) {
        const file = path.join(benchDir, `verify-${stamp}-${p.name}.cpuprofile`);
        await profileCommand(p, { type: 'bench:profile:stop', file }, 'bench:profile:written');
        summaries[p.name] = { file, s: profileSummary.summarise(JSON.parse(fs.readFileSync(file, 'utf8'))) };
        if (HEAP_PROFILE)
          log(`  ${p.name} allocations: ${path.relative(fed.ROOT, file.replace(/\.cpuprofile$/, '.heapprofile'))} (node scripts/bench/heapprofile-parts.js <file> ${REQUESTS ?? '<requests>'})`);
      }
      log(runLine(`${side} c=64 (profiled)`, loadRun));
      log(cpuLine(loadRun));
      profile[side] = { load: loadRun, processes: {} };
      for (const [name, { file, s: sum }] of Object.entries(summaries)) {
        log(profileSummary.format(`${name} (${path.relative(fed.ROOT, file)})`, sum, 30));
        profile[side].processes[name] = {
          file: path.relative(fed.ROOT, file),
          busyMs: sum.busyMs,
          idleMs: sum.idleMs,
          top: sum.byFunction.slice(0, 40),
          ownInclusive: sum.ownInclusive.slice(0, 40),
          byArea: sum.byArea,
        };
      }
    }
  }

  // Optional (issue 11): the same c=64 run through a second pair signing SM2SM3.
  const sm2 = sm2Mode.ENABLED
    ? await sm2Mode.run({
        fed,
        ISSUER,
        ASKER,
        tmpDir,
        tls,
        ports,
        PLAINTEXT,
        log,
        freePort,
        withTimeout,
        startGatewayBounded,
        checkSingles,
        runLoad,
        runLine,
        cpuLine,
        licencesFile,
        samples,
        singleBodiesFile,
        focus: FOCUS,
      })
    : null;

  // Stop everything before reporting (cleanup() also runs in finally, for the error paths).
  await withTimeout(Promise.all([asker.stop(), issuer.stop(), bareFront.stop(), bareIssuer.stop(), ...(sm2?.gateways ?? []).map((g) => g.stop())]), 30_000, 'stopping processes');

  // 6. Report.
  log('');
  log('[6/6] results');
  report({ machine, build, startedAt, genMs, importMs, single, batch, unshared, profile, sm2Run: sm2?.run });
}

const otherCpu = (r) => (r?.cpu?.other ? `${f0(r.cpu.other.utilisation * 100)}%${noisy(r) ? '*' : ''}` : '-');

function report({ machine, build, startedAt, genMs, importMs, single, batch, unshared, profile, sm2Run }) {
  const W = 118;
  log('='.repeat(W));
  log(`machine: ${machine.cpuModel} | ${machine.cores} cores | ${machine.totalMemGiB} GiB | Node ${machine.node} | ${machine.date}`);
  log(`transport: ${PLAINTEXT ? 'PLAINTEXT on both sides (BENCH_PLAINTEXT=1; gateways on the development flag)' : 'mutual TLS on both sides (same CA and certificates)'}`);
  log(`licences: ${LICENCES} for issuer ${ISSUER}; import ${secs(importMs)} (generation ${secs(genMs)}); ${DURATION_S} s per run after ${WARMUP_S} s warm-up`);
  log('-'.repeat(W));
  log(
    `${'conc'.padEnd(5)}| ${'Tongban req/s'.padStart(13)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} | ${'bare req/s'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} | ${'req/s T/B'.padStart(9)} ${'p99 T/B'.padStart(8)} | ${'bad T/B'.padStart(9)} | ${'other CPU T/B'.padStart(13)}`,
  );
  for (const s of single) {
    const T = s.tongban;
    const B = s.bare;
    s.ratio = { reqPerSec: T.reqPerSec / B.reqPerSec, p99: T.p99 / B.p99, p50: T.p50 / B.p50 };
    log(
      `${String(s.connections).padEnd(5)}| ${f0(T.reqPerSec).padStart(13)} ${f2(T.p50).padStart(8)} ${f2(T.p99).padStart(8)} | ${f0(B.reqPerSec).padStart(10)} ${f2(B.p50).padStart(8)} ${f2(B.p99).padStart(8)} | ${f2(s.ratio.reqPerSec).padStart(9)} ${f2(s.ratio.p99).padStart(8)} | ${`${bad(T)}/${bad(B)}`.padStart(9)} | ${otherCpu(T).padStart(6)}/${otherCpu(B).padEnd(6)}`,
    );
  }
  log('  (bad = non-2xx + connection errors + timeouts + response bodies failing the success check, during the timed window;');
  log(`   other CPU = CPU used by processes outside the benchmark during the window, in % of one core; * = over ${NOISE_LIMIT * 100}%: figure suspect)`);
  const us = (r, k) => (r.cpu?.[k]?.usPerRequest == null ? '-' : f0(r.cpu[k].usPerRequest));
  const util = (r, k) => (r.cpu?.[k] ? `${f0(r.cpu[k].utilisation * 100)}%` : '-');
  log('CPU per verification in µs (share of one core) during the timed window; CPU T/B = Tongban µs ÷ bare µs (servers only),');
  log('which other load on the machine disturbs far less than req/s:');
  for (const s of single) {
    const T = s.tongban;
    const B = s.bare;
    const tUs = (T.cpu?.asker?.usPerRequest ?? NaN) + (T.cpu?.issuer?.usPerRequest ?? NaN);
    const bUs = (B.cpu?.front?.usPerRequest ?? NaN) + (B.cpu?.issuer?.usPerRequest ?? NaN);
    s.ratio.serverCpuPerRequest = tUs / bUs;
    log(
      `  c=${String(s.connections).padEnd(3)} Tongban asker ${us(T, 'asker').padStart(5)} (${util(T, 'asker')}) issuer ${us(T, 'issuer').padStart(5)} (${util(T, 'issuer')}) loadgen ${us(T, 'loadgen').padStart(4)}` +
        ` | bare front ${us(B, 'front').padStart(5)} (${util(B, 'front')}) issuer ${us(B, 'issuer').padStart(5)} (${util(B, 'issuer')}) loadgen ${us(B, 'loadgen').padStart(4)}` +
        ` | CPU T/B ${f2(s.ratio.serverCpuPerRequest)}`,
    );
  }
  log('-'.repeat(W));
  const bestSingle = single.reduce((a, b) => (b.tongban.reqPerSec > a.tongban.reqPerSec ? b : a));
  const bestBatch = batch.length ? batch.reduce((a, b) => (b.licencesPerSec > a.licencesPerSec ? b : a)) : undefined;
  for (const b of batch) {
    log(
      `batch c=${String(b.connections).padEnd(3)} ${f0(b.tongban.reqPerSec).padStart(6)} req/s × ${BATCH_SIZE} = ${f0(b.licencesPerSec).padStart(7)} licences/s   p50 ${f2(b.tongban.p50)} ms  p99 ${f2(b.tongban.p99)} ms   bad ${bad(b.tongban)}   other CPU ${otherCpu(b.tongban)}`,
    );
  }
  const at = (c) => single.find((s) => s.connections === c);
  const c64 = at(64);
  const c16 = at(16);
  const batchRatio = bestBatch && unshared ? bestBatch.licencesPerSec / unshared.reqPerSec : NaN;
  if (unshared) {
    const uUs = (unshared.cpu?.asker?.usPerRequest ?? NaN) + (unshared.cpu?.issuer?.usPerRequest ?? NaN);
    const bUs = (c64.bare.cpu?.front?.usPerRequest ?? NaN) + (c64.bare.cpu?.issuer?.usPerRequest ?? NaN);
    unshared.ratio = { reqPerSec: unshared.reqPerSec / c64.bare.reqPerSec, p99: unshared.p99 / c64.bare.p99, serverCpuPerRequest: uUs / bUs };
    log(
      `single calls (coalescing off, one call per request) c=64: ${f0(unshared.reqPerSec)} req/s, p99 ${f2(unshared.p99)} ms, asker + issuer ${f0(uUs)} µs per request; ` +
        `÷ bare at c=64: ${(unshared.ratio.reqPerSec * 100).toFixed(1)}% req/s, CPU ${f2(unshared.ratio.serverCpuPerRequest)}× (not a target: the targets are the gateway as deployed, coalescing on)`,
    );
  }
  if (bestBatch) {
    log(
      `best coalesced single: ${f0(bestSingle.tongban.reqPerSec)} licences/s at c=${bestSingle.connections}; single calls: ${f0(unshared?.reqPerSec)} licences/s; best batch: ${f0(bestBatch.licencesPerSec)} licences/s at c=${bestBatch.connections}; batch ÷ single calls = ${f2(batchRatio)}×`,
    );
  }
  log('-'.repeat(W));

  // Under BENCH_FOCUS the c=16 and batch runs are not made: their checks are absent (reported as not measured).
  const allChecks = [
    c64 && {
      name: `throughput at c=64 ≥ ${TARGETS.throughputRatioC64 * 100}% of bare`,
      value: c64.ratio.reqPerSec,
      shown: `${(c64.ratio.reqPerSec * 100).toFixed(1)}% (${f0(c64.tongban.reqPerSec)} vs ${f0(c64.bare.reqPerSec)} req/s)`,
      pass: c64.ratio.reqPerSec >= TARGETS.throughputRatioC64,
      valid: bad(c64.tongban) === 0 && bad(c64.bare) === 0,
      noisy: noisy(c64.tongban) || noisy(c64.bare),
    },
    c16 && {
      name: `p99 at c=16 ≤ ${TARGETS.p99RatioC16}× bare`,
      value: c16.ratio.p99,
      shown: `${f2(c16.ratio.p99)}× (${f2(c16.tongban.p99)} vs ${f2(c16.bare.p99)} ms)`,
      pass: c16.ratio.p99 <= TARGETS.p99RatioC16,
      valid: bad(c16.tongban) === 0 && bad(c16.bare) === 0,
      noisy: noisy(c16.tongban) || noisy(c16.bare),
    },
    bestBatch &&
      unshared && {
        name: BATCH_CHECK,
        value: batchRatio,
        shown: `${f2(batchRatio)}× (${f0(bestBatch.licencesPerSec)} vs ${f0(unshared.reqPerSec)} licences/s)`,
        pass: batchRatio >= TARGETS.batchOverSingle,
        valid: bad(bestBatch.tongban) === 0 && bad(unshared) === 0,
        noisy: noisy(bestBatch.tongban) || noisy(unshared),
      },
  ];
  const checks = allChecks.filter(Boolean);
  if (FOCUS) log('BENCH_FOCUS: only c=64 was run; p99 at c=16 and batch/single not judged');
  for (const c of checks) {
    const verdict = !c.valid ? 'FAIL (run had errors)' : c.pass ? 'PASS' : 'FAIL';
    c.verdict = verdict;
    log(`${verdict.padEnd(22)} ${c.name.padEnd(40)} ${c.shown}${c.noisy ? '   (noisy: other processes were busy; re-run on a quiet machine)' : ''}`);
  }
  log('='.repeat(W));
  const rssMax = Math.max(...Object.values(c64.tongban.rssMiB ?? {}).filter((v) => v !== null));
  const issue10 = targets.report(
    'bench:verify',
    [
      ...allChecks
        .slice(0, 2)
        .map((c, i) =>
          c
            ? targets.check(c.name, c.valid ? c.pass : null, `${c.shown}${c.valid ? '' : ' (run had errors)'}${c.noisy ? ' (noisy)' : ''}`, c.value)
            : targets.check(i === 0 ? 'throughput at c=64' : `p99 at c=16 ≤ ${TARGETS.p99RatioC16}× bare`, null, 'not measured (BENCH_FOCUS)', null),
        ),
      targets.check(
        `CPU per verification at c=64 ≤ ${targets.GOALS.verifyCpuPerRequest}× bare`,
        Number.isFinite(c64.ratio.serverCpuPerRequest) ? c64.ratio.serverCpuPerRequest <= targets.GOALS.verifyCpuPerRequest : null,
        `${f2(c64.ratio.serverCpuPerRequest)}× (asker + issuer ${f0((c64.tongban.cpu?.asker?.usPerRequest ?? NaN) + (c64.tongban.cpu?.issuer?.usPerRequest ?? NaN))} µs vs bare ${f0((c64.bare.cpu?.front?.usPerRequest ?? NaN) + (c64.bare.cpu?.issuer?.usPerRequest ?? NaN))} µs)`,
        c64.ratio.serverCpuPerRequest,
      ),
      targets.check(
        `gateway RSS under the c=64 load ≤ ${targets.GOALS.rssUnderLoadMiB} MiB`,
        Number.isFinite(rssMax) ? rssMax <= targets.GOALS.rssUnderLoadMiB : null,
        Number.isFinite(rssMax) ? `${rssMax.toFixed(1)} MiB (asker ${f2(c64.tongban.rssMiB.asker)}, issuer ${f2(c64.tongban.rssMiB.issuer)})` : 'no /proc',
        rssMax,
      ),
      allChecks[2]
        ? targets.check(allChecks[2].name, allChecks[2].valid ? allChecks[2].pass : null, allChecks[2].shown, allChecks[2].value)
        : targets.check(BATCH_CHECK, null, 'not measured (BENCH_FOCUS)', null),
    ],
    { note: `other CPU at c=64: ${otherCpu(c64.tongban)} / ${otherCpu(c64.bare)} of a core (Tongban / bare)${PLAINTEXT ? '; PLAINTEXT' : ''}${QUICK ? '; BENCH_QUICK' : ''}` },
  );
  const sm2 = sm2Run ? { run: sm2Run, ...sm2Mode.report({ sm2Run, edRun: c64.tongban, bad, noisy, targets, log }) } : null;

  const benchDir = path.join(fed.ROOT, '.bench');
  fs.mkdirSync(benchDir, { recursive: true });
  const file = path.join(benchDir, `verify-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        benchmark: 'verify',
        machine: { ...machine, loadAvgAtEnd: os.loadavg().map((l) => +l.toFixed(2)) },
        build,
        settings: {
          licences: LICENCES,
          durationS: DURATION_S,
          warmupS: WARMUP_S,
          requestsPerMeasurement: REQUESTS,
          quick: QUICK,
          singleConcurrency: SINGLE_CONCURRENCY,
          batchConcurrency: BATCH_CONCURRENCY,
          batchSize: BATCH_SIZE,
          singleBodies: SINGLE_BODIES,
          batchBodies: BATCH_BODIES,
          requestTimeoutS: REQUEST_TIMEOUT_S,
        },
        import: { records: LICENCES, generationMs: genMs, importMs },
        single,
        batch,
        unshared,
        batchOverSingle: bestBatch ? { ratio: batchRatio, singleCalls: 'unshared asker at c=64', bestBatchConnections: bestBatch.connections } : null,
        targets: checks,
        issue10,
        sm2,
        profile,
        notes: [
          "latencies are exact (float ms) percentiles over every 2xx response of the timed window; autocannon's own 1-ms-resolution figures are under `autocannon`",
          'req/s counts 2xx responses only',
        ],
      },
      null,
      2,
    ) + '\n',
  );
  log(`results written to ${path.relative(fed.ROOT, file)}`);
  const failedRuns = [...single.flatMap((x) => [x.tongban, x.bare]), ...batch.map((b) => b.tongban), ...(unshared ? [unshared] : []), ...(sm2Run ? [sm2Run] : [])].filter((r) => bad(r) > 0).length;
  if (failedRuns) {
    log(`ERROR: ${failedRuns} timed run(s) had failed responses (see "bad"); their figures are not valid`);
    process.exitCode = 2;
  }
}

main()
  .catch((e) => {
    console.error(`\nbenchmark failed: ${e?.stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
