import { MigrationInterface, QueryRunner } from 'typeorm';
import { isPostgres } from './dialect';

/**
 * Replicas answering from the province's licence library keep each record for the cache ttl
 * (docs/licence-library.md §4). A status change (the library's feed, applied by whichever replica
 * read it first; an administrator's change) must end every replica's cached answer at its commit,
 * not one ttl later: a row trigger on `licence_status` sends `pg_notify('tongban_wake_<schema>',
 * 'db licences')`, delivered when (and only if) the writing transaction commits, once per
 * transaction. Every replica's wake-up listener (WakeSignals, topic `licences`) then empties its
 * library cache. The table is not written on the verification path. Nothing on SQLite (one process
 * per file, which forgets the licence itself). Expand/contract (operations.md §9.1): additive; an
 * older replica ignores the topic.
 */
export class LicenceStatusNotify1796600000000 implements MigrationInterface {
  name = 'LicenceStatusNotify1796600000000';

  async up(q: QueryRunner): Promise<void> {
    if (!isPostgres(q)) return;
    await q.query(`CREATE OR REPLACE FUNCTION tongban_licences_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify(left('tongban_wake_' || TG_TABLE_SCHEMA, 63), 'db licences');
        RETURN NULL;
      END $$`);
    await q.query(`DROP TRIGGER IF EXISTS licence_status_changed ON licence_status`);
    await q.query(`CREATE TRIGGER licence_status_changed AFTER INSERT OR UPDATE OR DELETE ON licence_status FOR EACH ROW EXECUTE FUNCTION tongban_licences_changed()`);
    await q.query(`DROP TRIGGER IF EXISTS licence_status_truncated ON licence_status`);
    await q.query(`CREATE TRIGGER licence_status_truncated AFTER TRUNCATE ON licence_status FOR EACH STATEMENT EXECUTE FUNCTION tongban_licences_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    if (!isPostgres(q)) return;
    await q.query(`DROP TRIGGER IF EXISTS licence_status_changed ON licence_status`);
    await q.query(`DROP TRIGGER IF EXISTS licence_status_truncated ON licence_status`);
    await q.query(`DROP FUNCTION IF EXISTS tongban_licences_changed()`);
  }
}
