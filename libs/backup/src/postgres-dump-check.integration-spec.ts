import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { SystemClock } from '@tongban/common';
import { AuditEventEntity, AuditLog } from '@tongban/audit';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { TEST_PG_URL, dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { readFacts } from './backup-manifest';
import { backupCheckCommand } from './backup-commands';
import { checkPostgresDump, isPgDump } from './postgres-dump-check';

// `tongban backup check` on a pg_dump archive: the facts it computes from the dumped rows (read
// through pg_restore, never restored) are those of the database that was dumped.
const run = promisify(execFile);
const pg = postgresAvailable() ? describe : describe.skip;
pg('backup check on a pg_dump archive', () => {
  const a = postgresTarget();
  const b = postgresTarget();
  const dir = mkdtempSync(join(tmpdir(), 'tongban-pgdump-'));
  let ds: DataSource;

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(a, [AuditEventEntity]));
    const audit = new AuditLog(ds, new SystemClock(), undefined, '110000');
    for (let i = 0; i < 3; i++) await audit.recordNow({ event: 'licences.imported', actor: 'cli', subject: `f${i}`, outcome: 'OK' });
    const out = `INSERT INTO outbox_messages (id, peer, stream, seq, type, body, status, attempts, next_attempt_at, created_at) VALUES ($1, '130000', $2, $3, 't', $4, $5, 0, 0, 0)`;
    for (let i = 1; i <= 12; i++) await ds.query(out, [`o${i}`, `110000-s${i % 4}`, i, 'body\twith\ttabs\nand a line\\', i > 10 ? 'PENDING' : 'DELIVERED']);
    const inb = `INSERT INTO inbox_messages (sender, message_id, stream, seq, type, received_at, receipt) VALUES ('130000', $1, $2, $3, 't', 0, 'r')`;
    for (let i = 1; i <= 5; i++) await ds.query(inb, [`i${i}`, `130000-s${i % 2}`, i]);
    await (await openDatabase(buildDataSource(b, [AuditEventEntity]))).destroy();
  }, 60_000);

  afterAll(async () => {
    await ds?.destroy();
    for (const t of [a, b]) await dropPostgresSchema(t.schema);
  });

  it('computes the facts of the dumped database from the archive, and says OK', async () => {
    const dump = join(dir, 'a.dump');
    await run('pg_dump', ['--format=custom', '--schema', a.schema, '--file', dump, TEST_PG_URL]);
    expect(isPgDump(dump)).toBe(true);
    const report = await checkPostgresDump(dump, undefined);
    expect(report.problems).toEqual([]);
    expect(report.schema).toBe(a.schema);
    const live = await readFacts((sql) => ds.query(sql), null);
    expect(report.facts).toEqual(live);
    expect(live).toMatchObject({ outboxPending: 2, audit: { seq: 3 }, outbox: { '130000': { streams: 4, seqTotal: 9 + 10 + 11 + 12 } }, inbox: { '130000': { streams: 2 } } });
    const printed = await backupCheckCommand(dump, '110000');
    expect(printed.exitCode).toBe(0);
    expect(printed.stdout).toContain(`pg_dump archive OK: ${dump}\nschema ${a.schema}, postgres, made `);
    expect(printed.stdout).toContain('outbox: 130000: 4 streams; 2 not delivered');
  }, 60_000);

  it('refuses an archive of two gateways unless the schema is named, a newer schema, and a file that is no archive', async () => {
    const both = join(dir, 'both.dump');
    await run('pg_dump', ['--format=custom', '--schema', a.schema, '--schema', b.schema, '--file', both, TEST_PG_URL]);
    expect((await checkPostgresDump(both, undefined)).problems[0]).toMatch(/: not one gateway in the archive \(schemas with gateway data: it_\w+, it_\w+\): configure TONGBAN_DATABASE_SCHEMA$/);
    expect((await checkPostgresDump(both, b.schema)).problems).toEqual([]);
    expect((await checkPostgresDump(both, 'elsewhere')).problems[0]).toMatch(/: no gateway data in schema elsewhere/);

    await ds.query("INSERT INTO migrations (timestamp, name) VALUES (1799999999999, 'FromTheFuture1799999999999')");
    const newer = join(dir, 'newer.dump');
    await run('pg_dump', ['--format=custom', '--schema', a.schema, '--file', newer, TEST_PG_URL]);
    await ds.query("DELETE FROM migrations WHERE name = 'FromTheFuture1799999999999'");
    const r = await backupCheckCommand(newer, null);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('the dump has a newer schema than this build (unknown migrations: FromTheFuture1799999999999): restore it with the release that made it');

    const broken = join(dir, 'broken.dump');
    writeFileSync(broken, 'PGDMP and then nothing an archive has');
    expect((await checkPostgresDump(broken, undefined)).problems[0]).toMatch(/^.*broken\.dump: pg_restore --list failed: pg_restore: error: /);
  }, 60_000);
});
