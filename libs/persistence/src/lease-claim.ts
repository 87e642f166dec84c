import { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import { hydrate } from './hydrate';

/** What `claimLeases` leases: candidate rows of a leased-work table, and to whom. */
export interface LeaseClaim {
  /**
   * A SELECT of the candidates' key columns (in `key` order) with `:name` parameters; on
   * PostgreSQL it ends with FOR UPDATE [OF …] SKIP LOCKED so replicas pass over each other's rows.
   * Its cost must not grow with the backlog whatever the planner's statistics say (a claim runs
   * once per round, so a claim that reads every pending row makes draining a backlog quadratic):
   * walk a partial index on the due order (`… WHERE status = 'PENDING'`), the table's only index
   * that finds PENDING rows (PostgreSQL's estimates for a queue table cannot choose between two),
   * and make per-row checks correlated scalar subqueries, which PostgreSQL runs as an index probe
   * per row, not as a join it may plan as a scan (lease-claims.integration-spec.ts holds every
   * claim to this).
   */
  candidates: string;
  params: Record<string, unknown>;
  /** The key column, or a row of them: `id`, `(material_id, peer)`. */
  key: string;
  owner: string;
  /** Epoch ms: now, and when the lease runs out. */
  now: number;
  until: number;
}

/** What a worker's claim builder is given: the driver, how many to claim, and the lease to write. */
export interface ClaimRequest {
  postgres: boolean;
  limit: number;
  /** Epoch ms. */
  now: number;
  owner: string;
  leaseMs: number;
}

/** The lease part of a LeaseClaim for `r`: to `r.owner`, from now for `r.leaseMs`. */
export function leaseFor(r: ClaimRequest): Pick<LeaseClaim, 'owner' | 'now' | 'until'> {
  return { owner: r.owner, now: r.now, until: r.now + r.leaseMs };
}

/**
 * The one statement `claimLeases` runs for `c` on `ds`'s driver: its text and bound values
 * (exported so a test can EXPLAIN exactly what a worker runs).
 */
export function leaseClaimStatement<T extends ObjectLiteral>(ds: DataSource, entity: EntityTarget<T>, c: LeaseClaim): [string, unknown[]] {
  const meta = ds.getMetadata(entity);
  return ds.driver.escapeQueryWithParameters(
    `UPDATE ${meta.tableName} SET lease_owner = :leaseOwner, lease_until = :leaseUntil
      WHERE ${c.key} IN (${c.candidates}) AND (lease_until IS NULL OR lease_until < :leaseNow)
      RETURNING *`,
    { ...c.params, leaseOwner: c.owner, leaseUntil: c.until, leaseNow: c.now },
    {},
  );
}

/**
 * Leases the candidate rows whose lease is free to `owner` in one statement (one round trip, no
 * explicit transaction: the UPDATE is atomic on its own) and returns them as entities
 * (UPDATE … RETURNING, PostgreSQL and SQLite ≥ 3.35). Shared by every LeasedWorker's claim.
 */
export async function claimLeases<T extends ObjectLiteral>(ds: DataSource, entity: EntityTarget<T>, c: LeaseClaim): Promise<T[]> {
  const [sql, params] = leaseClaimStatement(ds, entity, c);
  const runner = ds.createQueryRunner();
  let rows: Record<string, unknown>[];
  try {
    rows = ((await runner.query(sql, params, true)) as { records?: Record<string, unknown>[] }).records ?? [];
  } finally {
    await runner.release();
  }
  return rows.map((raw) => hydrate(ds, entity, raw));
}
