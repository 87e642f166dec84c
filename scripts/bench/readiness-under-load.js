#!/usr/bin/env node
'use strict';
// Readiness under load (issue 9 item 10): p50/p99 of GET /health/ready next to GET /health/live
// (the baseline: no check at all), first idle, then while 200 concurrent connections keep the
// gateway busy with GET /v1/cases (database reads). Starts its own SQLite gateway from dist/
// (`npm run build` first). Prints figures; asserts nothing.
//   node scripts/bench/readiness-under-load.js [--connections 200] [--probes 300] [--seconds 20]
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');
const fed = require('../lib/federation');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const CONNECTIONS = arg('connections', 200);
const PROBES = arg('probes', 300);
const SECONDS = arg('seconds', 20);
// --postgres: run the gateway on PostgreSQL (TEST_DATABASE_URL or 127.0.0.1:5432/test) in a schema of its own.
const POSTGRES = process.argv.includes('--postgres');
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS + 10 });
const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 2 });

function get(base, urlPath, token, useAgent) {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = http.get(`${base}${urlPath}`, { agent: useAgent, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', () => resolve({ status: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function probe(gw, label) {
  const ready = [];
  const live = [];
  const statuses = {};
  for (let i = 0; i < PROBES; i++) {
    const r = await get(gw.baseUrl, '/health/ready', null, probeAgent);
    ready.push(r.ms);
    statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    live.push((await get(gw.baseUrl, '/health/live', null, probeAgent)).ms);
  }
  const f = (x) => x.toFixed(1).padStart(8);
  console.log(
    `${label.padEnd(34)} /health/ready p50 ${f(pct(ready, 50))} ms p99 ${f(pct(ready, 99))} ms | /health/live p50 ${f(pct(live, 50))} ms p99 ${f(pct(live, 99))} ms | ready statuses ${JSON.stringify(statuses)}`,
  );
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tongban-ready-bench-'));
  const secrets = fed.newSecrets();
  const port = 18000 + Math.floor(Math.random() * 1000);
  const pg = POSTGRES ? { databaseUrl: PG_URL, env: { TONGBAN_DATABASE_SCHEMA: `bench_ready_${process.pid}` } } : {};
  const gw = await fed.startGateway({ code: '110000', dir, secrets, httpPort: port, grpcPort: port + 1000, insecure: true, ...pg });
  try {
    console.log(
      `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, load average ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
    await probe(gw, 'idle');
    let stop = false;
    let requests = 0;
    const loadStatuses = {};
    const loops = Array.from({ length: CONNECTIONS }, async () => {
      while (!stop) {
        const r = await get(gw.baseUrl, '/v1/cases?limit=100', secrets.apiToken, agent);
        loadStatuses[r.status] = (loadStatuses[r.status] ?? 0) + 1;
        requests++;
      }
    });
    const t0 = Date.now();
    const until = setTimeout(() => (stop = true), SECONDS * 1000);
    await probe(gw, `under ${CONNECTIONS} connections of load`);
    stop = true;
    clearTimeout(until);
    await Promise.all(loops);
    console.log(`load: ${requests} GET /v1/cases in ${((Date.now() - t0) / 1000).toFixed(1)} s, statuses ${JSON.stringify(loadStatuses)}`);
  } finally {
    await gw.stop();
    agent.destroy();
    probeAgent.destroy();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
