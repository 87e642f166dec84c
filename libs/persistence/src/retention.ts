import { DataSource } from 'typeorm';

/** One table's rule for deleting finished rows: at most `limit` rows older than `cutoff` per call. */
export interface RetentionPolicy {
  /** The table, as named in logs and in tongban_retention_deleted_rows_total{table}. */
  table: string;
  /** Age in days after which a finished row may go; 0 keeps every row. */
  days: number;
  /**
   * Deletes up to `limit` deletable rows (of `table`) finished before `cutoffMs`; returns how many
   * went (fewer than `limit`: done for this run), or the rows per table when rows of other tables
   * go with them (a file's chunks) and whether more may remain.
   */
  deleteBatch(ds: DataSource, cutoffMs: number, limit: number): Promise<number | { rows: Record<string, number>; more: boolean }>;
}

export interface RetentionOptions {
  /** Time between runs; 0 turns the job off. */
  intervalMs: number;
  /** Rows per DELETE statement (each its own short transaction). */
  batchSize: number;
  /** Batches per table and run, so one run stays bounded even after years of backlog. */
  maxBatchesPerRun?: number;
}

/** What a run did, per table. */
export type RetentionReport = Record<string, number>;

/**
 * Deletes finished rows in small batches, table by table, by the policies the owning libraries
 * give (each knows what must stay: stream watermarks, dead letters, pending work). Runs on a timer
 * that never keeps the process alive; a failed batch is logged and retried at the next run.
 */
export class RetentionWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = true;

  constructor(
    private readonly ds: DataSource,
    private readonly now: () => number,
    private readonly policies: RetentionPolicy[],
    private readonly options: RetentionOptions,
    private readonly hooks: { deleted?: (table: string, rows: number, days: number) => void; failed?: (table: string, error: unknown) => void } = {},
  ) {}

  /** Nest lifecycle: start with the application, stop with it. */
  onApplicationBootstrap(): void {
    this.start();
  }

  onModuleDestroy(): Promise<void> {
    return this.stop();
  }

  /** Starts the timer (first run after one interval); does nothing when the interval is 0. */
  start(): void {
    if (this.options.intervalMs <= 0 || !this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  /** Stops the timer and waits for a run in progress (it stops after its current batch). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One run over every policy with days > 0; returns the rows deleted per table. */
  async runOnce(): Promise<RetentionReport> {
    const report: RetentionReport = {};
    const maxBatches = this.options.maxBatchesPerRun ?? 100;
    for (const p of this.policies) {
      if (p.days <= 0) continue;
      const cutoff = this.now() - p.days * 86_400_000;
      const totals: Record<string, number> = { [p.table]: 0 };
      try {
        for (let i = 0; i < maxBatches; i++) {
          const result = await p.deleteBatch(this.ds, cutoff, this.options.batchSize);
          const counts = typeof result === 'number' ? { [p.table]: result } : result.rows;
          for (const [table, n] of Object.entries(counts)) totals[table] = (totals[table] ?? 0) + n;
          if (typeof result === 'number' ? result < this.options.batchSize : !result.more) break;
        }
      } catch (e) {
        this.hooks.failed?.(p.table, e);
      }
      for (const [table, n] of Object.entries(totals)) {
        report[table] = (report[table] ?? 0) + n;
        if (n > 0) this.hooks.deleted?.(table, n, p.days);
      }
    }
    return report;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule();
      });
    }, this.options.intervalMs);
    this.timer.unref?.();
  }
}

/** Positional placeholder `n` (1-based) of the data source's dialect. */
export function placeholder(ds: DataSource, n: number): string {
  return ds.options.type === 'postgres' ? `$${n}` : '?';
}

/** Runs a DELETE and returns the number of rows it removed, on SQLite and PostgreSQL. */
export async function deletedRows(ds: DataSource, sql: string, params: unknown[]): Promise<number> {
  const qr = ds.createQueryRunner();
  try {
    // TypeORM's raw query result: PostgreSQL gives [rows, count] with useStructuredResult; SQLite gives changes.
    const result = (await qr.query(sql, params, true)) as { affected?: number };
    return Number(result.affected ?? 0);
  } finally {
    await qr.release();
  }
}
