import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { sqliteWriteLock } from './sqlite-writer';
import { countStatement } from './statement-count';

interface SqliteStatement {
  reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  transaction<T>(fn: () => T): () => T;
}
interface Grouped {
  params: readonly unknown[];
  resolve: (changes: number) => void;
  reject: (e: unknown) => void;
}
interface PgPool {
  query(q: { name: string; text: string; values: unknown[] }): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/**
 * One SQL statement for the hot path (a verification runs each of these once), prepared once and
 * run without TypeORM: better-sqlite3's prepared statement on SQLite, a named (server-side
 * prepared) statement through the pool on PostgreSQL. Write `?` placeholders; PostgreSQL gets
 * `$1, $2, …`. Never inside a transaction: it runs on its own, like `DataSource.query`.
 *
 * On SQLite it still obeys the one writer (sqlite-writer.ts): while a transaction holds the
 * connection, a statement run on it would join that transaction (and read its uncommitted rows),
 * so it waits for the writer like any other statement; when the writer is free it runs at once,
 * synchronously, so nothing else can take the connection in between. Errors are the drivers' own
 * (isUniqueViolation and asDatabaseFault read them as they read TypeORM's wrapped ones).
 *
 * Why: on the verification path TypeORM's query runner (a runner per statement, the writer's
 * wrapper, broadcaster events, QueryFailedError wrapping) cost more than the statements themselves
 * (bench:verify profiles, docs/performance.md).
 */
export class PreparedStatement<Row = Record<string, unknown>> {
  private sqlite?: SqliteStatement;
  private group: Grouped[] | undefined;
  private readonly pgText: string;
  private readonly pgName: string;

  constructor(
    private readonly ds: DataSource,
    private readonly sql: string,
  ) {
    let n = 0;
    this.pgText = sql.replace(/\?/g, () => `$${++n}`);
    this.pgName = `tb_${createHash('sha256').update(this.pgText).digest('hex').slice(0, 24)}`;
  }

  /** The rows the statement returns. */
  async all(params: readonly unknown[]): Promise<Row[]> {
    if (this.ds.options.type === 'postgres') return (await this.pg().query({ name: this.pgName, text: this.pgText, values: [...params] })).rows as Row[];
    return this.onSqlite((s) => s.all(...params) as Row[]);
  }

  /** The number of rows the statement changed. */
  async run(params: readonly unknown[]): Promise<number> {
    if (this.ds.options.type === 'postgres') return (await this.pg().query({ name: this.pgName, text: this.pgText, values: [...params] })).rowCount ?? 0;
    return this.onSqlite((s) => s.run(...params).changes);
  }

  /**
   * `run`, committed together with the other `runGrouped` calls of this statement made in the same
   * turn of the event loop: on SQLite one transaction for the group (one WAL commit instead of one
   * per call: under load this was most of the replay store's cost); each caller still gets its own
   * outcome (its changed-row count, or its own error such as a unique violation, which undoes only
   * its own row) and only once the group is committed. On PostgreSQL, where commits of concurrent
   * connections already overlap, it is `run`.
   */
  runGrouped(params: readonly unknown[]): Promise<number> {
    if (this.ds.options.type === 'postgres') return this.run(params);
    return new Promise<number>((resolve, reject) => {
      if (!this.group) {
        this.group = [];
        setImmediate(() => void this.runGroup());
      }
      this.group.push({ params, resolve, reject });
    });
  }

  private async runGroup(): Promise<void> {
    const group = this.group ?? [];
    this.group = undefined;
    let outcomes: ({ changes: number } | { error: unknown })[];
    try {
      outcomes = await this.onSqlite((s) =>
        this.connection().transaction(() =>
          group.map((g) => {
            try {
              return { changes: s.run(...g.params).changes };
            } catch (error) {
              // A constraint failure aborts only its own statement; the transaction goes on.
              return { error };
            }
          }),
        )(),
      );
    } catch (e) {
      for (const g of group) g.reject(e);
      return;
    }
    // onSqlite counted one statement; the group sent BEGIN, its inserts and COMMIT.
    for (let i = 0; i <= group.length; i++) countStatement();
    outcomes.forEach((o, i) => ('error' in o ? group[i].reject(o.error) : group[i].resolve(o.changes)));
  }

  private pg(): PgPool {
    return (this.ds.driver as unknown as { master: PgPool }).master;
  }

  private async onSqlite<T>(fn: (s: SqliteStatement) => T): Promise<T> {
    // Counted like the query runner's statements (PostgreSQL's are counted by the pool's client).
    countStatement();
    const lock = sqliteWriteLock(this.ds);
    if (!lock || lock.idle) return fn(this.statement());
    // A token of its own: this statement owns the writer for as long as it runs, like a query runner outside a transaction.
    const owner = {};
    await lock.acquire(owner);
    try {
      return fn(this.statement());
    } finally {
      lock.release(owner);
    }
  }

  private statement(): SqliteStatement {
    this.sqlite ??= this.connection().prepare(this.sql);
    return this.sqlite;
  }

  private connection(): SqliteConnection {
    return (this.ds.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
  }
}
