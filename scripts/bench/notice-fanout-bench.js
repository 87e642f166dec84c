'use strict';
// bench:notices — what one licence status change costs when 10,000 subscriptions follow the licence
// (docs/protocol-notices.md, docs/performance.md "Notice fan-out"). Two real gateways (北京 issues,
// 广东 asks) on SQLite with mutual TLS. Subscriptions are seeded straight into the databases (as
// verifications with notify: true would leave them), then 北京 changes status through its admin API
// (the LicenceStatusService path) and the script measures:
//   A. 10,000 subscriptions of ONE peer (广东, one per local client) to one licence: the change's
//      latency and outbox rows at 北京 (one notice: fan-out is per peer), then at 广东 the time until
//      10,000 licence.status.changed webhook deliveries are queued and until a local HTTP sink has
//      received all of them (signed, one per client's webhook).
//   B. 10,000 subscriptions spread over 30 peers: the change's latency and its outbox rows (30).
//   C. the same change of a licence nobody follows (the baseline of the admin call).
// BENCH_SUBSCRIPTIONS=n changes 10,000. Prints a JSON report; nothing here is a pass/fail test.
const path = require('node:path');
const os = require('node:os');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const { createServer } = require('node:http');
const { randomUUID } = require('node:crypto');
const fed = require('../lib/federation');
const { freePort, withTimeout } = require('./measure');

const BJ = '110000';
const GD = '440000';
const N = Number(process.env.BENCH_SUBSCRIPTIONS ?? 10_000);
const ENV = {
  TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50',
  TONGBAN_DELIVERY_BACKOFF_CAP_MS: '500',
  TONGBAN_DELIVERY_POLL_MS: '100',
  TONGBAN_WEBHOOK_ALLOW_CIDRS: '127.0.0.0/8',
  TONGBAN_LOG_LEVEL: 'warn',
  TONGBAN_NOTICE_MAX_PER_PEER: String(Math.max(N, 100_000)),
};

const sqlite = (o) => {
  const Database = require('better-sqlite3');
  const db = new Database(path.join(o.dir, `tongban-${o.code}.sqlite`));
  db.pragma('busy_timeout = 30000');
  return db;
};
const count = (db, sql, ...args) => db.prepare(sql).get(...args).n;

/** Polls `probe` every 20 ms until it returns true; resolves with the ms since `since` (a performance.now()). */
async function until(what, probe, since, timeoutMs) {
  while (!probe()) {
    if (performance.now() - since > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Math.round(performance.now() - since);
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tongban-bench-notices-'));
  const ports = new Set();
  const gws = [];
  let sink;
  try {
    const tls = fed.localPki(path.join(dir, 'tls'), [BJ, GD], fed.newPkiSecrets());
    const opts = {};
    for (const code of [BJ, GD]) {
      opts[code] = { code, dir: path.join(dir, code), secrets: fed.newSecrets(), tls: tls[code], httpPort: await freePort(ports), grpcPort: await freePort(ports), env: ENV };
    }
    const imported = await fed.runCli(opts[BJ], ['licences', 'import', path.join(fed.ROOT, 'deploy', 'demo', `licences-${BJ}.json`)]);
    if (imported.code !== 0) throw new Error(`import failed: ${imported.stderr}`);
    const [bj, gd] = await Promise.all([BJ, GD].map((c) => withTimeout(fed.startGateway(opts[c]), 120_000, `start ${c}`)));
    gws.push(bj, gd);
    await fed.connectAll([bj, gd]);

    // The local system at 广东: counts what arrives.
    let received = 0;
    sink = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received++;
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise((r) => sink.listen(0, '127.0.0.1', r));
    const sinkUrl = `http://127.0.0.1:${sink.address().port}/hook`;

    const licences = JSON.parse(readFileSync(path.join(fed.ROOT, 'deploy', 'demo', `licences-${BJ}.json`), 'utf8')).filter((l) => l.status === 'VALID');
    const [LA, LB, LC] = licences;
    const peers = JSON.parse(readFileSync(path.join(fed.ROOT, 'data', 'participants.json'), 'utf8'))
      .participants.map((p) => p.code)
      .filter((c) => c !== BJ && /^\d{2}0000$/.test(c))
      .slice(0, 30);

    // Seed: 北京 holds A (N from 广东) and B (N over 30 peers); 广东 holds N local subscriptions to A, one per client, each with a webhook.
    const now = Date.now();
    const far = now + 30 * 24 * 3600_000;
    const bjDb = sqlite(opts[BJ]);
    const gdDb = sqlite(opts[GD]);
    const seedStart = performance.now();
    bjDb.transaction(() => {
      const ins = bjDb.prepare('INSERT INTO licence_subscriptions (id, peer, notify_ref, licence_id, licence_type, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (let i = 0; i < N; i++) ins.run(randomUUID(), GD, `a-${i}`, LA.licenceId, LA.typeCode, now, far);
      for (let i = 0; i < N; i++) ins.run(randomUUID(), peers[i % peers.length], `b-${i}`, LB.licenceId, LB.typeCode, now, far);
    })();
    gdDb.transaction(() => {
      const sub = gdDb.prepare(
        "INSERT INTO notice_subscriptions (id, client, issuer, licence_id, licence_type, origin, created_at, expires_at, last_version) VALUES (?, ?, ?, ?, ?, 'VERIFICATION', ?, ?, 0)",
      );
      // A webhook row as an earlier version stored it (secret in clear, sealed at the next start): the dispatcher signs with it.
      const hook = gdDb.prepare('INSERT INTO webhooks (id, url, events, secret, created_by, created_at) VALUES (?, ?, \'["licence.status.changed"]\', ?, ?, ?)');
      for (let i = 0; i < N; i++) {
        sub.run(`a-${i}`, `client-${i}`, BJ, LA.licenceId, LA.typeCode, now, far);
        hook.run(randomUUID(), sinkUrl, `bench-secret-${i}-0123456789`, `client-${i}`, now);
      }
    })();
    const seedMs = Math.round(performance.now() - seedStart);

    const change = async (l) => {
      const t0 = performance.now();
      const r = await fed.call(bj, 'POST', `/admin/licences/${l.licenceId}/suspend`, { reason: 'bench: 暂停' }, bj.adminToken);
      if (r.status !== 200) throw new Error(`suspend ${l.licenceId}: ${r.status} ${JSON.stringify(r.body)}`);
      return Math.round(performance.now() - t0);
    };
    const notices = (l) => count(bjDb, "SELECT COUNT(*) AS n FROM outbox_messages WHERE type = 'tongban.federation.v1.LicenceStatusChanged' AND stream = ?", streamOf(l.licenceId));

    // C first (warms the route), then B, then A (which 广东 receives).
    const baselineMs = await change(LC);
    const spreadMs = await change(LB);
    const spreadRows = notices(LB);
    const t0 = performance.now();
    const oneMs = await change(LA);
    const oneRows = notices(LA);
    const queuedMs = await until('广东 queues the webhook deliveries', () => count(gdDb, "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE event_type = 'licence.status.changed'") >= N, t0, 600_000);
    const deliveredMs = await until('the sink receives every webhook', () => received >= N, t0, 1_800_000);
    bjDb.close();
    gdDb.close();

    console.log(
      JSON.stringify(
        {
          bench: 'notice-fanout',
          date: new Date().toISOString(),
          machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), load1: os.loadavg()[0] },
          subscriptions: N,
          seedMs,
          baseline: { changeMs: baselineMs, note: 'suspend of a licence nobody follows' },
          spreadOver30Peers: { changeMs: spreadMs, outboxRows: spreadRows },
          onePeer: {
            changeMs: oneMs,
            outboxRows: oneRows,
            // From the start of the change at 北京:
            webhooksQueuedAtAskerMs: queuedMs,
            allWebhooksReceivedMs: deliveredMs,
            webhooksPerSecond: Math.round((N * 1000) / Math.max(1, deliveredMs - queuedMs)),
          },
        },
        null,
        2,
      ),
    );
  } finally {
    await Promise.all(gws.map((g) => g.stop()));
    if (sink) await new Promise((r) => sink.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The delivery stream of a licence's notices (libs/notices/src/notice-stream.ts). */
function streamOf(licenceId) {
  return `lic-${require('node:crypto').createHash('sha256').update(licenceId, 'utf8').digest('base64url').slice(0, 32)}`;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
