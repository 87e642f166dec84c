import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource, QueryRunner } from 'typeorm';
import { DomainException } from '@tongban/common';
import { recordDatabaseFault } from './database-faults';
import { countStatement } from './statement-count';
import { StatementCache } from './sqlite-statements';

/** How long a transaction or statement waits for the SQLite writer before giving up (503 UNAVAILABLE). */
export const DEFAULT_SQLITE_WRITE_WAIT_MS = 10_000;

/** A programming error in the use of the SQLite writer (never a fault of the database or the caller). */
export class SqliteWriterMisuse extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SqliteWriterMisuse';
  }
}

/** Who holds the writer: a query runner, or a PreparedStatement run's own token. */
type Owner = object;

interface Waiter {
  owner: Owner;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The one writer of a SQLite file. better-sqlite3 gives a process one connection, so at most one
 * query runner may use it at a time: a runner in a transaction owns the lock from BEGIN to
 * COMMIT/ROLLBACK; a runner outside a transaction owns it for one statement. Ownership is the
 * runner object itself, handed explicitly to `acquire`, never inferred from async context.
 * Waiters queue in order and give up after `waitMs` with UNAVAILABLE (503).
 */
export class SqliteWriteLock {
  private holder: Owner | null = null;
  private readonly queue: Waiter[] = [];

  constructor(private readonly waitMs: number) {}

  /** The runner that holds the writer, if any. */
  get heldBy(): Owner | null {
    return this.holder;
  }

  /** Nobody holds the writer and nobody waits: a synchronous statement may run now. */
  get idle(): boolean {
    return this.holder === null && this.queue.length === 0;
  }

  /** Waits for the writer on behalf of `owner`. */
  acquire(owner: Owner): Promise<void> {
    if (this.holder === owner) throw new SqliteWriterMisuse('a query runner asked again for the SQLite writer it already holds');
    if (this.holder === null && this.queue.length === 0) {
      this.holder = owner;
      return Promise.resolve();
    }
    // Diagnosis only (ownership never depends on it), when switched on (diagnoseSelfWaits): work
    // started inside the transaction that holds the writer. Fire-and-forget work (an audit flush, a
    // timer) simply waits for the commit; work that transaction awaits can never get the writer,
    // and is named as the bug it is. Switched off, the same wait ends as DATABASE_BUSY.
    const caller = selfWaits?.getStore();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        owner,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          if (caller !== undefined && caller === this.holder) {
            reject(
              new SqliteWriterMisuse(
                'a transaction waited for itself: database access through the DataSource from inside runInTransaction on the same SQLite file; ' +
                  'use the EntityManager the transaction passed in, and afterCommit() for follow-up work',
              ),
            );
          } else {
            recordDatabaseFault('busy', new Error(`writer busy for ${this.waitMs} ms`));
            reject(new DomainException('UNAVAILABLE', `the database was busy for ${this.waitMs} ms; retry later`, { reason: 'DATABASE_BUSY' }));
          }
        }, this.waitMs),
      };
      waiter.timer.unref?.();
      this.queue.push(waiter);
    });
  }

  /** Hands the writer to the next waiter. */
  release(owner: Owner): void {
    if (this.holder !== owner) throw new SqliteWriterMisuse('a query runner released the SQLite writer it does not hold');
    this.holder = null;
    const next = this.queue.shift();
    if (next) {
      clearTimeout(next.timer);
      this.holder = next.owner;
      next.resolve();
    }
  }
}

// The transaction whose callback is running (set by runInTransaction), only while self-wait
// diagnosis is on: an AsyncLocalStorage, once entered, keeps Node's async hooks on for the whole
// process (a cost on every promise), so a serving gateway never enters one for a diagnostic.
let selfWaits: AsyncLocalStorage<QueryRunner> | undefined;

/**
 * Switches on (tests, debugging) or off (the default) naming a transaction that waits for the
 * writer it holds itself as SqliteWriterMisuse instead of DATABASE_BUSY. Only a diagnostic: who
 * may use the connection is decided by the lock above, never by this.
 */
export function diagnoseSelfWaits(on: boolean): void {
  selfWaits?.disable();
  selfWaits = on ? new AsyncLocalStorage<QueryRunner>() : undefined;
}

/** Runs a transaction's callback as `runner`'s, for self-wait diagnosis when it is on; else just runs it. */
export function asTransactionOf<T>(runner: QueryRunner, fn: () => T): T {
  return selfWaits ? selfWaits.run(runner, fn) : fn();
}

type RunnerInternals = QueryRunner & {
  isReleased: boolean;
  transactionDepth: number;
  stmtCache: Map<string, unknown>;
};

const locks = new WeakMap<DataSource, SqliteWriteLock>();

/** The writer lock of a SQLite data source (undefined for PostgreSQL or before `installSqliteWriter`). */
export function sqliteWriteLock(ds: DataSource): SqliteWriteLock | undefined {
  return locks.get(ds);
}

/**
 * Gives every user of the data source its own query runner over the one better-sqlite3
 * connection (TypeORM hands out one shared runner, so a transaction and an unrelated query could
 * not be told apart), and makes each runner take the writer lock: for a whole transaction, or for
 * one statement outside a transaction. A released runner refuses further queries, so a
 * transaction's EntityManager kept past its end cannot write into someone else's transaction.
 */
export function installSqliteWriter(ds: DataSource, waitMs = DEFAULT_SQLITE_WRITE_WAIT_MS): SqliteWriteLock {
  const existing = locks.get(ds);
  if (existing) return existing;
  const lock = new SqliteWriteLock(waitMs);
  const driver = ds.driver as unknown as { createQueryRunner: (mode: string) => QueryRunner };
  const shared = driver.createQueryRunner('master') as RunnerInternals;
  const Runner = shared.constructor as new (d: unknown) => RunnerInternals;
  // Prepared statements belong to the connection, not to a runner: share one cache (LRU, see sqlite-statements.ts).
  const statements = new StatementCache<unknown>();

  const create = (): QueryRunner => {
    const r = new Runner(driver);
    r.stmtCache = statements;
    let owns = false;
    const take = async () => {
      await lock.acquire(r);
      owns = true;
    };
    const give = () => {
      if (!owns) return;
      owns = false;
      lock.release(r);
    };
    const query = r.query.bind(r) as (...a: unknown[]) => Promise<unknown>;
    r.query = (async (...args: unknown[]) => {
      if (r.isReleased) return query(...args); // throws QueryRunnerAlreadyReleasedError
      countStatement();
      if (owns) return query(...args);
      await take();
      try {
        return await query(...args);
      } finally {
        give();
      }
    }) as QueryRunner['query'];
    const start = r.startTransaction.bind(r);
    r.startTransaction = async (isolation) => {
      const outermost = r.transactionDepth === 0;
      if (outermost) await take();
      try {
        await start(isolation);
      } catch (e) {
        if (outermost) give();
        throw e;
      }
    };
    const commit = r.commitTransaction.bind(r);
    r.commitTransaction = async () => {
      await commit();
      if (!r.isTransactionActive) give();
    };
    const rollback = r.rollbackTransaction.bind(r);
    r.rollbackTransaction = async () => {
      try {
        await rollback();
      } finally {
        if (!r.isTransactionActive) give();
      }
    };
    const release = r.release.bind(r);
    r.release = async () => {
      try {
        if (owns && r.isTransactionActive) await query('ROLLBACK').catch(() => undefined);
      } finally {
        (r as { isTransactionActive: boolean }).isTransactionActive = false;
        r.transactionDepth = 0;
        give();
        r.isReleased = true;
      }
      return release();
    };
    return r;
  };

  driver.createQueryRunner = () => create();
  locks.set(ds, lock);
  return lock;
}
