import { MigrationInterface, QueryRunner } from 'typeorm';

const QUEUES = [
  { table: 'outbox_messages', index: 'ix_outbox_dead' },
  { table: 'webhook_deliveries', index: 'ix_webhook_deliveries_dead' },
  { table: 'material_transfers', index: 'ix_material_transfers_dead' },
];

/**
 * Each queue table's dead letters, oldest first: a partial index `(created_at) WHERE status =
 * 'DEAD'`. It serves the admin lists of DEAD rows (`?status=DEAD`, oldest first) and the outbox
 * depth read at every /metrics scrape and console chart step (OutboxAdmin.depth), which counted
 * undelivered rows with `status <> 'DELIVERED'`: a scan of the whole table, delivered history
 * included (133 ms over 1 M rows on PostgreSQL, at every scrape; performance.md "Tenth session").
 * Dead letters are few, so the index is small and costs nothing on the hot path's writes (a row
 * enters it only when it dies). It cannot find PENDING rows: the claims' one-index rule holds
 * (ClaimIndexes1796300000000). Both dialects (SQLite has partial indexes too).
 */
export class DeadLetterIndexes1796500000000 implements MigrationInterface {
  name = 'DeadLetterIndexes1796500000000';

  async up(q: QueryRunner): Promise<void> {
    for (const t of QUEUES) await q.query(`CREATE INDEX IF NOT EXISTS ${t.index} ON ${t.table} (created_at) WHERE status = 'DEAD'`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of QUEUES) await q.query(`DROP INDEX IF EXISTS ${t.index}`);
  }
}
