'use strict';
// SIGTERM drain of a gateway container (`npm run image:test`): under verification load, SIGTERM
// reaches the container; the gateway turns not ready (health port 503), keeps serving through its
// grace period, closes its servers once the requests in flight are answered, and exits 0 well
// within the container's stop timeout. Every request sent must be answered 200.
const pm = require('./podman');
const { call } = require('../lib/federation');
const { expect, demoRequest } = require('./walkthroughs');

/**
 * @param {{name: string, code: string, ports: {health: number}}} p the container to stop
 * @param {object} gw its gateway handle; `issuer` the gateway whose licence it verifies under load
 * @param {{graceMs: number, stopTimeoutS: number, concurrency?: number}} o
 */
async function drainCheck(p, gw, issuer, o) {
  const body = demoRequest(issuer.code);
  const results = [];
  const pending = new Set();
  let sending = true;
  const loop = async () => {
    while (sending) {
      const req = call(gw, 'POST', '/v1/verifications', body).then(
        (r) => r.status,
        (e) => `${e.cause?.code || e.message}`,
      );
      pending.add(req);
      results.push(await req);
      pending.delete(req);
    }
  };
  const loops = Array.from({ length: o.concurrency || 8 }, loop);
  while (results.length < 40) await new Promise((r) => setTimeout(r, 50));
  expect(
    results.every((s) => s === 200),
    `${p.code}: under load (${o.concurrency || 8} concurrent verifications of ${issuer.code} licences)`,
    results.filter((s) => s !== 200),
  );

  const t0 = Date.now();
  await pm.podman(['kill', '--signal', 'SIGTERM', p.name]);
  // The signal has been delivered: these requests were in flight when it arrived.
  const inFlight = pending.size;
  // The health port is answered by a thread of its own, told asynchronously: poll it, within the grace period.
  let ready;
  const readyDeadline = Date.now() + o.graceMs;
  do {
    ready = await fetch(`http://127.0.0.1:${p.ports.health}/health/ready`).then(
      (r) => r.status,
      (e) => e.message,
    );
  } while (ready !== 503 && Date.now() < readyDeadline && (await new Promise((r) => setTimeout(r, 50, true))));
  const notReadyMs = Date.now() - t0;
  // Within the grace period the gateway still serves (a load balancer is still taking it out);
  // the load goes on until half of it has passed (counted from before the signal was sent), then
  // stops, as a balancer's would.
  await new Promise((r) => setTimeout(r, Math.max(0, t0 + o.graceMs / 2 - Date.now())));
  sending = false;
  await Promise.all(loops);
  const exited = await pm.podman(['wait', p.name]);
  const stopMs = Date.now() - t0;
  const exitCode = Number(exited.stdout);
  const failed = results.filter((s) => s !== 200);
  expect(ready === 503, `${p.code}: not ready (health port 503) ${notReadyMs} ms after SIGTERM was sent, within the grace period`, ready);
  expect(inFlight > 0 && failed.length === 0, `${p.code}: ${inFlight} requests in flight at SIGTERM and all ${results.length} sent answered 200`, failed);
  expect(exitCode === 0, `${p.code}: exit code 0 after SIGTERM`, exitCode);
  expect(stopMs < o.stopTimeoutS * 1000, `${p.code}: stopped ${(stopMs / 1000).toFixed(1)} s after SIGTERM (grace ${o.graceMs} ms, stop timeout ${o.stopTimeoutS} s)`);
  const logs = await pm.podman(['logs', p.name], { allowFail: true });
  expect(/SIGTERM: not ready; closing in/.test(logs.stdout + logs.stderr), `${p.code}: logged "SIGTERM: not ready; closing in ${o.graceMs} ms"`);
  return { inFlight, exitCode, stopMs, requests: results.length };
}

module.exports = { drainCheck };
