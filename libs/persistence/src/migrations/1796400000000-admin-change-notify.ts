import { MigrationInterface, QueryRunner } from 'typeorm';
import { isPostgres } from './dialect';

/**
 * The tables whose rows each replica keeps in memory and reloads (trust store, signing keys,
 * catalogue and calendar, API clients). A spec (apps/gateway/src/admin-state-reload.integration-spec.ts) checks
 * this list against the tables the stores' `refresh()` actually read.
 */
const ADMIN_TABLES = ['peers', 'peer_keys', 'signing_keys', 'catalogue_versions', 'calendar_versions', 'api_clients'];

/**
 * Replicas sharing a PostgreSQL database learn each other's admin changes at the commit, not at
 * their next periodic reload (`TONGBAN_TRUST_REFRESH_S`): a row trigger on each admin table sends
 * `pg_notify('tongban_wake_<schema>', 'db admin')`, which PostgreSQL delivers when (and only if)
 * the writing transaction commits, once per transaction however many rows it changed. Every
 * replica's wake-up listener (WakeSignals, topic `admin`) then reloads. A trigger rather than a
 * publish call next to each write: it also covers the CLI, the directory applier and restores.
 * The channel is `WakeSignals.channel`: `tongban_wake_` + the table's schema, at most 63 bytes.
 * No table written on the hot path is listed. Nothing on SQLite (one process per file).
 * Expand/contract (operations.md §9.1): additive; an older replica ignores the topic.
 */
export class AdminChangeNotify1796400000000 implements MigrationInterface {
  name = 'AdminChangeNotify1796400000000';

  async up(q: QueryRunner): Promise<void> {
    if (!isPostgres(q)) return;
    await q.query(`CREATE OR REPLACE FUNCTION tongban_admin_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify(left('tongban_wake_' || TG_TABLE_SCHEMA, 63), 'db admin');
        RETURN NULL;
      END $$`);
    for (const t of ADMIN_TABLES) {
      await q.query(`DROP TRIGGER IF EXISTS ${t}_admin_changed ON ${t}`);
      await q.query(`CREATE TRIGGER ${t}_admin_changed AFTER INSERT OR UPDATE OR DELETE ON ${t} FOR EACH ROW EXECUTE FUNCTION tongban_admin_changed()`);
      await q.query(`DROP TRIGGER IF EXISTS ${t}_admin_truncated ON ${t}`);
      await q.query(`CREATE TRIGGER ${t}_admin_truncated AFTER TRUNCATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION tongban_admin_changed()`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    if (!isPostgres(q)) return;
    for (const t of ADMIN_TABLES) {
      await q.query(`DROP TRIGGER IF EXISTS ${t}_admin_changed ON ${t}`);
      await q.query(`DROP TRIGGER IF EXISTS ${t}_admin_truncated ON ${t}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS tongban_admin_changed()`);
  }
}
