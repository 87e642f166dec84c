import { MigrationInterface, QueryRunner } from 'typeorm';
import { isPostgres } from './dialect';

/**
 * Partial indexes for the leased workers' claims on PostgreSQL (lease-claim.ts): each claim walks
 * its table's PENDING rows in due order and stops at its limit, and the dispatcher's stream-head
 * check probes the undelivered rows of one (peer, stream). On `(status, next_attempt_at)` alone,
 * PostgreSQL sorted every pending row for each claim, and with statistics taken while nothing was
 * pending (autovacuum's ANALYZE on a quiet gateway) it planned the head check as a scan of every
 * pending row per pending row: a claim over a 3,000-message backlog took 0.8 s, over 20,000 37 s,
 * so draining a backlog after a peer's outage became quadratic (performance.md, "Ninth session").
 * SQLite's planner already walks `(status, next_attempt_at)` in order and stops at the limit
 * (EXPLAIN QUERY PLAN: no full sort, the head check on `uq_outbox_peer_stream_seq`), so these are
 * not created there: each would cost every outbox write an index update for nothing.
 * Only added (expand, operations.md §9.1); CREATE INDEX takes a short write lock on each table
 * (the outbox holds only undelivered messages and those not yet past retention).
 */
export class ClaimIndexes1796300000000 implements MigrationInterface {
  name = 'ClaimIndexes1796300000000';

  async up(q: QueryRunner): Promise<void> {
    if (!isPostgres(q)) return;
    await q.query(`CREATE INDEX IF NOT EXISTS ix_outbox_pending_due ON outbox_messages (next_attempt_at, created_at) WHERE status = 'PENDING'`);
    await q.query(`CREATE INDEX IF NOT EXISTS ix_outbox_undelivered ON outbox_messages (peer, stream, seq) WHERE status IN ('PENDING', 'DEAD')`);
    await q.query(`CREATE INDEX IF NOT EXISTS ix_webhook_deliveries_pending_due ON webhook_deliveries (next_attempt_at, created_at) WHERE status = 'PENDING'`);
    await q.query(`CREATE INDEX IF NOT EXISTS ix_material_transfers_pending_due ON material_transfers (next_attempt_at, created_at) WHERE status = 'PENDING'`);
  }

  async down(q: QueryRunner): Promise<void> {
    if (!isPostgres(q)) return;
    for (const name of ['ix_material_transfers_pending_due', 'ix_webhook_deliveries_pending_due', 'ix_outbox_undelivered', 'ix_outbox_pending_due']) await q.query(`DROP INDEX IF EXISTS ${name}`);
  }
}
