import { MigrationInterface, QueryRunner } from 'typeorm';
import { isPostgres } from './dialect';

/** Per queue table: the index its claim walks (due order of PENDING rows) and its delivered rows' index for retention. */
const QUEUES = [
  {
    table: 'outbox_messages',
    due: 'ix_outbox_pending_due',
    oldDue: 'ix_outbox_status_next',
    done: { old: 'ix_outbox_status_delivered', oldCols: 'status, delivered_at', name: 'ix_outbox_delivered', cols: 'delivered_at' },
  },
  {
    table: 'webhook_deliveries',
    due: 'ix_webhook_deliveries_pending_due',
    oldDue: 'ix_webhook_deliveries_status_next',
    done: { old: 'ix_webhook_deliveries_status_created', oldCols: 'status, created_at', name: 'ix_webhook_deliveries_delivered', cols: 'created_at' },
  },
  { table: 'material_transfers', due: 'ix_material_transfers_pending_due', oldDue: 'ix_material_transfers_status_next', done: undefined },
];

/**
 * The leased workers' claims on PostgreSQL (lease-claim.ts): each walks its table's PENDING rows
 * in due order and stops at its limit. PostgreSQL only takes that walk when it is the only cheap
 * path, and its statistics cannot tell: a queue table is analysed (autovacuum) mostly while nothing
 * is pending, so every index that can find PENDING rows is estimated at about one row, and the
 * planner read all pending rows through another index and sorted them (linear in the backlog), or,
 * with the stream-head check as a join, read them once per pending row (quadratic: a claim over
 * 3,000 pending messages took 0.8 s, over 20,000 37 s; performance.md, "Ninth session").
 *
 * So on each queue table the one index that can find PENDING rows is a partial index in the claim's
 * order, `(next_attempt_at, created_at) WHERE status = 'PENDING'`. The `(status, …)` indexes it
 * replaces go: the claim was their only user, and retention's delivered-rows index becomes partial
 * on `status = 'DELIVERED'`. The claims' other checks probe by (peer, stream) with a condition no
 * status index can serve (`status <> 'DELIVERED'`).
 *
 * SQLite's planner walks `(status, next_attempt_at)` in order and stops at the limit already
 * (EXPLAIN QUERY PLAN, 32–66 µs a claim over 20,000 pending): nothing changes there.
 * Expand/contract (operations.md §9.1): an older replica's statements still run, by other plans.
 * CREATE and DROP INDEX take a short write lock on each table.
 */
export class ClaimIndexes1796300000000 implements MigrationInterface {
  name = 'ClaimIndexes1796300000000';

  async up(q: QueryRunner): Promise<void> {
    if (!isPostgres(q)) return;
    for (const t of QUEUES) {
      await q.query(`CREATE INDEX IF NOT EXISTS ${t.due} ON ${t.table} (next_attempt_at, created_at) WHERE status = 'PENDING'`);
      await q.query(`DROP INDEX IF EXISTS ${t.oldDue}`);
      if (!t.done) continue;
      await q.query(`CREATE INDEX IF NOT EXISTS ${t.done.name} ON ${t.table} (${t.done.cols}) WHERE status = 'DELIVERED'`);
      await q.query(`DROP INDEX IF EXISTS ${t.done.old}`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    if (!isPostgres(q)) return;
    for (const t of QUEUES) {
      await q.query(`CREATE INDEX IF NOT EXISTS ${t.oldDue} ON ${t.table} (status, next_attempt_at)`);
      await q.query(`DROP INDEX IF EXISTS ${t.due}`);
      if (!t.done) continue;
      await q.query(`CREATE INDEX IF NOT EXISTS ${t.done.old} ON ${t.table} (${t.done.oldCols})`);
      await q.query(`DROP INDEX IF EXISTS ${t.done.name}`);
    }
  }
}
