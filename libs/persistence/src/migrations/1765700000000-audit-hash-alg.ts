import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `audit_events.hash_alg`: the hash of each entry (NULL = SHA-256, as every entry before this; `SM3`
 * with TONGBAN_AUDIT_HASH=SM3), so a chain can change hash mid-way and still be verified. Plain
 * ALTER TABLE … ADD COLUMN on both databases: on SQLite it does not rebuild the table, so the
 * no-update/no-delete triggers of AuditChain1764700000000 stay in place.
 */
export class AuditHashAlg1765700000000 implements MigrationInterface {
  name = 'AuditHashAlg1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE audit_events ADD COLUMN hash_alg varchar(8) NULL');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE audit_events DROP COLUMN hash_alg');
  }
}
