import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import Database from 'better-sqlite3';
import { SystemClock } from '@tongban/common';
import { AuditEventEntity, AuditLog, verifyStoredAuditChain } from '@tongban/audit';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { sqliteTarget } from '@tongban/testkit';
import { backupSqlite, checkSqliteBackup } from './sqlite-backup';

// The online backup of a gateway's SQLite file while another process writes to it as fast as it
// can: the copy is of one instant (every writer transaction is in it whole or not at all), the
// writer is never blocked for long, and the manifest matches the copy.
const WRITER = `
const Database = require(process.argv[2]);
const db = new Database(process.argv[3]);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
const body = 'x'.repeat(2000);
const out = db.prepare("INSERT INTO outbox_messages (id, peer, stream, seq, type, body, status, attempts, next_attempt_at, created_at) VALUES (?, '130000', ?, ?, 't', ?, 'DELIVERED', 0, 0, 0)");
const inb = db.prepare("INSERT INTO inbox_messages (sender, message_id, stream, seq, type, received_at, receipt) VALUES ('130000', ?, ?, ?, 't', 0, 'r')");
// Each transaction writes one outbox row and its inbox twin: a consistent copy holds both or neither.
const pair = (i) => { db.exec('BEGIN'); out.run('o' + i, 's' + (i % 50), i, body); inb.run('i' + i, 's' + (i % 50), i); db.exec('COMMIT'); };
let i = 0;
let stop = false;
process.on('message', () => (stop = true));
(function loop() {
  for (let k = 0; k < 20; k++) pair(++i);
  if (stop) { process.send({ written: i }, () => process.exit(0)); return; }
  setImmediate(loop);
})();
`;

describe('tongban backup on SQLite (online backup API)', () => {
  const target = sqliteTarget() as { kind: 'sqlite'; path: string };
  const dir = dirname(target.path);

  beforeAll(async () => {
    // A real gateway schema with a sealed-less audit chain of a few entries.
    const ds = await openDatabase(buildDataSource(target, [AuditEventEntity]));
    const audit = new AuditLog(ds, new SystemClock(), undefined, '110000');
    for (let i = 0; i < 5; i++) await audit.recordNow({ event: 'licences.imported', actor: 'cli', subject: `f${i}`, outcome: 'OK' });
    await ds.destroy();
  });

  it('copies one instant of a database another process keeps writing, and the manifest matches the copy', async () => {
    const script = join(dir, 'writer.js');
    writeFileSync(script, WRITER);
    const writer = fork(script, [require.resolve('better-sqlite3'), target.path], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const count = () => {
      const db = new Database(target.path, { readonly: true });
      try {
        return (db.prepare('SELECT COUNT(*) AS n FROM outbox_messages').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    // Let the writer get going (and the file grow to a few MB), then back up while it writes.
    const deadline = Date.now() + 30_000;
    while (count() < 3000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const before = count();
    const dest = join(dir, 'backup.sqlite');
    const manifest = await backupSqlite(target.path, dest, { code: '110000', tool: 'test', now: new Date() });
    const after = count();
    const done = new Promise<{ written: number }>((r) => writer.once('message', r));
    writer.send('stop');
    const { written } = await done;

    expect(after).toBeGreaterThan(before); // the writer went on during the backup
    const copy = new Database(dest, { readonly: true });
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
      const n = (sql: string) => (copy.prepare(sql).get() as { n: number }).n;
      const outbox = n('SELECT COUNT(*) AS n FROM outbox_messages');
      // Whole transactions only: every outbox row has its inbox twin, and the rows are 1..N without a hole.
      expect(n('SELECT COUNT(*) AS n FROM inbox_messages')).toBe(outbox);
      expect(n('SELECT MAX(seq) AS n FROM outbox_messages')).toBe(outbox);
      expect(outbox).toBeGreaterThanOrEqual(before);
      expect(outbox).toBeLessThanOrEqual(written);
      expect(manifest.outbox['130000'].streams).toBe(50);
      expect(manifest.outbox['130000'].seqTotal).toBe(n('SELECT SUM(m) AS n FROM (SELECT MAX(seq) AS m FROM outbox_messages GROUP BY stream)'));
      expect(manifest.audit.seq).toBe(5);
    } finally {
      copy.close();
    }

    // The copy passes backup check, and its audit chain still verifies entry by entry.
    const report = await checkSqliteBackup(dest, '110000');
    expect(report.problems).toEqual([]);
    const ds = await openDatabase(buildDataSource({ kind: 'sqlite', path: dest }, [AuditEventEntity]));
    try {
      const chain = await verifyStoredAuditChain(ds);
      expect(chain).toMatchObject({ ok: true, checked: 5 });
    } finally {
      await ds.destroy();
    }
  }, 120_000);

  it('backup check refuses another gateway, a newer schema, and a manifest that does not match its data', async () => {
    const dest = join(dir, 'backup.sqlite');
    expect((await checkSqliteBackup(dest, '440000')).problems).toEqual(["the backup is of gateway 110000, not of this gateway 440000: refusing another gateway's state"]);
    const newer = join(dir, 'newer-copy.sqlite');
    await new Database(dest, { readonly: true }).backup(newer);
    const w = new Database(newer);
    w.prepare("INSERT INTO migrations (timestamp, name) VALUES (1799999999999, 'FromTheFuture1799999999999')").run();
    w.prepare("INSERT INTO inbox_messages (sender, message_id, stream, seq, type, received_at, receipt) VALUES ('130000', 'extra', 'late', 1, 't', 0, 'r')").run();
    w.close();
    const problems = (await checkSqliteBackup(newer, '110000')).problems;
    expect(problems[0]).toBe('the backup has a newer schema than this build (unknown migrations: FromTheFuture1799999999999): restore it with the release that made it');
    expect(problems.some((p) => p.startsWith('inbox high-water marks in the manifest does not match the data in the backup'))).toBe(true);
    expect((await checkSqliteBackup(target.path, '110000')).problems).toEqual([`${target.path}: no manifest (tongban_backup_manifest): not a backup made by tongban backup`]);
  });
});
