import { DataSource } from 'typeorm';
import { ConfirmedWrites, countedWritesHere } from './confirmed-writes';
import { sqliteWriteLock } from './sqlite-writer';
import { countStatement } from './statement-count';
import { pgStatementName } from './pg-statement-names';

interface SqliteStatement {
  reader: boolean;
  all(...params: unknown[]): unknown[];
  run(...params: unknown[]): { changes: number };
}
interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  transaction<T>(fn: () => T): () => T;
}
interface TurnItem {
  work: (db: SqliteTurn) => unknown;
  /** Multi-statement work runs in a savepoint of its own; a single statement is atomic already. */
  savepoint: boolean;
  resolve: (value: never) => void;
  reject: (e: unknown) => void;
  /** The counted request that queued it (confirmed-writes.ts), told once the turn committed a change of this item. */
  writes: ConfirmedWrites | undefined;
}

/** Statements for work that runs in a turn's shared SQLite transaction (`runInTurn`): `?` placeholders, run synchronously. */
export interface SqliteTurn {
  /** The rows `sql` returns. */
  all<Row = Record<string, unknown>>(sql: string, params: readonly unknown[]): Row[];
  /** The number of rows `sql` changed. */
  run(sql: string, params: readonly unknown[]): number;
  /** The rows of a statement that returns rows (SELECT, RETURNING), else none. */
  query<Row = Record<string, unknown>>(sql: string, params: readonly unknown[]): Row[];
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
  private readonly pgText: string;
  private readonly pgName: string;
  /** Whether rows it returns are rows it changed (`INSERT … RETURNING`), not a plain read. */
  private readonly returnsChanges: boolean;

  constructor(
    private readonly ds: DataSource,
    private readonly sql: string,
  ) {
    let n = 0;
    this.pgText = sql.replace(/\?/g, () => `$${++n}`);
    this.pgName = pgStatementName(this.pgText);
    this.returnsChanges = !READS.test(sql);
  }

  /** The rows the statement returns. */
  async all(params: readonly unknown[]): Promise<Row[]> {
    const rows =
      this.ds.options.type === 'postgres'
        ? ((await this.pg().query({ name: this.pgName, text: this.pgText, values: [...params] })).rows as Row[])
        : await this.onSqlite((s) => s.all(...params) as Row[]);
    if (this.returnsChanges) confirmed(rows.length);
    return rows;
  }

  /** The number of rows the statement changed. */
  async run(params: readonly unknown[]): Promise<number> {
    const changes =
      this.ds.options.type === 'postgres'
        ? ((await this.pg().query({ name: this.pgName, text: this.pgText, values: [...params] })).rowCount ?? 0)
        : await this.onSqlite((s) => s.run(...params).changes);
    // A lone statement is its own commit.
    confirmed(changes);
    return changes;
  }

  /**
   * `run`, committed together with the other grouped writes of the same turn of the event loop
   * (`runInTurn`): on SQLite one transaction for the turn's writes (one WAL commit instead of one
   * per call: under load this was most of the replay store's cost); each caller still gets its own
   * outcome (its changed-row count, or its own error such as a unique violation, which undoes only
   * its own row) and only once the group is committed. On PostgreSQL, where commits of concurrent
   * connections already overlap, it is `run`.
   */
  runGrouped(params: readonly unknown[]): Promise<number> {
    if (this.ds.options.type === 'postgres') return this.run(params);
    return queueTurn(this.ds, (turn) => turn.run(this.sql, params), false);
  }

  private pg(): PgPool {
    return (this.ds.driver as unknown as { master: PgPool }).master;
  }

  private async onSqlite<T>(fn: (s: SqliteStatement) => T): Promise<T> {
    // Counted like the query runner's statements (PostgreSQL's are counted by the pool's client).
    countStatement();
    return withSqliteWriter(this.ds, () => fn(this.statement()));
  }

  private statement(): SqliteStatement {
    this.sqlite ??= connectionOf(this.ds).prepare(this.sql);
    return this.sqlite;
  }
}

/** A statement that only reads: what it returns was not changed by it. */
const READS = /^\s*(SELECT|VALUES)\b/i;

/** Tells the counted request running here (if any) that the database confirmed `changed` rows of its own. */
function confirmed(changed: number, writes = countedWritesHere()): void {
  if (writes && changed > 0) writes.count++;
}

function connectionOf(ds: DataSource): SqliteConnection {
  return (ds.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
}

/** Runs synchronous `fn` while it owns the SQLite writer: at once when the writer is free, else after waiting for it. */
async function withSqliteWriter<T>(ds: DataSource, fn: () => T): Promise<T> {
  const lock = sqliteWriteLock(ds);
  if (!lock || lock.idle) return fn();
  // A token of its own: `fn` owns the writer for as long as it runs, like a query runner outside a transaction.
  const owner = {};
  await lock.acquire(owner);
  try {
    return fn();
  } finally {
    lock.release(owner);
  }
}

const turns = new WeakMap<DataSource, TurnItem[]>();
/** Statements prepared for turn work, per connection and SQL text (bounded: cleared when full). */
const turnStatements = new WeakMap<SqliteConnection, Map<string, SqliteStatement>>();
const TURN_STATEMENTS_MAX = 200;

/**
 * Runs `work` on SQLite inside the one write transaction of this turn of the event loop, shared
 * with the turn's other grouped writes (`runGrouped` statements, other `runInTurn` work: the replay
 * store's inserts and the status-list assignments of a turn leave in one commit). `work` runs
 * synchronously in a savepoint of its own: when it throws, its writes are undone and only its
 * caller gets the error. Resolves once the turn's transaction committed. SQLite only; on
 * PostgreSQL use `runInTransaction`.
 */
export function runInTurn<T>(ds: DataSource, work: (db: SqliteTurn) => T): Promise<T> {
  if (ds.options.type === 'postgres') throw new Error('runInTurn is for SQLite; use runInTransaction on PostgreSQL');
  return queueTurn(ds, work, true);
}

function queueTurn<T>(ds: DataSource, work: (db: SqliteTurn) => T, savepoint: boolean): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let group = turns.get(ds);
    if (!group) {
      turns.set(ds, (group = []));
      setImmediate(() => void runTurn(ds));
    }
    group.push({ work, savepoint, resolve, reject, writes: countedWritesHere() });
  });
}

async function runTurn(ds: DataSource): Promise<void> {
  const group = turns.get(ds) ?? [];
  turns.delete(ds);
  const db = connectionOf(ds);
  let statements = 0;
  // Rows changed by the item running now (work runs synchronously, one item after the other).
  let changed = 0;
  const prepared = (sql: string): SqliteStatement => {
    let cache = turnStatements.get(db);
    if (!cache) turnStatements.set(db, (cache = new Map<string, SqliteStatement>()));
    let s = cache.get(sql);
    if (!s) {
      if (cache.size >= TURN_STATEMENTS_MAX) cache.clear();
      cache.set(sql, (s = db.prepare(sql)));
    }
    statements++;
    return s;
  };
  const turn: SqliteTurn = {
    all: <Row>(sql: string, params: readonly unknown[]) => {
      const rows = prepared(sql).all(...params) as Row[];
      if (!READS.test(sql)) changed += rows.length;
      return rows;
    },
    run: (sql: string, params: readonly unknown[]) => {
      const n = prepared(sql).run(...params).changes;
      changed += n;
      return n;
    },
    query: <Row>(sql: string, params: readonly unknown[]) => {
      const s = prepared(sql);
      if (!s.reader) {
        changed += s.run(...params).changes;
        return [];
      }
      const rows = s.all(...params) as Row[];
      if (!READS.test(sql)) changed += rows.length;
      return rows;
    },
  };
  let outcomes: ({ value: unknown; changed: number } | { error: unknown })[];
  try {
    outcomes = await withSqliteWriter(ds, () =>
      db.transaction(() =>
        group.map((g) => {
          changed = 0;
          try {
            if (!g.savepoint) return { value: g.work(turn), changed };
            statements += 2; // SAVEPOINT, RELEASE
            return { value: db.transaction(() => g.work(turn))(), changed };
          } catch (error) {
            // A constraint failure aborts only its own statement (or savepoint); the transaction goes on.
            return { error };
          }
        }),
      )(),
    );
  } catch (e) {
    for (const g of group) g.reject(e);
    return;
  } finally {
    // Every statement the group sent, BEGIN and COMMIT included.
    for (let i = 0; i < statements + 2; i++) countStatement();
  }
  outcomes.forEach((o, i) => {
    if ('error' in o) return group[i].reject(o.error);
    // Committed: the item's changes are stored.
    confirmed(o.changed, group[i].writes);
    group[i].resolve(o.value as never);
  });
}
