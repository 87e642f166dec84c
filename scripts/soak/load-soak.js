#!/usr/bin/env node
'use strict';
// Load soak (`npm run soak:load`): three gateways; measures verification capacity, then offers 70 % of
// it (open loop, paced) for SOAK_DURATION_S (default 600; SOAK_QUICK=1 → 60) together with a steady
// trickle of cases worked by robots, while a random gateway is restarted (kill -9 or SIGTERM) every
// SOAK_RESTART_EVERY_S (default 60). Reports per minute: offered/answered, errors by kind, p50/p99
// (latency drift) and RSS per gateway (memory growth); at the end reconciles every case.
// Bounded in time and count; talks to 127.0.0.1 only.
const { mkdtempSync, rmSync, readFileSync, mkdirSync, writeFileSync } = require('node:fs');
const { tmpdir, cpus } = require('node:os');
const path = require('node:path');
const fed = require('../lib/federation');
const bot = require('../lib/case-bot');

const QUICK = process.env.SOAK_QUICK === '1';
const DURATION_S = Number(process.env.SOAK_DURATION_S || (QUICK ? 60 : 600));
const RESTART_EVERY_S = Number(process.env.SOAK_RESTART_EVERY_S || (QUICK ? 20 : 60));
const CODES = ['110000', '130000', '440000'];
const ENV = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '100', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '2000', TONGBAN_LOG_LEVEL: 'warn' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const rssMiB = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return NaN;
  }
};

function licenceBodies() {
  const out = [];
  for (const code of CODES) {
    for (const l of JSON.parse(readFileSync(path.join(fed.ROOT, 'deploy', 'demo', `licences-${code}.json`), 'utf8'))) {
      const holder = l.holderCodeType === '111' ? { name: l.holderName, idNumber: l.holderCode } : { name: l.holderName, creditCode: l.holderCode };
      out.push({ issuer: code, body: { licenceType: l.typeCode, licenceId: l.licenceId, holder, purpose: '负载浸泡测试' } });
    }
  }
  return out;
}

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'tongban-load-soak-'));
  const gws = {};
  const bots = [];
  let exitCode = 1;
  try {
    const tls = fed.localPki(path.join(dir, 'tls'), CODES, fed.newPkiSecrets());
    const options = CODES.map((code, i) => ({ code, dir: path.join(dir, code), secrets: fed.newSecrets(), tls: tls[code], httpPort: 38000 + i, grpcPort: 39000 + i, env: ENV }));
    for (const o of options) {
      const r = await fed.runCli(o, ['licences', 'import', path.join(fed.ROOT, 'deploy', 'demo', `licences-${o.code}.json`)]);
      if (r.code !== 0) throw new Error(r.stderr);
      gws[o.code] = await fed.startGateway(o);
    }
    await fed.connectAll(Object.values(gws));
    const bodies = licenceBodies();
    const ask = async () => {
      const b = pick(bodies);
      const asker = pick(CODES.filter((c) => c !== b.issuer));
      const t0 = performance.now();
      try {
        const r = await fed.call(gws[asker], 'POST', '/v1/verifications', b.body);
        return { ms: performance.now() - t0, kind: r.status === 200 ? 'ok' : `${r.status} ${r.body?.error?.code ?? ''}`.trim() };
      } catch (e) {
        return { ms: performance.now() - t0, kind: `connection (${e.cause?.code ?? 'error'})` };
      }
    };

    // 1. Capacity: closed loop at 32 in flight for 10 s.
    let done = 0;
    const capEnd = Date.now() + 10_000;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (Date.now() < capEnd) if ((await ask()).kind === 'ok') done++;
      }),
    );
    const capacity = done / 10;
    const rate = Math.max(1, Math.round(capacity * 0.7));
    console.log(`capacity ≈ ${capacity.toFixed(0)} verifications/s (3 gateways on ${cpus().length} cores); offering ${rate}/s (70 %) for ${DURATION_S} s, a restart every ${RESTART_EVERY_S} s`);

    // 2. Soak: paced open-loop verifications, a trickle of cases, periodic restarts.
    const items = await bot.catalogueItems(gws['110000']);
    for (const code of CODES) bots.push(bot.startBot(() => gws[code], items, { refuseRate: 0.05, intervalMs: 200 }));
    const minutes = [];
    let bucket = { requests: 0, lat: [], kinds: {} };
    const inflight = new Set();
    const cases = new Map();
    const started = Date.now();
    const end = started + DURATION_S * 1000;
    let restarts = 0;
    const restarter = (async () => {
      while (Date.now() + RESTART_EVERY_S * 1000 < end) {
        await sleep(RESTART_EVERY_S * 1000);
        const code = pick(CODES);
        const hard = Math.random() < 0.5;
        await (hard ? gws[code].kill() : gws[code].stop());
        gws[code] = await fed.startGateway(gws[code].options);
        restarts++;
        console.log(`  t=${((Date.now() - started) / 1000).toFixed(0)}s restart ${restarts}: ${hard ? 'kill -9' : 'SIGTERM'} ${code}`);
      }
    })();
    const opener = (async () => {
      const list = [...items.values()];
      while (Date.now() < end) {
        const item = pick(list);
        const accepting = pick(CODES);
        try {
          const r = await fed.call(gws[accepting], 'POST', '/v1/cases', bot.caseBody(item, accepting, [pick(CODES.filter((c) => c !== accepting))]));
          if (r.status === 201) cases.set(r.body.collaborationId, { owner: accepting, participants: [...new Set(Object.values(r.body.participants))] });
        } catch {
          // the accepting gateway is restarting
        }
        await sleep(500);
      }
    })();
    let nextMinute = started + 60_000;
    const interval = 1000 / rate;
    for (let due = Date.now(); Date.now() < end; due += interval) {
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      if (inflight.size > 2000) continue; // bounded: never pile up more than 2,000 requests
      const p = ask().then((r) => {
        bucket.requests++;
        bucket.kinds[r.kind] = (bucket.kinds[r.kind] || 0) + 1;
        if (r.kind === 'ok') bucket.lat.push(r.ms);
        inflight.delete(p);
      });
      inflight.add(p);
      if (Date.now() >= nextMinute) {
        const rss = Object.fromEntries(CODES.map((c) => [c, +rssMiB(gws[c].proc.pid).toFixed(1)]));
        minutes.push({ minute: minutes.length + 1, ...bucket, lat: undefined, p50: pct(bucket.lat, 50), p99: pct(bucket.lat, 99), rss });
        const m = minutes[minutes.length - 1];
        console.log(`  minute ${m.minute}: ${m.requests} answered, ${JSON.stringify(m.kinds)}, p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms, RSS ${JSON.stringify(rss)} MiB`);
        bucket = { requests: 0, lat: [], kinds: {} };
        nextMinute += 60_000;
      }
    }
    await Promise.all([...inflight]);
    await Promise.all([restarter, opener]);
    if (bucket.requests)
      minutes.push({
        minute: minutes.length + 1,
        ...bucket,
        lat: undefined,
        p50: pct(bucket.lat, 50),
        p99: pct(bucket.lat, 99),
        rss: Object.fromEntries(CODES.map((c) => [c, +rssMiB(gws[c].proc.pid).toFixed(1)])),
      });

    // 3. Let cases finish, then reconcile.
    const settleBy = Date.now() + 120_000;
    let unfinished = [...cases.keys()];
    while (unfinished.length && Date.now() < settleBy) {
      const still = [];
      for (const id of unfinished) {
        const views = await Promise.all(cases.get(id).participants.map((p) => fed.call(gws[p], 'GET', `/v1/cases/${id}`).catch(() => ({ status: 0 }))));
        if (!views.every((v) => v.status === 200 && ['COMPLETED', 'REFUSED', 'CANCELLED'].includes(v.body.state))) still.push(id);
      }
      unfinished = still;
      if (unfinished.length) await sleep(1000);
    }
    await Promise.all(bots.splice(0).map((b) => b.stop()));
    let mismatched = 0;
    for (const [id, { owner, participants }] of cases) {
      const states = await Promise.all(participants.map(async (p) => (await fed.call(gws[p], 'GET', `/v1/cases/${id}`)).body.state));
      const ownerState = states[participants.indexOf(owner)];
      if (states.some((s) => s !== ownerState) || !['COMPLETED', 'REFUSED', 'CANCELLED'].includes(ownerState)) mismatched++;
    }
    const all = minutes.reduce((a, m) => a + m.requests, 0);
    const errors = {};
    for (const m of minutes) for (const [k, v] of Object.entries(m.kinds)) if (k !== 'ok') errors[k] = (errors[k] || 0) + v;
    // Drift compares whole minutes only (a last partial bucket holds a handful of requests).
    const full = minutes.filter((m) => m.requests >= 100);
    const first = full[0] ?? minutes[0];
    const last = full[full.length - 1] ?? minutes[minutes.length - 1];
    const summary = {
      machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, date: new Date(started).toISOString() },
      capacity,
      offeredPerSec: rate,
      durationS: DURATION_S,
      restarts,
      answered: all,
      errors,
      latencyDrift: { firstMinute: { p50: first?.p50, p99: first?.p99 }, lastMinute: { p50: last?.p50, p99: last?.p99 } },
      rssFirstMinute: first?.rss,
      rssLastMinute: last?.rss,
      cases: cases.size,
      casesNotReconciled: mismatched + unfinished.length,
      minutes,
    };
    console.log(`\nload soak: ${all} verifications answered over ${DURATION_S} s at ${rate}/s offered, ${restarts} restarts`);
    console.log(
      `  errors: ${JSON.stringify(errors)} (${(((all - minutes.reduce((a, m) => a + (m.kinds.ok || 0), 0)) / Math.max(all, 1)) * 100).toFixed(2)} % of requests; expected only around restarts)`,
    );
    console.log(`  latency drift: first minute p50 ${first?.p50?.toFixed(1)} / p99 ${first?.p99?.toFixed(1)} ms → last minute p50 ${last?.p50?.toFixed(1)} / p99 ${last?.p99?.toFixed(1)} ms`);
    console.log(`  memory: first minute ${JSON.stringify(first?.rss)} → last minute ${JSON.stringify(last?.rss)} MiB (restarted gateways start over)`);
    console.log(`  cases: ${cases.size} opened; ${summary.casesNotReconciled === 0 ? 'every case in one final state on every participant' : `${summary.casesNotReconciled} NOT reconciled`}`);
    mkdirSync(path.join(fed.ROOT, '.bench'), { recursive: true });
    writeFileSync(path.join(fed.ROOT, '.bench', `load-soak-${summary.machine.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(summary, null, 2));
    exitCode = summary.casesNotReconciled === 0 ? 0 : 1;
  } finally {
    await Promise.all(bots.map((b) => b.stop()));
    await Promise.all(Object.values(gws).map((g) => g.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(exitCode);
}

main().catch((e) => {
  console.error(`load soak failed: ${e.stack || e}`);
  process.exit(1);
});
