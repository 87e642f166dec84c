#!/usr/bin/env node
'use strict';
// Randomised soak of cross-province cases: three gateways, robots working every task, random
// kill -9 / SIGTERM and restarts, then a reconciliation that every case ended in exactly one final
// state on every participant, with no step applied twice and no message lost or parked.
// Bounded: SOAK_CASES cases (default 300), SOAK_KILLS restarts (default 8), SOAK_MAX_S seconds in
// all (default 600). SOAK_QUICK=1: 30 cases, 2 restarts, 180 s (the CI run).
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');
const fed = require('../lib/federation');
const bot = require('../lib/case-bot');
const { replicaProblems } = require('../lib/reconcile');

const QUICK = process.env.SOAK_QUICK === '1';
const CASES = Number(process.env.SOAK_CASES || (QUICK ? 30 : 300));
const KILLS = Number(process.env.SOAK_KILLS || (QUICK ? 2 : 8));
const MAX_S = Number(process.env.SOAK_MAX_S || (QUICK ? 180 : 600));
const CODES = ['110000', '130000', '440000'];
const FINAL = ['COMPLETED', 'REFUSED', 'CANCELLED'];
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '500', TONGBAN_DELIVERY_POLL_MS: '100', TONGBAN_LOG_LEVEL: 'warn' };
const started = Date.now();
const deadline = started + MAX_S * 1000;
const pick = (a) => a[Math.floor(Math.random() * a.length)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const dir = mkdtempSync(path.join(tmpdir(), 'tongban-soak-'));
  const gws = {};
  const bots = [];
  let ok = false;
  try {
    const tls = fed.localPki(path.join(dir, 'tls'), CODES, fed.newPkiSecrets());
    for (const code of CODES)
      gws[code] = await fed.startGateway({
        code,
        dir: path.join(dir, code),
        secrets: fed.newSecrets(),
        tls: tls[code],
        httpPort: 18000 + Number(code.slice(0, 2)),
        grpcPort: 19000 + Number(code.slice(0, 2)),
        env: FAST,
      });
    await fed.connectAll(Object.values(gws));
    const items = await bot.catalogueItems(gws['110000']);
    const itemList = [...items.values()];
    for (const code of CODES) bots.push(bot.startBot(() => gws[code], items, { refuseRate: 0.05, intervalMs: 100 }));

    let kills = 0;
    const chaos = (async () => {
      const every = QUICK ? 5000 : Math.max(2000, (Math.min(MAX_S, 120) * 1000) / (KILLS + 1));
      while (kills < KILLS && Date.now() < deadline - 60_000) {
        await sleep(every);
        const code = pick(CODES);
        const hard = Math.random() < 0.7;
        await (hard ? gws[code].kill() : gws[code].stop());
        await sleep(300 + Math.random() * 1500);
        gws[code] = await fed.startGateway(gws[code].options);
        kills++;
        console.log(`chaos: ${hard ? 'kill -9' : 'SIGTERM'} ${code}, restarted (${kills}/${KILLS})`);
      }
    })();

    const cases = new Map();
    let cancels = 0;
    while (cases.size < CASES && Date.now() < deadline - 60_000) {
      const item = pick(itemList);
      const accepting = pick(CODES);
      const others = CODES.filter((c) => c !== accepting);
      try {
        const r = await fed.call(gws[accepting], 'POST', '/v1/cases', bot.caseBody(item, accepting, [pick(others)]));
        if (r.status !== 201) throw new Error(`open: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        cases.set(r.body.collaborationId, { owner: accepting, participants: [...new Set(Object.values(r.body.participants))] });
        if (Math.random() < 0.04) {
          const c = await fed.call(gws[accepting], 'POST', `/v1/cases/${r.body.collaborationId}/cancel`, { reason: 'soak cancellation' });
          if (c.status === 200) cancels++;
        }
      } catch (e) {
        if (!/fetch failed|ECONNREFUSED|socket/i.test(String(e.message || e.cause))) console.log(`open failed: ${e.message}`);
        await sleep(100);
      }
    }
    await chaos;
    console.log(`opened ${cases.size} cases (${cancels} cancelled early), ${kills} restarts; waiting for every case to finish…`);

    let unfinished = [...cases.keys()];
    while (unfinished.length && Date.now() < deadline) {
      const still = [];
      for (const id of unfinished) {
        const { participants } = cases.get(id);
        const views = await Promise.all(participants.map((p) => fed.call(gws[p], 'GET', `/v1/cases/${id}`).catch(() => ({ status: 0 }))));
        if (!views.every((v) => v.status === 200 && FINAL.includes(v.body.state))) still.push(id);
      }
      unfinished = still;
      if (unfinished.length) await sleep(500);
    }
    const done = await Promise.all(bots.map((b) => b.stop()));
    bots.length = 0;

    const problems = [];
    const counts = { COMPLETED: 0, REFUSED: 0, CANCELLED: 0 };
    for (const [id, { owner, participants }] of cases) {
      const views = {};
      for (const p of participants) views[p] = (await fed.call(gws[p], 'GET', `/v1/cases/${id}`)).body;
      const o = views[owner];
      if (!FINAL.includes(o.state)) {
        problems.push(`${id}: ${o.state} at owner ${owner}`);
        continue;
      }
      counts[o.state]++;
      problems.push(...replicaProblems(id, owner, views));
    }
    for (const code of CODES) {
      const dead = (await fed.call(gws[code], 'GET', '/admin/outbox?status=DEAD', undefined, gws[code].adminToken)).body.messages;
      const pending = (await fed.call(gws[code], 'GET', '/admin/outbox?status=PENDING', undefined, gws[code].adminToken)).body.messages;
      if (dead.length) problems.push(`${code}: ${dead.length} dead-lettered messages`);
      if (pending.length) problems.push(`${code}: ${pending.length} messages still pending`);
    }
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`soak: ${cases.size} cases in ${secs}s with ${kills} restarts; final states ${JSON.stringify(counts)}; robots acted ${done.reduce((a, b) => a + b, 0)} times`);
    if (problems.length) {
      console.log(`RECONCILIATION FAILED (${problems.length} problems):\n  ${problems.slice(0, 50).join('\n  ')}`);
    } else {
      console.log(`reconciliation: every case in exactly one final state on every participant; no step applied twice; no message pending or dead`);
      ok = true;
    }
  } finally {
    await Promise.all(bots.map((b) => b.stop()));
    await Promise.all(Object.values(gws).map((g) => g.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(ok ? 0 : 1);
}

main().catch((e) => {
  console.error(`soak failed: ${e.stack || e}`);
  process.exit(1);
});
