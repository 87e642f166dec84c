import { CaseEntity } from '@tongban/cases';
import { Clock } from '@tongban/common';
import { OutboxAdmin, OutboxMessageEntity } from '@tongban/delivery';
import { MaterialTransferAdmin, MaterialTransferEntity } from '@tongban/materials';
import { DataSource, buildDataSource, openDatabase } from '@tongban/persistence';
import { dropPostgresSchema, explainAnalyze, postgresAvailable, postgresTarget, rowsTouched, seedRows } from '@tongban/testkit';
import { WebhookDeliveryEntity, WebhookService } from '@tongban/webhooks';

/**
 * The reads of undelivered rows that an operator's tools run over and over (the outbox depth at
 * every /metrics scrape and console chart step, the admin lists of PENDING and DEAD rows) cost the
 * same whatever the delivered history behind them. Queue tables keep delivered rows for their
 * retention days (30 by default): at 60 cases/s that is millions of outbox rows, and the depth
 * gauge's `status <> 'DELIVERED'` read all of them at every scrape (133 ms over 1 M rows). Each read
 * is the statement the code runs (captured from the data source), EXPLAIN ANALYZEd over 400 and
 * over 4,000 delivered rows with the same undelivered ones; rows touched must be equal.
 * PostgreSQL only (the partial indexes and the plans that grew were PostgreSQL's).
 */
jest.setTimeout(60_000);

const NOW = 2_000_000_000_000;
const pg = postgresAvailable() ? describe : describe.skip;

interface Queue {
  table: string;
  rows: (prefix: string) => Record<string, string>;
  /** Rows the queue's rows refer to (foreign keys), made first. */
  parents?: (ds: DataSource, prefix: string, n: number) => Promise<void>;
}
const QUEUES: Queue[] = [
  { table: 'outbox_messages', rows: (p) => ({ id: `'${p}' || i`, peer: `'130000'`, stream: `'${p}s' || i`, seq: '0', type: `'t'` }) },
  { table: 'webhook_deliveries', rows: (p) => ({ id: `'${p}' || i`, webhook_id: `'w'` }) },
  {
    table: 'material_transfers',
    rows: (p) => ({ material_id: `'${p}m' || i`, peer: `'130000'` }),
    parents: async (ds, p, n) => {
      await seedRows(ds, 'cases', n, { id: `'${p}c' || i`, collaboration_id: `'${p}k' || i` });
      await seedRows(ds, 'case_materials', n, { storage_id: `'${p}m' || i`, id: `'${p}m' || i`, case_id: `'${p}c' || i` });
    },
  },
];

async function seedQueue(ds: DataSource, q: Queue, prefix: string, n: number, status: string, at: number): Promise<void> {
  await q.parents?.(ds, prefix, n);
  await seedRows(ds, q.table, n, { ...q.rows(prefix), status: `'${status}'`, next_attempt_at: `${at} + i`, created_at: `${at} + i` });
}

/** Each read as the admin API and the gauges call it. */
const READS: [name: string, read: (ds: DataSource) => Promise<unknown>][] = [
  ['outbox depth (gauges)', (ds) => new OutboxAdmin(ds, {} as Clock, {} as never).depth()],
  ['outbox ?status=PENDING', (ds) => new OutboxAdmin(ds, {} as Clock, {} as never).list('PENDING')],
  ['outbox ?status=DEAD', (ds) => new OutboxAdmin(ds, {} as Clock, {} as never).list('DEAD')],
  ['webhook deliveries ?status=PENDING', (ds) => new WebhookService(ds, {} as Clock, {} as never, {} as never, {} as never).deliveries('PENDING')],
  ['webhook deliveries ?status=DEAD', (ds) => new WebhookService(ds, {} as Clock, {} as never, {} as never, {} as never).deliveries('DEAD')],
  ['material transfers ?status=PENDING', (ds) => new MaterialTransferAdmin(ds, {} as Clock).list('PENDING')],
  ['material transfers ?status=DEAD', (ds) => new MaterialTransferAdmin(ds, {} as Clock).list('DEAD')],
];

pg('reads of undelivered rows do not grow with the delivered history (PostgreSQL)', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const s of schemas) await dropPostgresSchema(s);
  });

  /** Rows touched by each read over `delivered` delivered rows per queue table (and 20 pending, 5 dead). */
  async function work(delivered: number): Promise<Record<string, number>> {
    const target = postgresTarget();
    schemas.push(target.schema);
    const ds = await openDatabase(buildDataSource(target, [OutboxMessageEntity, WebhookDeliveryEntity, MaterialTransferEntity, CaseEntity]));
    try {
      for (const q of QUEUES) await seedQueue(ds, q, 'd', delivered, 'DELIVERED', NOW - 9e6);
      // Analysed as autovacuum finds a queue table most of the time: nothing pending.
      await ds.query('ANALYZE');
      for (const q of QUEUES) {
        await seedQueue(ds, q, 'p', 20, 'PENDING', NOW);
        await seedQueue(ds, q, 'x', 5, 'DEAD', NOW - 1e6);
      }
      const out: Record<string, number> = {};
      for (const [name, read] of READS) {
        const seen: [string, unknown[]][] = [];
        const original = ds.logger;
        Object.assign(ds, { logger: { ...original, logQuery: (sql: string, params?: unknown[]) => void seen.push([sql, params ?? []]) } });
        try {
          await read(ds);
        } finally {
          Object.assign(ds, { logger: original });
        }
        expect({ name, statements: seen.length }).toEqual({ name, statements: 1 });
        out[name] = rowsTouched(await explainAnalyze(ds, ...seen[0]));
      }
      return out;
    } finally {
      await ds.destroy();
    }
  }

  it('touches as many rows over 4,000 delivered rows as over 400', async () => {
    const small = await work(400);
    const large = await work(4_000);
    expect(large).toEqual(small);
  });
});
