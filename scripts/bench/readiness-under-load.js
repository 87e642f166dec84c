#!/usr/bin/env node
'use strict';
// Readiness under load (issue 9 item 10): p50/p99 of GET /health/ready next to GET /health/live
// (the baseline: no check at all), first idle, then while 200 concurrent connections keep the
// gateway busy. The load runs in a child process (the probes never share an event loop with it):
//   --mix reads    every connection loops on GET /v1/cases?limit=100 (database reads)
//   --mix writes   (default) each connection cycles POST /v1/cases (a case with a peer: outbox,
//                  audit), POST /v1/verifications (a call to the peer 北京, which holds the demo
//                  licences) and GET /v1/cases?limit=100
// A 503 answer with Retry-After (load shedding) makes that connection wait as a well-behaved client
// does. Starts its own gateways (440000 under load, 110000 as the issuer) from dist/ (`npm run build`
// first). Prints figures; asserts nothing.
//   node scripts/bench/readiness-under-load.js [--connections 200] [--probes 300] [--mix writes|reads]
//        [--postgres] [--env TONGBAN_X=v]…
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const fs = require('node:fs');
const { fork } = require('node:child_process');

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const CONNECTIONS = Number(arg('connections', 200));
const PROBES = Number(arg('probes', 300));
const MIX = arg('mix', 'writes');
// --postgres: the gateway under load on PostgreSQL (TEST_DATABASE_URL or 127.0.0.1:5432/test) in a schema of its own.
const POSTGRES = process.argv.includes('--postgres');
const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
// --env K=V (repeatable): settings of the gateway under load, e.g. --env TONGBAN_HTTP_MAX_IN_FLIGHT=32.
const EXTRA_ENV = Object.fromEntries(
  process.argv
    .map((a, i) => (process.argv[i - 1] === '--env' ? a.split('=') : null))
    .filter(Boolean)
    .map(([k, ...v]) => [k, v.join('=')]),
);

function request(base, method, urlPath, token, body, agent) {
  const t0 = process.hrtime.bigint();
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve) => {
    const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) };
    const req = http.request(`${base}${urlPath}`, { method, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, retryAfter: Number(res.headers['retry-after'] ?? 0), ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.on('error', () => resolve({ status: 0, retryAfter: 0, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    req.end(data);
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// ---------------------------------------------------------------------------------------------
// The load (child process)
// ---------------------------------------------------------------------------------------------

function child() {
  process.on('message', (m) => {
    if (m.type !== 'start') return;
    const { base, token, connections, ops } = m;
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections + 10 });
    let stop = false;
    const counts = {};
    const latencies = [];
    const loops = Array.from({ length: connections }, async (_, c) => {
      for (let i = c; !stop; i++) {
        const op = ops[i % ops.length];
        const r = await request(base, op.method, op.path, token, op.bodies ? op.bodies[i % op.bodies.length] : undefined, agent);
        const key = `${op.method} ${op.path.split('?')[0]} ${r.status}`;
        counts[key] = (counts[key] ?? 0) + 1;
        if (r.status >= 200 && r.status < 300) latencies.push(r.ms);
        if (r.status === 503 && r.retryAfter > 0) await new Promise((res) => setTimeout(res, r.retryAfter * 1000));
      }
    });
    process.on('message', async (s) => {
      if (s.type !== 'stop') return;
      stop = true;
      await Promise.all(loops);
      agent.destroy();
      process.send({ type: 'result', counts, ok: latencies.length, p50: pct(latencies, 50), p99: pct(latencies, 99) });
    });
    process.send({ type: 'started' });
  });
}

// ---------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------

/** Probes /health/ready and /health/live on the API port and, with TONGBAN_HEALTH_PORT, on the health listener. */
async function probe(gw, label) {
  const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const targets = [['API port', gw.baseUrl]];
  if (EXTRA_ENV.TONGBAN_HEALTH_PORT) targets.push(['health port', `http://127.0.0.1:${EXTRA_ENV.TONGBAN_HEALTH_PORT}`]);
  const seen = targets.map(() => ({ ready: [], live: [], statuses: {} }));
  for (let i = 0; i < PROBES; i++) {
    for (const [t, [, base]] of targets.entries()) {
      const r = await request(base, 'GET', '/health/ready', null, undefined, probeAgent);
      seen[t].ready.push(r.ms);
      seen[t].statuses[r.status] = (seen[t].statuses[r.status] ?? 0) + 1;
      seen[t].live.push((await request(base, 'GET', '/health/live', null, undefined, probeAgent)).ms);
    }
  }
  probeAgent.destroy();
  const f = (x) => x.toFixed(1).padStart(7);
  for (const [t, [where]] of targets.entries()) {
    const { ready, live, statuses } = seen[t];
    const over1s = ready.filter((x) => x >= 1000).length;
    console.log(
      `${label.padEnd(26)} ${where.padEnd(11)} ready p50 ${f(pct(ready, 50))} p99 ${f(pct(ready, 99))} max ${f(Math.max(...ready))} ms (≥1 s: ${over1s}) | live p50 ${f(pct(live, 50))} p99 ${f(pct(live, 99))} ms | ready ${JSON.stringify(statuses)}`,
    );
  }
}

async function main() {
  const fed = require('../lib/federation');
  const bot = require('../lib/case-bot');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tongban-ready-bench-'));
  const port = 18000 + Math.floor(Math.random() * 900);
  const pg = POSTGRES ? { databaseUrl: PG_URL } : {};
  const quiet = { TONGBAN_LOG_LEVEL: 'warn' };
  const bj = await fed.startGateway({ code: '110000', dir: path.join(dir, 'bj'), secrets: fed.newSecrets(), httpPort: port, grpcPort: port + 1000, insecure: true, env: quiet });
  const gd = await fed.startGateway({
    code: '440000',
    dir: path.join(dir, 'gd'),
    secrets: fed.newSecrets(),
    httpPort: port + 1,
    grpcPort: port + 1001,
    insecure: true,
    ...pg,
    env: { ...quiet, ...(POSTGRES ? { TONGBAN_DATABASE_SCHEMA: `bench_ready_${process.pid}` } : {}), ...EXTRA_ENV },
  });
  let load;
  try {
    await fed.connectAll([bj, gd]);
    const imported = await fed.runCli(bj.options, ['licences', 'import', path.join(fed.ROOT, 'deploy/demo/licences-110000.json')]);
    if (imported.code !== 0) throw new Error(`licence import: ${imported.stderr}`);
    const items = [...(await bot.catalogueItems(gd)).values()];
    const caseBodies = items.slice(0, 8).map((item) => bot.caseBody(item, '440000', ['110000']));
    const doc = await (await fetch(`${gd.baseUrl}/docs/openapi.json`)).json();
    const verifyBodies = Object.values(doc.paths['/v1/verifications'].post.requestBody.content['application/json'].examples).map((e) => e.value);
    for (const [what, p, b] of [
      ['case', '/v1/cases', caseBodies[0]],
      ['verification', '/v1/verifications', verifyBodies[0]],
    ]) {
      const r = await fed.call(gd, 'POST', p, b);
      if (r.status >= 300) throw new Error(`sample ${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    }
    const read = { method: 'GET', path: '/v1/cases?limit=100' };
    const ops = MIX === 'reads' ? [read] : [{ method: 'POST', path: '/v1/cases', bodies: caseBodies }, { method: 'POST', path: '/v1/verifications', bodies: verifyBodies }, read];
    console.log(
      `machine: ${os.cpus().length} × ${os.cpus()[0]?.model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, load average ${os
        .loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}; gateway 440000 on ${POSTGRES ? 'PostgreSQL' : 'SQLite'}, mix ${MIX}, settings ${JSON.stringify(EXTRA_ENV)}`,
    );
    await probe(gd, 'idle');
    load = fork(__filename, ['--child'], { stdio: 'inherit' });
    const said = (type) => new Promise((resolve) => load.on('message', (m) => m.type === type && resolve(m)));
    const started = said('started');
    load.send({ type: 'start', base: gd.baseUrl, token: gd.apiToken, connections: CONNECTIONS, ops });
    await started;
    const t0 = Date.now();
    await probe(gd, `${CONNECTIONS} connections (${MIX})`);
    const result = said('result');
    load.send({ type: 'stop' });
    const r = await result;
    const s = (Date.now() - t0) / 1000;
    console.log(`load: ${r.ok} answers 2xx in ${s.toFixed(1)} s (${(r.ok / s).toFixed(0)}/s, p50 ${r.p50?.toFixed(0)} ms, p99 ${r.p99?.toFixed(0)} ms); ${JSON.stringify(r.counts)}`);
  } finally {
    load?.kill();
    await Promise.all([gd.stop(), bj.stop()]);
  }
}

if (process.argv.includes('--child')) child();
else
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
