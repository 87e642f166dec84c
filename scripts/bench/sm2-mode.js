'use strict';
// SM2 mode of verify-bench.js (`BENCH_SM2=1 npm run bench:verify`, or `npm run bench:verify -- --sm2`),
// issue 11 item 7: after the normal (Ed25519) Tongban pair, a second Tongban pair whose gateways both
// sign with SM2SM3 (TONGBAN_SIGNING_ALG, docs/operations.md §4.1a), same licences, same TLS, same
// request bodies, measured at c=64 in the same run; compared with the Ed25519 pair's c=64 figures.
// The Ed25519 pair stays up (idle) meanwhile, so both measurements see the same set of processes.
const path = require('node:path');

const ENABLED = process.env.BENCH_SM2 === '1' || process.argv.includes('--sm2');
const ALG = 'SM2SM3';

/** Active signing algorithm of a gateway, from GET /admin/keys. */
async function activeAlg(gw) {
  const res = await fetch(`${gw.baseUrl}/admin/keys`, { headers: { authorization: `Bearer ${gw.adminToken}` } });
  const body = await res.json();
  return (body.keys || []).find((k) => k.status === 'ACTIVE')?.alg ?? null;
}

/**
 * Starts the SM2 pair (fresh data dirs, licences imported again), checks both sign with SM2SM3 and
 * answer the samples correctly, runs c=64 once. `h` carries the benchmark's own helpers and state.
 * Returns { run, gateways } (gateways to stop).
 */
async function run(h) {
  const { fed, ISSUER, ASKER, tmpDir, tls, ports, PLAINTEXT, log } = h;
  const options = (code) => ({
    code,
    dir: path.join(tmpDir, `gw-sm2-${code}`),
    secrets: fed.newSecrets(),
    ...(PLAINTEXT ? { insecure: true } : { tls: tls[code] }),
    env: { TONGBAN_SIGNING_ALG: ALG },
  });
  const issuerOptions = { ...options(ISSUER), httpPort: await h.freePort(ports), grpcPort: await h.freePort(ports) };
  const askerOptions = { ...options(ASKER), httpPort: await h.freePort(ports), grpcPort: await h.freePort(ports) };
  log(`[sm2] second Tongban pair signing ${ALG}: importing the same licences, starting ${ASKER} → ${ISSUER}`);
  const imported = await h.withTimeout(fed.runCli(issuerOptions, ['licences', 'import', h.licencesFile]), 600_000, 'SM2 licence import');
  if (imported.code !== 0) throw new Error(`SM2 pair licence import failed (exit ${imported.code}):\n${imported.stdout}\n${imported.stderr.slice(-3000)}`);
  const issuer = await h.startGatewayBounded(issuerOptions);
  const asker = await h.startGatewayBounded(askerOptions);
  const gateways = [issuer, asker];
  try {
    await h.withTimeout(fed.connectAll(gateways), 60_000, 'SM2 connectAll');
    for (const gw of gateways) {
      const alg = await activeAlg(gw);
      if (alg !== ALG) throw new Error(`SM2 pair: gateway ${gw.code} signs with ${alg}, not ${ALG}`);
    }
    log(`  both gateways sign with ${ALG} (GET /admin/keys: active key)`);
    await h.checkSingles(asker, h.samples, `Tongban ${ALG} ${ASKER}→${ISSUER}`);
    if (!h.focus) {
      const seen = await h.withTimeout(askEveryBodyOnce(asker, h.singleBodiesFile), 300_000, 'SM2 pair: first sight of every licence');
      log(`  every request body asked once through the batch endpoint (${seen} licences): status-list places assigned as at the Ed25519 pair`);
    }
    const pids = { asker: asker.proc.pid, issuer: issuer.proc.pid };
    const r = await h.runLoad({ url: asker.baseUrl, path: '/v1/verifications', token: asker.apiToken, bodiesFile: h.singleBodiesFile, connections: 64, kind: 'single' }, pids);
    log(h.runLine(`Tongban ${ALG} c=64`, r));
    log(h.cpuLine(r));
    return { run: r, gateways };
  } catch (e) {
    await Promise.all(gateways.map((g) => g.stop()));
    throw e;
  }
}

/**
 * Before its c=64 run the Ed25519 pair has answered some 50,000 random draws from the request bodies
 * (the c=1 and c=16 runs come first), so nearly every licence's status-list place is assigned and
 * cached there, while a fresh pair pays one assignment write per first sight of a licence (measured:
 * that, not the algorithm, made most of the two pairs' difference at f0149f8). Each body is asked
 * once, 100 per batch request, 4 at a time, so the comparison is one of the algorithms. Skipped
 * with BENCH_FOCUS, where both pairs start fresh. Returns the licences asked.
 */
async function askEveryBodyOnce(asker, bodiesFile) {
  // The load runner's bodies are request texts.
  const bodies = JSON.parse(require('node:fs').readFileSync(bodiesFile, 'utf8')).map((b) => (typeof b === 'string' ? JSON.parse(b) : b));
  const batches = [];
  for (let i = 0; i < bodies.length; i += 100) batches.push(bodies.slice(i, i + 100));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const items = batches[next++];
      const res = await fetch(`${asker.baseUrl}/v1/verifications/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${asker.apiToken}` },
        body: JSON.stringify({ items }),
      });
      if (res.status !== 200) throw new Error(`SM2 pair: batch answered HTTP ${res.status}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return bodies.length;
}

const serverUs = (r) => (r?.cpu?.asker?.usPerRequest ?? NaN) + (r?.cpu?.issuer?.usPerRequest ?? NaN);

/** Prints SM2 vs Ed25519 at c=64 and the issue-11 target through targets.js; returns the figures. */
function report({ sm2Run, edRun, bad, noisy, targets, log }) {
  const f0 = (v) => (Number.isFinite(v) ? v.toFixed(0) : '-');
  const throughput = sm2Run.reqPerSec / edRun.reqPerSec;
  const cpu = serverUs(sm2Run) / serverUs(edRun);
  const valid = bad(sm2Run) === 0 && bad(edRun) === 0;
  const isNoisy = noisy(sm2Run) || noisy(edRun);
  log(
    `SM2SM3 vs Ed25519 at c=64: ${f0(sm2Run.reqPerSec)} vs ${f0(edRun.reqPerSec)} req/s = ${(throughput * 100).toFixed(1)}%; p99 ${sm2Run.p99?.toFixed(2)} vs ${edRun.p99?.toFixed(2)} ms;` +
      ` CPU per verification (asker + issuer) ${f0(serverUs(sm2Run))} vs ${f0(serverUs(edRun))} µs = ${cpu.toFixed(2)}×` +
      ` (asker ${f0(sm2Run.cpu?.asker?.usPerRequest)} vs ${f0(edRun.cpu?.asker?.usPerRequest)}, issuer ${f0(sm2Run.cpu?.issuer?.usPerRequest)} vs ${f0(edRun.cpu?.issuer?.usPerRequest)})`,
  );
  const goal = targets.GOALS.sm2ThroughputC64;
  const checks = targets.report(
    'bench:verify --sm2',
    [
      targets.check(
        `SM2 throughput at c=64 ≥ ${goal * 100}% of Ed25519's`,
        valid ? throughput >= goal : null,
        `${(throughput * 100).toFixed(1)}% (${f0(sm2Run.reqPerSec)} vs ${f0(edRun.reqPerSec)} req/s)${valid ? '' : ' (run had errors)'}${isNoisy ? ' (noisy)' : ''}`,
        throughput,
      ),
    ],
    { issue: 11, note: `SM2/Ed25519 CPU per verification ${cpu.toFixed(2)}× (${f0(serverUs(sm2Run))} vs ${f0(serverUs(edRun))} µs)` },
  );
  return { throughputRatio: throughput, cpuRatio: cpu, sm2UsPerRequest: serverUs(sm2Run), ed25519UsPerRequest: serverUs(edRun), valid, noisy: isNoisy, checks };
}

module.exports = { ENABLED, ALG, run, report };
