import { EventEmitter } from 'node:events';
import { AuditLog } from '@tongban/audit';
import { OPEN_STEP } from '@tongban/cases';
import { Clock, SystemClock } from '@tongban/common';
import { OutboxAdmin } from '@tongban/delivery';
import { MaterialTransferAdmin } from '@tongban/materials';
import { Metrics, caseCounts } from '@tongban/observability';
import { DataSource, buildDataSource, openDatabase } from '@tongban/persistence';
import { dropPostgresSchema, explainAnalyze, postgresAvailable, postgresTarget, rowsTouched, seedRows } from '@tongban/testkit';
import { WebhookService } from '@tongban/webhooks';
import { registerGatewayGauges } from './gateway-gauges';
import { ENTITIES } from './gateway.providers';

/**
 * The reads an operator's tools run over and over (the gauges at every /metrics scrape and console
 * chart step, the admin lists of PENDING and DEAD rows) cost the same whatever the history behind
 * them. Queue tables keep delivered rows for their retention days (30 by default): at 60 cases/s
 * that is millions of outbox rows, and the depth gauge's `status <> 'DELIVERED'` read all of them at
 * every scrape (133 ms over 1 M rows). Closed cases stay forever, and the case gauge counted them
 * by state at every scrape (80 ms over 200,000 cases). Each read is the statements the code runs
 * (captured from the data source), EXPLAIN ANALYZEd over 400 and over 4,000 rows of history with
 * the same live rows; rows touched must be equal. PostgreSQL only (the partial indexes and the
 * plans that grew were PostgreSQL's).
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
  ['a /metrics scrape (every gauge the gateway computes, as it registers them)', (ds) => scrape(ds)],
  ['outbox ?status=PENDING', (ds) => new OutboxAdmin(ds, {} as Clock, {} as never).list('PENDING')],
  ['outbox ?status=DEAD', (ds) => new OutboxAdmin(ds, {} as Clock, {} as never).list('DEAD')],
  ['webhook deliveries ?status=PENDING', (ds) => new WebhookService(ds, {} as Clock, {} as never, {} as never, {} as never).deliveries('PENDING')],
  ['webhook deliveries ?status=DEAD', (ds) => new WebhookService(ds, {} as Clock, {} as never, {} as never, {} as never).deliveries('DEAD')],
  ['material transfers ?status=PENDING', (ds) => new MaterialTransferAdmin(ds, {} as Clock).list('PENDING')],
  ['material transfers ?status=DEAD', (ds) => new MaterialTransferAdmin(ds, {} as Clock).list('DEAD')],
  ['overdue cases (console overview)', (ds) => caseCounts(ds, OPEN_STEP, NOW)],
];

/** One render of the gateway's metrics, with its real gauge registrations over `ds`. */
async function scrape(ds: DataSource): Promise<string> {
  const metrics = new Metrics();
  registerGatewayGauges(metrics, {
    outbox: new OutboxAdmin(ds, {} as Clock, {} as never),
    keys: { activeKid: () => undefined, list: () => [] } as never,
    ds,
    catalogue: { calendar: () => ({ coveredUntil: () => null }) } as never,
    audit: new AuditLog(ds, new SystemClock()),
    cases: { events: new EventEmitter() },
    transport: { secondsToExpiry: () => null },
  });
  return metrics.render();
}

pg('operator reads do not grow with the history (PostgreSQL)', () => {
  const schemas: string[] = [];
  afterAll(async () => {
    for (const s of schemas) await dropPostgresSchema(s);
  });

  /** Rows touched by each read over `delivered` delivered rows per queue table and as many closed cases (and 20 pending, 5 dead, 20 open cases). */
  async function work(delivered: number): Promise<Record<string, number>> {
    const target = postgresTarget();
    schemas.push(target.schema);
    const ds = await openDatabase(buildDataSource(target, ENTITIES));
    try {
      for (const q of QUEUES) await seedQueue(ds, q, 'd', delivered, 'DELIVERED', NOW - 9e6);
      await seedRows(ds, 'cases', delivered, { id: `'hc' || i`, collaboration_id: `'hk' || i`, state: `'COMPLETED'`, created_at: `${NOW - 9e6} + i`, closed_at: `${NOW - 8e6} + i` });
      await seedRows(ds, 'audit_events', delivered, { seq: 'i', at: `${NOW - 9e6} + i` });
      // Analysed as autovacuum finds a queue table most of the time: nothing pending.
      await ds.query('ANALYZE');
      for (const q of QUEUES) {
        await seedQueue(ds, q, 'p', 20, 'PENDING', NOW);
        await seedQueue(ds, q, 'x', 5, 'DEAD', NOW - 1e6);
      }
      await seedRows(ds, 'cases', 20, { id: `'oc' || i`, collaboration_id: `'ok' || i`, state: `'OPEN'`, created_at: `${NOW} + i` });
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
        expect({ name, read: seen.length > 0 }).toEqual({ name, read: true });
        out[name] = 0;
        for (const [sql, params] of seen) out[name] += rowsTouched(await explainAnalyze(ds, sql, params));
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
