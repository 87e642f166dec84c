'use strict';
// bench:status — signed status lists (docs/protocol-status.md, docs/performance.md "Status lists").
// Two real gateways (北京 issues, 广东 asks) on SQLite with mutual TLS, running the gateway's own code:
//   A. Generation: BENCH_LICENCES (default 1,000,000) attested licences are seeded into 北京's
//      status_list_entries (lists of 131,072 entries, half filled: 16 lists for 1M), 1 % of them
//      SUSPENDED/REVOKED in licence_status; every list is marked dirty, then one status change through
//      the admin API makes 北京 regenerate and re-sign them all: time until none is dirty, per list,
//      and the signed sizes (encodedList, changes, whole JWS).
//   B. One change: the time from the admin call until that licence's list carries a new version.
//   C. Status check cost at 广东: POST /v1/attestations/verify of an attestation with a statusRef
//      (list cached, fresh) vs one without (NOT_FOUND answer), BENCH_CHECKS sequential calls each;
//      and the first check of a list not cached yet (includes GetStatusList).
// Prints a JSON report; nothing here is a pass/fail test.
const path = require('node:path');
const os = require('node:os');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs');
const fed = require('../lib/federation');
const { freePort, withTimeout } = require('./measure');

const BJ = '110000';
const GD = '440000';
const N = Number(process.env.BENCH_LICENCES ?? 1_000_000);
const CHECKS = Number(process.env.BENCH_CHECKS ?? 1000);
const LIST_SIZE = 131_072;
const ENV = { TONGBAN_LOG_LEVEL: 'warn', TONGBAN_STATUS_LIST_TTL_S: '600' };

const sqlite = (o) => {
  const Database = require('better-sqlite3');
  const db = new Database(path.join(o.dir, `tongban-${o.code}.sqlite`));
  db.pragma('busy_timeout = 30000');
  return db;
};

async function until(what, probe, timeoutMs) {
  const t0 = performance.now();
  while (!probe()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { n: s.length, meanMs: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(3), p50Ms: +q(0.5).toFixed(3), p95Ms: +q(0.95).toFixed(3) };
};

async function timed(n, fn) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return stats(ms);
}

/** Seeds N entries over half-filled lists of the licence's type; 1 % non-VALID. Returns the list ids. */
function seed(db, typeCode, demoId) {
  const perList = LIST_SIZE / 2;
  const lists = Math.ceil(N / perList);
  const now = Date.now();
  const insList = db.prepare('INSERT INTO status_lists (list_id, type_code, seq, size, assigned, version, dirty) VALUES (?, ?, ?, ?, ?, 0, 1)');
  const insEntry = db.prepare('INSERT INTO status_list_entries (licence_id, list_id, idx) VALUES (?, ?, ?)');
  const insStatus = db.prepare("INSERT INTO licence_status (licence_id, type_code, status, version, changed_at, reason, source, actor) VALUES (?, ?, ?, 1, ?, 'bench', 'registry', 'bench')");
  const ids = [];
  db.transaction(() => {
    db.prepare('DELETE FROM status_list_entries').run();
    db.prepare('DELETE FROM status_lists').run();
    let made = 0;
    for (let l = 0; l < lists; l++) {
      const listId = `${typeCode}-${l}`;
      ids.push(listId);
      const n = Math.min(perList, N - made);
      insList.run(listId, typeCode, l, LIST_SIZE, n);
      // A random half of the indexes: a Fisher-Yates prefix.
      const idx = Array.from({ length: LIST_SIZE }, (_, i) => i);
      for (let i = 0; i < n; i++) {
        const j = i + Math.floor(Math.random() * (LIST_SIZE - i));
        [idx[i], idx[j]] = [idx[j], idx[i]];
        const licenceId = made === 0 ? demoId : `bench-${made}`;
        insEntry.run(licenceId, listId, idx[i]);
        if (made > 0 && made % 100 === 0) insStatus.run(licenceId, typeCode, made % 200 === 0 ? 'REVOKED' : 'SUSPENDED', now - made);
        made++;
      }
    }
  })();
  return ids;
}

async function main() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tongban-bench-status-'));
  const ports = new Set();
  const gws = [];
  try {
    const tls = fed.localPki(path.join(dir, 'tls'), [BJ, GD], fed.newPkiSecrets());
    const opts = {};
    for (const code of [BJ, GD]) {
      opts[code] = { code, dir: path.join(dir, code), secrets: fed.newSecrets(), tls: tls[code], httpPort: await freePort(ports), grpcPort: await freePort(ports), env: ENV };
      const r = await fed.runCli(opts[code], ['licences', 'import', path.join(fed.ROOT, 'deploy', 'demo', `licences-${code}.json`)]);
      if (r.code !== 0) throw new Error(`import ${code}: ${r.stderr}`);
    }
    for (const code of [BJ, GD]) gws.push(await withTimeout(fed.startGateway(opts[code]), 180_000, `start ${code}`));
    await fed.connectAll(gws);
    const [bj, gd] = gws;
    const demo = JSON.parse(readFileSync(path.join(fed.ROOT, 'deploy', 'demo', `licences-${BJ}.json`), 'utf8'));
    const [a, b] = demo.filter((l) => l.status === 'VALID');
    const db = sqlite(opts[BJ]);

    // A. Generation of every list after a change.
    const tSeed = performance.now();
    const listIds = seed(db, a.typeCode, a.licenceId);
    const seedMs = Math.round(performance.now() - tSeed);
    const dirty = () => db.prepare('SELECT COUNT(*) AS n FROM status_lists WHERE dirty = 1').get().n;
    const t0 = performance.now();
    const res = await fed.call(bj, 'POST', `/admin/licences/${a.licenceId}/suspend`, { reason: 'bench' }, bj.adminToken);
    if (res.status !== 200) throw new Error(`suspend: ${res.status} ${JSON.stringify(res.body)}`);
    await until('all lists re-signed', () => dirty() === 0, 600_000);
    const allMs = Math.round(performance.now() - t0);
    const rows = db.prepare('SELECT list_id, jws FROM status_lists').all();
    const sizes = rows.map((r) => {
      const c = JSON.parse(Buffer.from(r.jws.split('.')[1], 'base64url').toString());
      return { encodedList: c.encodedList.length, changes: c.changes.length, jws: r.jws.length };
    });
    const sum = (k) => sizes.reduce((n, s) => n + s[k], 0);

    // B. One change: a licence of list 0 (the demo licence just suspended is reinstated).
    const version = () => db.prepare('SELECT version FROM status_lists WHERE list_id = ?').get(listIds[0]).version;
    const oneChange = [];
    for (let i = 0; i < 5; i++) {
      const v0 = version();
      const t = performance.now();
      const r = await fed.call(bj, 'POST', `/admin/licences/${a.licenceId}/${i % 2 === 0 ? 'reinstate' : 'suspend'}`, { reason: 'bench' }, bj.adminToken);
      if (r.status !== 200) throw new Error(`change: ${r.status}`);
      await until('new version', () => version() > v0, 60_000);
      oneChange.push(performance.now() - t);
    }

    // C. Status check per attestation verification at 广东.
    const verify = (body) => fed.call(gd, 'POST', '/v1/verifications', body, gd.apiToken);
    const holder = (l) => (l.holderCodeType === '111' ? { name: l.holderName, idNumber: l.holderCode } : { name: l.holderName, creditCode: l.holderCode });
    const withRef = (await verify({ licenceType: b.typeCode, licenceId: b.licenceId, holder: holder(b), purpose: 'bench' })).body.attestation;
    const withoutRef = (await verify({ licenceType: b.typeCode, licenceNumber: 'NO-SUCH-1', issuerProvince: BJ, purpose: 'bench' })).body.attestation;
    const check = (att) => fed.call(gd, 'POST', '/v1/attestations/verify', { attestation: att }, gd.apiToken);
    const tFirst = performance.now();
    const first = await check(withRef);
    const firstMs = +(performance.now() - tFirst).toFixed(1);
    if (!first.body.currentStatus) throw new Error(`no currentStatus: ${JSON.stringify(first.body)}`);
    await timed(50, () => check(withRef));
    await timed(50, () => check(withoutRef));
    const without = await timed(CHECKS, () => check(withoutRef));
    const withStatus = await timed(CHECKS, () => check(withRef));
    db.close();

    process.stdout.write(
      JSON.stringify(
        {
          licences: N,
          lists: listIds.length,
          entriesPerList: LIST_SIZE,
          nonValid: Math.floor((N - 1) / 100),
          seedMs,
          A_regenerateAllLists: { totalMs: allMs, perListMs: +(allMs / listIds.length).toFixed(1) },
          A_sizes: { encodedListChars: sum('encodedList'), changesChars: sum('changes'), jwsChars: sum('jws'), perListJwsChars: Math.round(sum('jws') / sizes.length) },
          B_oneChangeToNewVersion: stats(oneChange),
          C_attestationVerify: { firstCheckWithFetchMs: firstMs, withoutStatusRef: without, withStatusRef: withStatus, extraMeanMs: +(withStatus.meanMs - without.meanMs).toFixed(3) },
          machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg().map((x) => +x.toFixed(2)) },
          at: new Date().toISOString(),
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    await Promise.all(gws.map((g) => g.stop().catch(() => undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench:status failed: ${e.stack ?? e}\n`);
  process.exit(1);
});
