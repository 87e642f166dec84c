#!/usr/bin/env node
'use strict';
// CPU per verification of two (or more) builds and the bare baseline, interleaved on one machine
// (`node scripts/bench/verify-ab.js`): for before/after comparisons that must hold on a shared, busy
// machine, where req/s and even a single window's CPU per request drift with other people's work.
//
// Each arm is a pair of processes answering POST /v1/verifications over mutual TLS: asker 440000 →
// issuer 110000 of a build (a checkout with dist/ built, scripts/lib/federation.js beside it), or
// the bare baseline of verify-bench.js (bare-front.js → bare-issuer.js). All arms run at once,
// idle unless loaded; the rounds load one arm at a time with the same fixed number of requests at
// c=64, rotating the order every round, and read each server's CPU time from /proc around each
// round. Medians over the rounds are reported, with each build's ratio to the bare arm and to the
// first build.
//
// Env: AB_BUILDS (comma-separated checkout roots; default this checkout; `root#flags` runs that
//      arm's gateways with extra node flags, e.g. `/work/main#--max-semi-space-size=8`), AB_ROUNDS (default 5),
//      AB_REQUESTS (per round and arm, default 1500; a warm-up of as many runs first),
//      AB_CONNECTIONS (default 64), AB_LICENCES (issuer registry size, default 20000).
// Output: a table on stdout and .bench/verify-ab-<timestamp>.json.
const childProcess = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { stopProcesses, trackForkedChildren } = require('../lib/processes');
// Before ../lib/federation, which takes `fork` when first required: cleanup then reaches every child.
const children = trackForkedChildren();
const here = require('../lib/federation');
const { generateLicences, verificationBody, buildBareDatabase, prng } = require('./licence-data');
const { newBareKeys, writeProto } = require('./bare-common');

const int = (name, def, min, max) => {
  const v = process.env[name];
  if (v === undefined || v === '') return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer ${min}-${max} (got ${v})`);
  return n;
};
const BUILDS = (process.env.AB_BUILDS || here.ROOT).split(',').map((entry) => {
  const [root, flags = ''] = entry.split('#');
  return { root: path.resolve(root), execArgv: flags.split(' ').filter(Boolean) };
});
const ROUNDS = int('AB_ROUNDS', 5, 1, 100);
const REQUESTS = int('AB_REQUESTS', 1500, 100, 1_000_000);
const CONNECTIONS = int('AB_CONNECTIONS', 64, 1, 1024);
const LICENCES = int('AB_LICENCES', 20_000, 100, 1_000_000);
const ISSUER = '110000';
const ASKER = '440000';
const log = (...a) => console.log(...a);

let tmpDir;
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await stopProcesses(children);
    if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    tmpDir = undefined;
  })();
  return cleaning;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(signal, () => cleanup().finally(() => process.exit(130)));

/** Peak and current resident memory of a process (MiB), from /proc. */
function memMiBOf(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(status.match(new RegExp(`^${key}:\\s+(\\d+)`, 'm'))?.[1] ?? NaN);
  return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
}

let clockTicks;
/** CPU time (user+system, ms) a process has used so far, from /proc. */
function cpuMsOf(pid) {
  clockTicks ??= Number(childProcess.execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / clockTicks;
}
const machineBusyMs = () => os.cpus().reduce((a, c) => a + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);

/** One load run of `requests` at CONNECTIONS in a separate process; CPU µs per 2xx of each pid. */
function load(target, bodiesFile, requests, pids) {
  return new Promise((resolve, reject) => {
    const proc = childProcess.fork(path.join(__dirname, 'load-runner.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let start;
    proc.on('message', (m) => {
      if (m?.type === 'measure-start') start = { at: process.hrtime.bigint(), machine: machineBusyMs(), cpu: Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuMsOf(p)])) };
      else if (m?.type === 'result') {
        const wallMs = Number(process.hrtime.bigint() - start.at) / 1e6;
        const r = m.result;
        const us = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, ((cpuMsOf(p) - start.cpu[k]) * 1000) / r.ok2xx]));
        const ours = (Object.values(us).reduce((a, b) => a + b, 0) * r.ok2xx) / 1000;
        resolve({
          ok: r.ok2xx,
          bad: r.non2xx + r.errors + r.timeouts + r.mismatches + r.otherResponses,
          reqPerSec: r.reqPerSec,
          p99: r.p99,
          us,
          otherCores: Math.max(0, machineBusyMs() - start.machine - ours) / wallMs,
        });
      } else if (m?.type === 'error') reject(new Error(m.message));
    });
    proc.once('exit', (code) => setTimeout(() => reject(new Error(`load runner exited (${code})`)), 1000));
    proc.send({ url: target.baseUrl, path: '/v1/verifications', token: target.apiToken, bodiesFile, connections: CONNECTIONS, kind: 'single', timeoutS: 20, requests, warmupRequests: 0 });
  });
}

async function startBuild({ root, execArgv }, i, licencesFile) {
  const fed = require(path.join(root, 'scripts', 'lib', 'federation.js'));
  const dir = path.join(tmpDir, `build${i}`);
  const tls = fed.localPki(path.join(dir, 'tls'), [ISSUER, ASKER], fed.newPkiSecrets());
  const opts = (code) => ({ code, dir: path.join(dir, `gw-${code}`), secrets: fed.newSecrets(), tls: tls[code], httpPort: 0, grpcPort: 0, execArgv });
  const issuerOptions = { ...opts(ISSUER), ...(await ports()) };
  const askerOptions = { ...opts(ASKER), ...(await ports()) };
  const imported = await fed.runCli(issuerOptions, ['licences', 'import', licencesFile]);
  if (imported.code !== 0) throw new Error(`import failed in ${root}: ${imported.stderr.slice(-2000)}`);
  const issuer = await fed.startGateway(issuerOptions);
  const asker = await fed.startGateway(askerOptions);
  await fed.connectAll([issuer, asker]);
  return { name: `build ${i + 1}`, root, target: asker, pids: { asker: asker.proc.pid, issuer: issuer.proc.pid }, stop: () => Promise.all([asker.stop(), issuer.stop()]) };
}

const usedPorts = new Set();
async function ports() {
  const net = require('node:net');
  const one = () =>
    new Promise((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = s.address().port;
        s.close(() => resolve(p));
      });
    });
  const take = async () => {
    for (;;) {
      const p = await one();
      if (!usedPorts.has(p)) return (usedPorts.add(p), p);
    }
  };
  return { httpPort: await take(), grpcPort: await take() };
}

async function startBare(records) {
  const dir = path.join(tmpDir, 'bare');
  fs.mkdirSync(dir, { recursive: true });
  const db = path.join(dir, 'licences.sqlite');
  buildBareDatabase(db, records);
  const tls = here.localPki(path.join(dir, 'tls'), [ISSUER, ASKER], here.newPkiSecrets());
  const p = await ports();
  const cfg = {
    protoFile: writeProto(dir),
    sqlitePath: db,
    issuerCode: ISSUER,
    askerCode: ASKER,
    httpPort: p.httpPort,
    grpcPort: p.grpcPort,
    apiToken: crypto.randomBytes(24).toString('base64url'),
    keys: newBareKeys(),
    tls: { issuer: tls[ISSUER], front: tls[ASKER] },
  };
  cfg.issuerGrpcPort = cfg.grpcPort;
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify(cfg), { mode: 0o600 });
  const start = (script) =>
    new Promise((resolve, reject) => {
      const proc = childProcess.fork(path.join(__dirname, script), [], { env: { ...process.env, BARE_CONFIG: file }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      proc.once('exit', (c) => reject(new Error(`${script} exited (${c})`)));
      proc.on('message', (m) => m?.type === 'ready' && resolve(proc));
    });
  const issuer = await start('bare-issuer.js');
  const front = await start('bare-front.js');
  return { name: 'bare', target: { baseUrl: `http://127.0.0.1:${cfg.httpPort}`, apiToken: cfg.apiToken }, pids: { front: front.pid, issuer: issuer.pid } };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tongban-ab-'));
  const startedAt = new Date();
  log(`verify A/B: ${BUILDS.length} build(s) + bare, ${ROUNDS} rounds × ${REQUESTS} requests at c=${CONNECTIONS} per arm (after a warm-up of ${REQUESTS}), ${LICENCES} licences`);
  log(
    `  machine: ${os.cpus()[0]?.model}, ${os.cpus().length} cores, Node ${process.version}; load average at start ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  BUILDS.forEach((b, i) => log(`  build ${i + 1}: ${b.root}${b.execArgv.length ? ` (node ${b.execArgv.join(' ')})` : ''}`));
  const records = generateLicences(LICENCES);
  const licencesFile = path.join(tmpDir, 'licences.json');
  fs.writeFileSync(licencesFile, JSON.stringify(records));
  const rand = prng(20261125);
  const bodiesFile = path.join(tmpDir, 'bodies.json');
  fs.writeFileSync(bodiesFile, JSON.stringify(Array.from({ length: 20_000 }, () => JSON.stringify(verificationBody(records[Math.floor(rand() * records.length)])))));
  const arms = [...(await Promise.all(BUILDS.map((b, i) => startBuild(b, i, licencesFile)))), await startBare(records)];
  log('  all arms up; warming up');
  for (const a of arms) await load(a.target, bodiesFile, REQUESTS, a.pids);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order = arms.map((_, i) => arms[(i + r) % arms.length]);
    const round = {};
    for (const a of order) round[a.name] = await load(a.target, bodiesFile, REQUESTS, a.pids);
    rounds.push(round);
    log(
      `  round ${r + 1}: ` +
        arms
          .map((a) => {
            const x = round[a.name];
            return `${a.name} ${Object.entries(x.us)
              .map(([k, v]) => `${k} ${v.toFixed(0)}`)
              .join(' + ')} µs (${x.reqPerSec.toFixed(0)} req/s, bad ${x.bad}, other ${(x.otherCores * 100).toFixed(0)}%)`;
          })
          .join(' | '),
    );
  }
  const total = (x) => Object.values(x.us).reduce((s, v) => s + v, 0);
  const summary = arms.map((a) => {
    const per = Object.fromEntries(Object.keys(a.pids).map((k) => [k, median(rounds.map((r) => r[a.name].us[k]))]));
    return {
      name: a.name,
      root: a.root ?? null,
      medianUs: per,
      medianTotalUs: median(rounds.map((r) => total(r[a.name]))),
      medianReqPerSec: median(rounds.map((r) => r[a.name].reqPerSec)),
      bad: rounds.reduce((s, r) => s + r[a.name].bad, 0),
      peakRssMiB: Object.fromEntries(Object.entries(a.pids).map(([k, p]) => [k, memMiBOf(p).peak])),
    };
  });
  const bare = summary.find((s) => s.name === 'bare');
  log('='.repeat(100));
  log('median CPU µs per verification over the rounds (servers only):');
  for (const s of summary) {
    const ratios = s === bare ? '' : `   ×bare ${(s.medianTotalUs / bare.medianTotalUs).toFixed(2)}   ×build 1 ${(s.medianTotalUs / summary[0].medianTotalUs).toFixed(3)}`;
    log(
      `  ${s.name.padEnd(8)} ${Object.entries(s.medianUs)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(' + ')} = ${s.medianTotalUs.toFixed(0)} µs${ratios}   (median ${s.medianReqPerSec.toFixed(0)} req/s; bad ${s.bad}; peak RSS ${Object.entries(s.peakRssMiB)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(' / ')} MiB)`,
    );
  }
  log('='.repeat(100));
  const benchDir = path.join(here.ROOT, '.bench');
  fs.mkdirSync(benchDir, { recursive: true });
  const file = path.join(benchDir, `verify-ab-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify(
      {
        benchmark: 'verify-ab',
        startedAt,
        machine: { cpu: os.cpus()[0]?.model, cores: os.cpus().length, node: process.version },
        settings: { builds: BUILDS, rounds: ROUNDS, requests: REQUESTS, connections: CONNECTIONS, licences: LICENCES },
        rounds,
        summary,
      },
      null,
      2,
    ) + '\n',
  );
  log(`results written to ${path.relative(here.ROOT, file)}`);
  if (summary.some((s) => s.bad > 0)) process.exitCode = 2;
}

main()
  .catch((e) => {
    console.error(`verify A/B failed: ${e?.stack ?? e}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
