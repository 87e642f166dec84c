import { Logger } from '@nestjs/common';
import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { DomainException } from '@tongban/common';
import { asDatabaseFault, databaseUnavailable, isConnectionLost } from './database-faults';
import { asTransactionOf } from './sqlite-writer';
import { WriteBatch } from './write-batch';

const logger = new Logger('Transaction');

// After-commit callbacks per running transaction, one list per (save)point level.
const hooks = new WeakMap<QueryRunner, (() => unknown)[][]>();
// Writes kept to the end of a running transaction (or savepoint): `pendingWrites`.
const batches = new WeakMap<QueryRunner, WriteBatch>();

/**
 * The one way to run work in a transaction. `on` is a DataSource (or an EntityManager outside a
 * transaction): a new transaction on its own query runner; or a transaction's EntityManager: a
 * savepoint inside it. `fn` gets the EntityManager to use for every statement of the work.
 * Callbacks registered with `afterCommit` run once the outermost transaction has committed.
 */
export async function runInTransaction<T>(on: DataSource | EntityManager, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
  const outer = on instanceof DataSource ? undefined : on.queryRunner;
  if (outer?.isTransactionActive) return savepoint(outer, fn);
  const ds = on instanceof DataSource ? on : on.connection;
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(ds, fn);
    } catch (e) {
      // Lost before the work began (connect or BEGIN): nothing ran, so trying again is safe.
      if (e instanceof NotStarted && attempt < START_ATTEMPTS) continue;
      throw asDatabaseFault(e instanceof NotStarted ? e.lost : e);
    }
  }
}

// Each dead idle client in the pool can cost one attempt before the pool notices it is gone.
const START_ATTEMPTS = 12;

/** A connection lost while opening the transaction, before `fn` ran. */
class NotStarted extends Error {
  constructor(readonly lost: unknown) {
    super('transaction not started');
  }
}

async function once<T>(ds: DataSource, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
  const runner = ds.createQueryRunner();
  const levels: (() => unknown)[][] = [[]];
  let result: T;
  try {
    try {
      await runner.connect();
      await runner.startTransaction();
    } catch (e) {
      if (isConnectionLost(e)) throw new NotStarted(e);
      throw e;
    }
    hooks.set(runner, levels);
    try {
      result = await asTransactionOf(runner, async () => {
        const r = await fn(runner.manager);
        await batches.get(runner)?.flush();
        return r;
      });
    } catch (e) {
      // The runner lets go of a connection that emitted 'error' (TypeORM releases it at once): whatever
      // the work threw after that (QueryRunnerAlreadyReleased, QueryRunnerProviderAlreadyReleased, a
      // failed query), the cause is the lost connection, and the server rolled the transaction back.
      if (runner.isReleased) throw e instanceof DomainException ? e : databaseUnavailable(e);
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch((r) => logger.warn(`rollback failed: ${(r as Error).message}`));
      throw e;
    }
    // Lost before COMMIT was sent: the server rolled back, nothing is stored.
    if (runner.isReleased) throw databaseUnavailable(new Error('connection lost before COMMIT'));
    try {
      await runner.commitTransaction();
    } catch (e) {
      if (isConnectionLost(e) || runner.isReleased) throw databaseUnavailable(e, true);
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch((r) => logger.warn(`rollback failed: ${(r as Error).message}`));
      throw e;
    }
  } finally {
    hooks.delete(runner);
    batches.delete(runner);
    await runner.release().catch((e) => logger.warn(`release failed: ${(e as Error).message}`));
  }
  for (const cb of levels[0]) schedule(cb);
  return result;
}

async function savepoint<T>(runner: QueryRunner, fn: (tx: EntityManager) => Promise<T>): Promise<T> {
  const levels = hooks.get(runner);
  // The outer transaction's kept writes are its own: written before the savepoint, so rolling
  // back to it undoes only what was kept inside it.
  await batches.get(runner)?.flush();
  await runner.startTransaction();
  levels?.push([]);
  try {
    const result = await fn(runner.manager);
    await batches.get(runner)?.flush();
    await runner.commitTransaction();
    const mine = levels?.pop() ?? [];
    levels?.[levels.length - 1].push(...mine);
    return result;
  } catch (e) {
    levels?.pop();
    batches.get(runner)?.discard();
    await runner.rollbackTransaction();
    throw e;
  }
}

/**
 * Runs `fn` after the transaction of `tx` has committed (never if it rolls back), on a later turn
 * of the event loop, after the transaction's runner was released: a worker nudged from here starts
 * its own transaction, it never joins this one.
 */
export function afterCommit(tx: EntityManager, fn: () => unknown): void {
  const levels = tx.queryRunner ? hooks.get(tx.queryRunner) : undefined;
  if (!levels || !tx.queryRunner?.isTransactionActive) throw new Error('afterCommit needs the EntityManager of a transaction opened by runInTransaction');
  levels[levels.length - 1].push(fn);
}

/**
 * The writes `tx`'s transaction keeps until its commit (see WriteBatch): written just before the
 * COMMIT (or the release of a savepoint), together with what others kept in the same transaction
 * (on PostgreSQL in one statement). Whoever reads a kept row in the transaction flushes first.
 */
export function pendingWrites(tx: EntityManager): WriteBatch {
  const runner = tx.queryRunner;
  if (!runner || !hooks.has(runner) || !runner.isTransactionActive) throw new Error('pendingWrites needs the EntityManager of a transaction opened by runInTransaction');
  let batch = batches.get(runner);
  if (!batch) batches.set(runner, (batch = new WriteBatch(tx)));
  return batch;
}

// On a later turn: the transaction is over, and nothing it holds (its runner, the writer) is
// reachable from here. No async context is carried (the gateway enters none while serving).
function schedule(fn: () => unknown): void {
  setImmediate(() => {
    try {
      void Promise.resolve(fn()).catch((e: unknown) => logger.error(`after-commit work failed: ${(e as Error)?.message ?? String(e)}`));
    } catch (e) {
      logger.error(`after-commit work failed: ${(e as Error)?.message ?? String(e)}`);
    }
  });
}
