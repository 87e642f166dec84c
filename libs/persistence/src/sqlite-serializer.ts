import { AsyncLocalStorage } from 'node:async_hooks';
import { DataSource } from 'typeorm';

/**
 * better-sqlite3 gives TypeORM one connection. Two interleaved `transaction()` calls would then
 * share it ("cannot start a transaction within a transaction"), and a write from outside a
 * transaction would silently join the open one (and vanish with its rollback). This serialises
 * transactions with a mutex and makes queries from outside the running transaction wait for it.
 * Code must use `ds.transaction(...)` (not `repo.save`, which opens its own) for multi-statement work.
 */
export function serializeSqliteAccess(ds: DataSource): void {
  const inside = new AsyncLocalStorage<true>();
  let tail: Promise<unknown> = Promise.resolve();
  let locked = false;
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(async () => {
      locked = true;
      try {
        return await fn();
      } finally {
        locked = false;
      }
    });
    tail = run.catch(() => undefined);
    return run;
  };

  const manager = ds.manager;
  const transaction = manager.transaction.bind(manager) as (...args: unknown[]) => Promise<unknown>;
  (manager as unknown as { transaction: (...args: unknown[]) => Promise<unknown> }).transaction = (...args: unknown[]) =>
    inside.getStore() ? transaction(...args) : exclusive(() => inside.run(true, () => transaction(...args)));

  const runner = ds.driver.createQueryRunner('master');
  const query = runner.query.bind(runner) as (...args: unknown[]) => Promise<unknown>;
  (runner as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) => (inside.getStore() || !locked ? query(...args) : exclusive(() => query(...args)));
}
