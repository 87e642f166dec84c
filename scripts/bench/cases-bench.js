#!/usr/bin/env node
'use strict';
// Cases benchmark (`npm run bench:cases`): two gateways, two-step 多地联办 cases opened at 北京
// (step 0 done by the opening driver), step 1 done by an automatic department robot at 河北; the
// case completes at 北京 when 河北's outcome arrives. Prints completed cases/s and p50/p99 of
// open→completed (the owner's own openedAt/closedAt), on SQLite, then on PostgreSQL.
// Env: BENCH_DURATION_S (default 20), BENCH_CONCURRENCY (default 16), BENCH_QUICK=1 (5 s),
//      BENCH_SKIP_PG=1. Bounded in time; talks to 127.0.0.1 only.
const { mkdtempSync, rmSync, mkdirSync, writeFileSync } = require('node:fs');
const { tmpdir, cpus, totalmem } = require('node:os');
const path = require('node:path');
const fed = require('../lib/federation');
const bot = require('../lib/case-bot');

const QUICK = process.env.BENCH_QUICK === '1';
const DURATION_S = Number(process.env.BENCH_DURATION_S || (QUICK ? 5 : 20));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY || 16);
const PG_URL = process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const ENV = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '500', TONGBAN_DELIVERY_POLL_MS: '200', TONGBAN_LOG_LEVEL: 'warn' };
const BENCH_CATALOGUE = {
  version: 'bench-2step',
  items: [
    {
      code: 'BENCH_JOINT_2',
      name: '基准测试联办事项',
      department: '基准测试',
      modes: ['JOINT'],
      roles: ['ACCEPTING', 'PROCESSING'],
      acceptingRole: 'ACCEPTING',
      steps: [
        { role: 'ACCEPTING', action: 'ACCEPT', name: '受理', timeLimitWorkingDays: 1, inputs: [], outputs: [], mayRefuse: false, needsApplicantId: false, needsMaterials: false },
        {
          role: 'PROCESSING',
          action: 'PROCESS',
          name: '办理',
          timeLimitWorkingDays: 5,
          inputs: [],
          outputs: [{ name: 'doc_no', kind: 'DOCUMENT_NUMBER', required: true }],
          mayRefuse: false,
          needsApplicantId: false,
          needsMaterials: false,
        },
      ],
      materials: [],
    },
  ],
};

const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

async function run(label, database) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tongban-bench-cases-'));
  const gws = [];
  const schemas = [];
  let robot;
  try {
    const tls = fed.localPki(path.join(dir, 'tls'), ['110000', '130000'], fed.newPkiSecrets());
    for (const code of ['110000', '130000']) {
      const schema = `bench_${code}_${Date.now().toString(36)}`;
      schemas.push(schema);
      const env = database === 'postgres' ? { ...ENV, TONGBAN_DATABASE_SCHEMA: schema } : ENV;
      gws.push(
        await fed.startGateway({
          code,
          dir: path.join(dir, code),
          secrets: fed.newSecrets(),
          tls: tls[code],
          httpPort: 28000 + gws.length,
          grpcPort: 29000 + gws.length,
          env,
          databaseUrl: database === 'postgres' ? PG_URL : undefined,
        }),
      );
    }
    const [bj, hb] = gws;
    await fed.connectAll(gws);
    const loaded = await fed.call(bj, 'PUT', '/admin/catalogue', BENCH_CATALOGUE, bj.adminToken);
    if (loaded.status !== 200) throw new Error(`loading the bench catalogue failed: ${JSON.stringify(loaded.body)}`);
    const items = new Map(BENCH_CATALOGUE.items.map((i) => [i.code, i]));
    robot = bot.startBot(() => hb, items, { intervalMs: 10 });
    const body = {
      itemCode: 'BENCH_JOINT_2',
      applicant: { name: '基准', idNumber: '11010519491231002X' },
      participants: { ACCEPTING: '110000', PROCESSING: '130000' },
      materials: [],
      receivedAt: { office: 'bench', clerk: 'bench', channel: 'ONLINE' },
    };
    const opened = [];
    let failures = 0;
    const endAt = Date.now() + DURATION_S * 1000;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < endAt) {
          const r = await fed.call(bj, 'POST', '/v1/cases', body);
          if (r.status !== 201) {
            failures++;
            continue;
          }
          const done = await fed.call(bj, 'POST', `/v1/tasks/${r.body.collaborationId}~0/complete`, { outputs: {} });
          if (done.status !== 200) failures++;
          opened.push(r.body.collaborationId);
        }
      }),
    );
    // Let the last cases finish (bounded).
    const settleBy = Date.now() + 60_000;
    let completed = [];
    const allCompleted = async () => {
      const out = [];
      for (let offset = 0; ; offset += 1000) {
        const page = (await fed.call(bj, 'GET', `/v1/cases?state=COMPLETED&limit=1000&offset=${offset}`)).body.cases;
        out.push(...page);
        if (page.length < 1000) return out;
      }
    };
    while (Date.now() < settleBy) {
      completed = await allCompleted();
      if (completed.length >= opened.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const lat = completed.map((c) => Date.parse(c.closedAt) - Date.parse(c.openedAt)).sort((a, b) => a - b);
    const lastClose = completed.reduce((m, c) => Math.max(m, Date.parse(c.closedAt)), 0);
    const result = {
      database: label,
      concurrency: CONCURRENCY,
      durationS: DURATION_S,
      opened: opened.length,
      completed: completed.length,
      failures,
      casesPerSec: completed.length / ((lastClose - t0) / 1000),
      p50Ms: pct(lat, 50),
      p99Ms: pct(lat, 99),
      maxMs: lat[lat.length - 1],
    };
    console.log(
      `${label.padEnd(10)} opened ${result.opened}, completed ${result.completed}, failures ${failures}: ${result.casesPerSec.toFixed(1)} cases/s; open→completed p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, max ${result.maxMs} ms`,
    );
    return result;
  } finally {
    if (robot) await robot.stop();
    await Promise.all(gws.map((g) => g.stop()));
    rmSync(dir, { recursive: true, force: true });
    if (database === 'postgres') {
      const { Client } = require('pg');
      const client = new Client({ connectionString: PG_URL });
      await client.connect();
      for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await client.end();
    }
  }
}

async function main() {
  const machine = { cpu: cpus()[0]?.model, cores: cpus().length, memGiB: +(totalmem() / 2 ** 30).toFixed(1), node: process.version, date: new Date().toISOString() };
  console.log(`bench:cases — ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, node ${machine.node}, ${machine.date}`);
  console.log(`two-step 联办 cases 北京→河北, ${CONCURRENCY} concurrent openers for ${DURATION_S}s; robot at 河北 polls tasks every 10 ms`);
  const results = [await run('SQLite', 'sqlite')];
  if (process.env.BENCH_SKIP_PG !== '1') results.push(await run('PostgreSQL', 'postgres'));
  const sqlite = results[0];
  console.log(`target ≥ 50 cases/s on SQLite: ${sqlite.casesPerSec >= 50 ? 'PASS' : 'FAIL'} (${sqlite.casesPerSec.toFixed(1)})`);
  mkdirSync('.bench', { recursive: true });
  writeFileSync(path.join('.bench', `cases-${machine.date.replace(/[:.]/g, '-')}.json`), JSON.stringify({ machine, results }, null, 2));
}

main().catch((e) => {
  console.error(`bench:cases failed: ${e.stack || e}`);
  process.exit(1);
});
