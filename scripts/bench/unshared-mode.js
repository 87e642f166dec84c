'use strict';
// Single calls of verify-bench.js: what batches are compared with, and what a request costs when it
// shares nothing. A third gateway (UNSHARED, asking the same issuer) runs with
// TONGBAN_VERIFY_COALESCE=false, so each of its single requests is one signed VerifyLicences call of
// one query (protocol.md §7.7); it is measured at c=64 after the batch runs, with the issuer's history
// as the batches left it, and stopped before anything else is measured. The benchmark's
// "batch ≥ 3× single calls" target (issue 2: a batch must pay per call, not per licence) compares the
// best batch with this run: since the asker shares calls between single requests, comparing batches
// with its single requests measured coalescing, not batching. Its ratios to the bare chain (which
// shares nothing either) are printed beside the targets' coalesced ones.
const path = require('node:path');
const measure = require('./measure');

const UNSHARED = '310000';

/** Signed VerifyLicences calls and verifications answered so far by `gw`, from its /metrics. */
async function callCounters(gw) {
  const [calls, verifications] = await Promise.all([measure.metric(gw, 'tongban_peer_calls_total', { method: 'VerifyLicences' }), measure.metric(gw, 'tongban_verifications_total')]);
  return { calls, verifications };
}

/** Signed calls per verification answered by `gw` while `fn` ran (1 = nothing shared). */
async function callsPerVerification(gw, fn) {
  const before = await callCounters(gw);
  const result = await fn();
  const after = await callCounters(gw);
  const verifications = after.verifications - before.verifications;
  return { result, callsPerVerification: verifications > 0 ? (after.calls - before.calls) / verifications : NaN };
}

/**
 * Starts the unshared asker, connects it with the issuer, checks the samples, runs c=64 once and stops
 * it. `h` carries the benchmark's own helpers and state. Throws when the run shared calls after all.
 */
async function run(h) {
  const { fed, issuer, tmpDir, tls, ports, PLAINTEXT, log } = h;
  const options = {
    code: UNSHARED,
    dir: path.join(tmpDir, `gw-${UNSHARED}`),
    secrets: fed.newSecrets(),
    ...(PLAINTEXT ? { insecure: true } : { tls: tls[UNSHARED] }),
    httpPort: await h.freePort(ports),
    grpcPort: await h.freePort(ports),
    env: { TONGBAN_VERIFY_COALESCE: 'false' },
  };
  log(`[single calls] a third gateway ${UNSHARED} asking ${issuer.code} with TONGBAN_VERIFY_COALESCE=false: one signed call per request`);
  const asker = await h.startGatewayBounded(options);
  try {
    await h.withTimeout(fed.connectAll([issuer, asker]), 60_000, 'single-call asker connectAll');
    await h.checkSingles(asker, h.samples, `Tongban ${UNSHARED}→${issuer.code} (unshared)`);
    const pids = { asker: asker.proc.pid, issuer: issuer.proc.pid };
    const { result: r, callsPerVerification: shared } = await callsPerVerification(asker, () =>
      h.runLoad({ url: asker.baseUrl, path: '/v1/verifications', token: asker.apiToken, bodiesFile: h.singleBodiesFile, connections: 64, kind: 'single' }, pids),
    );
    r.callsPerVerification = shared;
    log(`${h.runLine('Tongban unshared c=64', r)}  calls per verification ${shared.toFixed(3)}`);
    log(h.cpuLine(r));
    if (!(Math.abs(shared - 1) < 0.001)) throw new Error(`the unshared asker sent ${shared} calls per verification, not 1: is TONGBAN_VERIFY_COALESCE passed to it?`);
    return r;
  } finally {
    await asker.stop();
  }
}

module.exports = { UNSHARED, run, callsPerVerification };
