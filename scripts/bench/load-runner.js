'use strict';
// Load generator child of verify-bench.js: runs autocannon (warm-up, then the measurement) in its
// own process so the load generator never shares an event loop with the benchmark driver.
// Protocol (IPC): receives one {type:'run', ...} message, answers {type:'result', ...}, exits.
const autocannon = require('autocannon');
const fs = require('node:fs');

/** Exact percentile (nearest rank) of a sorted Float64Array. */
function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Cheap body check (runs on every response, so no JSON.parse): is this a successful answer? */
function bodyCheck(kind) {
  if (kind === 'batch') return (b) => typeof b === 'string' && b.startsWith('{"results":[') && !b.includes('"error":{');
  return (b) => typeof b === 'string' && b.charCodeAt(0) === 123 && b.includes('"status":"') && !b.includes('"error"');
}

/**
 * One autocannon run, for `durationS` seconds or, with `amount`, for that many requests; latencies
 * are collected exactly (float ms) besides autocannon's 1-ms histogram.
 */
function runOnce(cfg, bodies, durationS, amount) {
  return new Promise((resolve, reject) => {
    const n = bodies.length;
    const lat = { values: new Float64Array(1 << 16), count: 0 };
    let ok2xx = 0;
    let other = 0;
    const started = process.hrtime.bigint();
    const instance = autocannon(
      {
        url: cfg.url,
        connections: cfg.connections,
        ...(amount ? { amount } : { duration: durationS }),
        timeout: cfg.timeoutS,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${cfg.token}` },
        verifyBody: bodyCheck(cfg.kind),
        requests: [
          {
            method: 'POST',
            path: cfg.path,
            setupRequest: (req) => {
              req.body = bodies[(Math.random() * n) | 0];
              return req;
            },
          },
        ],
      },
      (err, result) => {
        if (err) return reject(err);
        const elapsedS = Number(process.hrtime.bigint() - started) / 1e9;
        const sorted = lat.values.slice(0, lat.count).sort();
        resolve({
          connections: cfg.connections,
          durationS,
          elapsedS,
          ok2xx,
          reqPerSec: ok2xx / result.duration,
          p50: percentile(sorted, 50),
          p90: percentile(sorted, 90),
          p99: percentile(sorted, 99),
          max: sorted.length ? sorted[sorted.length - 1] : null,
          non2xx: result.non2xx,
          otherResponses: other,
          errors: result.errors,
          timeouts: result.timeouts,
          mismatches: result.mismatches,
          statusCodeStats: result.statusCodeStats,
          autocannon: {
            duration: result.duration,
            requestsTotal: result.requests.total,
            requestsAverage: result.requests.average,
            latency: { p50: result.latency.p50, p99: result.latency.p99, average: result.latency.average, max: result.latency.max },
          },
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        ok2xx++;
        if (lat.count === lat.values.length) {
          // Bounded growth: at most 2^24 samples (far beyond any run here); later ones are dropped.
          if (lat.values.length >= 1 << 24) return;
          const bigger = new Float64Array(lat.values.length * 2);
          bigger.set(lat.values);
          lat.values = bigger;
        }
        lat.values[lat.count++] = responseTime;
      } else other++;
    });
  });
}

process.once('message', async (cfg) => {
  try {
    const bodies = JSON.parse(fs.readFileSync(cfg.bodiesFile, 'utf8'));
    if (!Array.isArray(bodies) || bodies.length === 0) throw new Error('no request bodies');
    let warmup = null;
    if (cfg.requests) {
      if (cfg.warmupRequests > 0) warmup = await runOnce(cfg, bodies, undefined, cfg.warmupRequests);
    } else if (cfg.warmupS > 0) warmup = await runOnce(cfg, bodies, cfg.warmupS);
    // Tell the parent the timed window starts (it samples the servers' CPU time around it).
    await new Promise((resolve) => process.send({ type: 'measure-start' }, resolve));
    const result = cfg.requests ? await runOnce(cfg, bodies, undefined, cfg.requests) : await runOnce(cfg, bodies, cfg.durationS);
    process.send({ type: 'result', result, warmup: warmup && { ok2xx: warmup.ok2xx, non2xx: warmup.non2xx, errors: warmup.errors, mismatches: warmup.mismatches } }, () => process.exit(0));
  } catch (e) {
    process.send({ type: 'error', message: String(e?.stack ?? e) }, () => process.exit(1));
  }
});
