import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { CaseEntity, CaseMessage } from '@tongban/cases';
import { OutboxMessageEntity, outboxClaim } from '@tongban/delivery';
import { MaterialTransferEntity, materialClaim } from '@tongban/materials';
import { DataSource, LeaseClaim, buildDataSource, leaseClaimStatement, openDatabase } from '@tongban/persistence';
import { PlanNode, dropPostgresSchema, postgresAvailable, postgresTarget, rowsTouched, seedRows as seed } from '@tongban/testkit';
import { WebhookDeliveryEntity, webhookClaim } from '@tongban/webhooks';

/**
 * Every leased worker's claim costs the same whatever the backlog, on PostgreSQL, with the
 * statistics a running gateway has: autovacuum's ANALYZE, taken while nothing was pending (a
 * gateway's usual state). With those, the dispatcher's claim (its stream-head check an anti-join)
 * read every pending row for every pending row: 0.8 s per claim over a 3,000-message backlog, 37 s
 * over 20,000, so a backlog after a peer's outage drained in quadratic time (2026-12-04).
 *
 * The work of a claim is read from EXPLAIN ANALYZE of exactly the statement the worker runs
 * (leaseClaimStatement of its claim builder): every row each plan node produced or filtered out,
 * times its loops. The table of claims is checked against the code: each class that extends
 * LeasedWorker in libs/ must have a row here.
 *
 * PostgreSQL only: SQLite's planner walks `(status, next_attempt_at)` in order and stops at the
 * limit whatever its statistics (EXPLAIN QUERY PLAN, performance.md "Ninth session").
 */

const LIMIT = 64;
const NOW = 2_000_000_000_000;
const PEER = '130000';

interface ClaimCase {
  worker: string;
  claim: (limit: number) => LeaseClaim;
  entity: typeof OutboxMessageEntity | typeof WebhookDeliveryEntity | typeof MaterialTransferEntity;
  /** Rows already done (delivered), before statistics are taken. */
  seedDone(ds: DataSource, n: number): Promise<void>;
  /** A backlog of `n` due items, added after the statistics. */
  seedBacklog(ds: DataSource, n: number): Promise<void>;
}

const outboxRows = (prefix: string, status: string, at: string) => ({
  id: `'${prefix}' || i`,
  peer: `'${PEER}'`,
  // Three messages per stream: a head and two waiting behind it (a case's deliveries).
  stream: `'${prefix}-s' || (i / 3)`,
  seq: 'i % 3',
  type: `'t'`,
  status: `'${status}'`,
  next_attempt_at: at,
  created_at: at,
});

const CLAIMS: ClaimCase[] = [
  {
    worker: 'Dispatcher',
    entity: OutboxMessageEntity,
    claim: (limit) => outboxClaim({ postgres: true, held: [], limit, now: NOW, owner: 'w', leaseMs: 30_000 }),
    // Queued, then delivered (as a gateway's rows are: the partial indexes keep entries for them until VACUUM).
    seedDone: async (ds, n) => {
      await seed(ds, 'outbox_messages', n, outboxRows('d', 'PENDING', `${NOW - 10_000_000} + i`));
      await ds.query(`UPDATE outbox_messages SET status = 'DELIVERED', delivered_at = next_attempt_at + 1000 WHERE id LIKE 'd%'`);
    },
    seedBacklog: (ds, n) => seed(ds, 'outbox_messages', n, outboxRows('p', 'PENDING', `${NOW - 1_000_000} + i / 2`)),
  },
  {
    worker: 'WebhookDispatcher',
    entity: WebhookDeliveryEntity,
    claim: (limit) => webhookClaim({ postgres: true, limit, now: NOW, owner: 'w', leaseMs: 30_000 }),
    seedDone: (ds, n) => seed(ds, 'webhook_deliveries', n, { id: `'d' || i`, status: `'DELIVERED'`, next_attempt_at: `${NOW - 10_000_000} + i`, created_at: `${NOW - 10_000_000} + i` }),
    seedBacklog: (ds, n) => seed(ds, 'webhook_deliveries', n, { id: `'p' || i`, status: `'PENDING'`, next_attempt_at: `${NOW - 1_000_000} + i / 2`, created_at: `${NOW - 1_000_000} + i / 2` }),
  },
  {
    worker: 'MaterialPusher',
    entity: MaterialTransferEntity,
    claim: (limit) => materialClaim({ postgres: true, limit, now: NOW, owner: 'w', leaseMs: 30_000 }),
    seedDone: async (ds, n) => {
      await seed(ds, 'cases', n, { id: `'dc' || i`, collaboration_id: `'dk' || i` });
      await seed(ds, 'case_materials', n, { storage_id: `'dm' || i`, id: `'dm' || i`, case_id: `'dc' || i` });
      await seed(ds, 'material_transfers', n, {
        material_id: `'dm' || i`,
        peer: `'${PEER}'`,
        status: `'DELIVERED'`,
        next_attempt_at: `${NOW - 10_000_000} + i`,
        created_at: `${NOW - 10_000_000} + i`,
      });
      await seed(ds, 'outbox_messages', n, { ...outboxRows('do', 'DELIVERED', `${NOW - 10_000_000} + i`), stream: `'dk' || i`, seq: '0', type: `'${CaseMessage.Opened}'` });
    },
    seedBacklog: async (ds, n) => {
      await seed(ds, 'cases', n, { id: `'pc' || i`, collaboration_id: `'pk' || i` });
      await seed(ds, 'case_materials', n, { storage_id: `'pm' || i`, id: `'pm' || i`, case_id: `'pc' || i` });
      await seed(ds, 'material_transfers', n, {
        material_id: `'pm' || i`,
        peer: `'${PEER}'`,
        status: `'PENDING'`,
        next_attempt_at: `${NOW - 1_000_000} + i / 2`,
        created_at: `${NOW - 1_000_000} + i / 2`,
      });
      // Every other case's CaseOpened to the peer is still queued: those transfers wait for it.
      await seed(ds, 'outbox_messages', n, { ...outboxRows('po', 'PENDING', `${NOW - 1_000_000} + i`), stream: `'pk' || (2 * i)`, seq: '0', type: `'${CaseMessage.Opened}'` });
    },
  },
];

/** The classes in libs/ that extend LeasedWorker (the code's own table of claims). */
function leasedWorkers(): string[] {
  const root = path.resolve(__dirname, '../../../libs');
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((n) => {
      const p = path.join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') && !/\.(integration-|e2e-)?spec\.ts$/.test(p) ? [p] : [];
    });
  return walk(root).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/class (\w+) extends LeasedWorker</g)].map((m) => m[1]));
}

describe('lease claims', () => {
  it('has a row for every LeasedWorker in libs/', () => {
    expect(leasedWorkers().sort()).toEqual(CLAIMS.map((c) => c.worker).sort());
  });

  const pg = postgresAvailable() ? describe : describe.skip;
  pg.each(CLAIMS)('$worker [postgres]', (c) => {
    const schemas: string[] = [];
    afterAll(async () => {
      for (const s of schemas) await dropPostgresSchema(s);
    });

    /**
     * The rows one claim touches over a backlog of `backlog`, statistics taken over `done` done
     * rows only; `plan`: a custom plan (the values known), or the generic plan PostgreSQL switches a
     * named statement to after five runs (the gateway names the statements it runs often).
     */
    async function claimWork(o: { backlog: number; done: number; plan: 'custom' | 'generic'; limit: number }): Promise<{ touched: number; claimed: number }> {
      const target = postgresTarget();
      schemas.push(target.schema);
      const ds = await openDatabase(buildDataSource(target, [OutboxMessageEntity, WebhookDeliveryEntity, MaterialTransferEntity, CaseEntity]));
      const runner = ds.createQueryRunner();
      try {
        await c.seedDone(ds, o.done);
        await ds.query('ANALYZE');
        await c.seedBacklog(ds, o.backlog);
        const [sql, params] = leaseClaimStatement(ds, c.entity, c.claim(o.limit));
        const literal = (v: unknown) => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);
        await runner.query(`SET plan_cache_mode = ${o.plan === 'generic' ? 'force_generic_plan' : 'force_custom_plan'}`);
        await runner.query(`PREPARE claim AS ${sql}`);
        const [row] = (await runner.query(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim(${params.map(literal).join(', ')})`)) as { 'QUERY PLAN': { Plan: PlanNode }[] }[];
        const plan = row['QUERY PLAN'][0].Plan;
        return { touched: rowsTouched(plan), claimed: plan['Actual Rows'] ?? 0 };
      } finally {
        await runner.release();
        await ds.destroy();
      }
    }

    it("finds PENDING rows through one index only, in the claim's order (no other plan for the estimates to choose)", async () => {
      const target = postgresTarget();
      schemas.push(target.schema);
      const ds = await openDatabase(buildDataSource(target, [OutboxMessageEntity, WebhookDeliveryEntity, MaterialTransferEntity, CaseEntity]));
      try {
        const table = ds.getMetadata(c.entity).tableName;
        const defs = await ds.query<{ indexdef: string }[]>('SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = $1', [table]);
        // Every index that mentions status, except the partial indexes on delivered rows (retention) and on dead letters.
        const byStatus = defs.map((d) => d.indexdef).filter((d) => /status/.test(d) && !/WHERE \(\(status\)::text = '(DELIVERED|DEAD)'::text\)$/.test(d));
        expect(byStatus).toHaveLength(1);
        expect(byStatus[0]).toMatch(/\(next_attempt_at, created_at\) WHERE \(\(status\)::text = 'PENDING'::text\)$/);
      } finally {
        await ds.destroy();
      }
    });

    it.each([
      { done: 2_000, plan: 'custom' as const, limit: LIMIT },
      { done: 2_000, plan: 'generic' as const, limit: LIMIT },
      { done: 450, plan: 'generic' as const, limit: 2 },
      { done: 450, plan: 'custom' as const, limit: 2 },
    ])('touches as many rows over a backlog of 4,000 as over one of 400 (statistics over $done done rows, nothing pending; $plan plan, limit $limit)', async (o) => {
      const small = await claimWork({ ...o, backlog: 400 });
      const large = await claimWork({ ...o, backlog: 4_000 });
      expect(small.claimed).toBeGreaterThan(0);
      expect(large.claimed).toBe(small.claimed);
      // Flat: the claim walks a few limits' worth of rows, not the backlog (before: ×100 and more).
      expect(large.touched).toBeLessThanOrEqual(small.touched * 1.5 + 100);
      expect(large.touched).toBeLessThan(20 * Math.max(o.limit, 8));
    });
  });
});
