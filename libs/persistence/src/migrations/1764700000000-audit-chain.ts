import { createHash } from 'node:crypto';
import { MigrationInterface, QueryRunner, Table, TableColumn } from 'typeorm';
import { isPostgres } from './dialect';

const GENESIS = '0'.repeat(64);
const PAGE = 1000;
const TABLES = ['audit_events', 'audit_checkpoints'];

/**
 * Frozen copy of the entry hash of libs/audit/src/audit-chain.ts (a migration must not change when
 * the library does; importing @tongban/audit here would also be a circular import).
 */
function entryHash(r: Record<string, unknown>, prevHash: string): string {
  const canonical = JSON.stringify([Number(r.seq), Number(r.at), r.event, r.actor, r.subject, r.outcome, r.reason ?? null, r.message_id ?? null, r.details ?? null, prevHash]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/**
 * Makes the audit trail tamper-evident: every audit row gets `prev_hash` and `hash` (existing rows
 * are chained here, in seq order), signed chain heads go to `audit_checkpoints`, and the database
 * refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) of both tables. On PostgreSQL `seq` loses its
 * sequence default: only AuditLog, which assigns seq inside the chain, may append.
 *
 * On SQLite, a later migration that alters audit_events rebuilds the table and so drops its
 * triggers: it must create them again.
 */
export class AuditChain1764700000000 implements MigrationInterface {
  name = 'AuditChain1764700000000';

  async up(q: QueryRunner): Promise<void> {
    const pg = isPostgres(q);
    await q.addColumns('audit_events', [
      new TableColumn({ name: 'prev_hash', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'hash', type: 'varchar', length: '64', isNullable: true }),
    ]);
    await q.createTable(
      new Table({
        name: 'audit_checkpoints',
        columns: [
          { name: 'seq', type: 'integer', isPrimary: true },
          { name: 'hash', type: 'varchar', length: '64' },
          { name: 'at', type: 'bigint' },
          { name: 'signature', type: 'text' },
          { name: 'kid', type: 'varchar', length: '64' },
        ],
      }),
    );
    // Before the triggers: this is the only UPDATE audit_events will ever see.
    await chainExistingRows(q, pg);
    if (pg) {
      await q.query(`ALTER TABLE audit_events ALTER COLUMN seq DROP DEFAULT`);
      await q.query(`CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$`);
      for (const t of TABLES) {
        await q.query(`CREATE TRIGGER ${t}_append_only BEFORE UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION audit_append_only()`);
        await q.query(`CREATE TRIGGER ${t}_no_truncate BEFORE TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()`);
      }
    } else {
      for (const t of TABLES) {
        await q.query(`CREATE TRIGGER ${t}_no_update BEFORE UPDATE ON ${t} BEGIN SELECT RAISE(ABORT, '${t} is append-only'); END`);
        await q.query(`CREATE TRIGGER ${t}_no_delete BEFORE DELETE ON ${t} BEGIN SELECT RAISE(ABORT, '${t} is append-only'); END`);
      }
    }
  }

  async down(q: QueryRunner): Promise<void> {
    if (isPostgres(q)) {
      for (const t of TABLES) {
        await q.query(`DROP TRIGGER IF EXISTS ${t}_append_only ON ${t}`);
        await q.query(`DROP TRIGGER IF EXISTS ${t}_no_truncate ON ${t}`);
      }
      await q.query(`DROP FUNCTION IF EXISTS audit_append_only()`);
      const [{ name }] = (await q.query(`SELECT pg_get_serial_sequence('audit_events', 'seq') AS name`)) as [{ name: string }];
      await q.query(`SELECT setval('${name}', COALESCE((SELECT MAX(seq) FROM audit_events), 0) + 1, false)`);
      await q.query(`ALTER TABLE audit_events ALTER COLUMN seq SET DEFAULT nextval('${name}'::regclass)`);
    } else {
      for (const t of TABLES) {
        await q.query(`DROP TRIGGER IF EXISTS ${t}_no_update`);
        await q.query(`DROP TRIGGER IF EXISTS ${t}_no_delete`);
      }
    }
    await q.dropTable('audit_checkpoints');
    await q.dropColumns('audit_events', ['prev_hash', 'hash']);
  }
}

/** Chains the rows written before this migration, in seq order, page by page. */
async function chainExistingRows(q: QueryRunner, pg: boolean): Promise<void> {
  const p = (i: number) => (pg ? `$${i}` : '?');
  let prevHash = GENESIS;
  let after: number | null = null;
  for (;;) {
    const rows = (
      after === null
        ? await q.query(`SELECT seq, at, event, actor, subject, outcome, reason, message_id, details FROM audit_events ORDER BY seq LIMIT ${PAGE}`)
        : await q.query(`SELECT seq, at, event, actor, subject, outcome, reason, message_id, details FROM audit_events WHERE seq > ${p(1)} ORDER BY seq LIMIT ${PAGE}`, [after])
    ) as Record<string, unknown>[] | undefined;
    if (!Array.isArray(rows) || rows.length === 0) return;
    for (const r of rows) {
      const hash = entryHash(r, prevHash);
      await q.query(`UPDATE audit_events SET prev_hash = ${p(1)}, hash = ${p(2)} WHERE seq = ${p(3)}`, [prevHash, hash, Number(r.seq)]);
      prevHash = hash;
    }
    if (rows.length < PAGE) return;
    after = Number(rows[rows.length - 1].seq);
  }
}
