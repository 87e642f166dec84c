import { Logger } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { LeasedWorker } from '@tongban/common';
import { sqliteTarget } from '@tongban/testkit';
import { DataSource, SqliteWriterMisuse, afterCommit, buildDataSource, diagnoseSelfWaits, openDatabase, runInTransaction } from '@tongban/persistence';

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

/** A worker of the house kind (LeasedWorker) whose round writes a row in a transaction that then fails. */
class FailingWorker extends LeasedWorker<never> {
  protected readonly logger = new Logger('FailingWorker');
  armed = false;
  readonly attempted = deferred();
  readonly finished = deferred<unknown>();
  constructor(
    private readonly ds: DataSource,
    private readonly failWhen: Promise<void>,
  ) {
    super();
  }
  protected limits() {
    return { concurrency: 1, claimBatch: 1, pollIntervalMs: 3_600_000 };
  }
  protected async claim(): Promise<never[]> {
    if (!this.armed) return [];
    this.armed = false;
    this.attempted.resolve();
    try {
      await runInTransaction(this.ds, async (tx) => {
        await tx.query(`INSERT INTO t (id) VALUES ('worker')`);
        await this.failWhen;
        throw new Error('the worker fails');
      });
    } catch (e) {
      this.finished.resolve(e);
      throw e;
    }
    return [];
  }
  protected process(): Promise<void> {
    return Promise.resolve();
  }
}

describe('SQLite writer: one transaction at a time, owned explicitly', () => {
  let ds: DataSource;
  const rows = async () => (await ds.query<{ id: string }[]>('SELECT id FROM t ORDER BY id')).map((r) => r.id);

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource({ kind: 'sqlite', path: (sqliteTarget() as { path: string }).path, writeWaitMs: 2000 }, []));
    await ds.query('CREATE TABLE t (id TEXT PRIMARY KEY)');
  });
  afterEach(async () => {
    await ds.destroy();
  });

  it('a worker nudged from inside a transaction never joins it: the committed row survives the worker failing (issue 9 item 2)', async () => {
    const committed = deferred();
    const worker = new FailingWorker(ds, committed.promise);
    worker.start();
    try {
      await runInTransaction(ds, async (tx) => {
        await tx.query(`INSERT INTO t (id) VALUES ('request')`);
        worker.armed = true;
        // What CaseTransactions.within used to do: a timer created inside the transaction.
        setImmediate(() => worker.nudge());
        await worker.attempted.promise;
        await nextTurn(); // the worker's BEGIN (or SAVEPOINT) runs now if it can
      });
      committed.resolve();
      expect(await worker.finished.promise).toEqual(new Error('the worker fails'));
      expect(await rows()).toEqual(['request']);
    } finally {
      await worker.stop();
    }
  });

  it('after-commit work starts after COMMIT, outside the transaction: the worker waits its turn and its failure undoes only its own row', async () => {
    const worker = new FailingWorker(ds, Promise.resolve());
    worker.start();
    try {
      await runInTransaction(ds, async (tx) => {
        await tx.query(`INSERT INTO t (id) VALUES ('request')`);
        worker.armed = true;
        afterCommit(tx, () => worker.nudge());
      });
      expect(await worker.finished.promise).toEqual(new Error('the worker fails'));
      expect(await rows()).toEqual(['request']);
    } finally {
      await worker.stop();
    }
  });

  it('after-commit work runs once after the commit and never after a rollback (savepoints included)', async () => {
    const ran: string[] = [];
    const done = deferred();
    await expect(
      runInTransaction(ds, async (tx) => {
        afterCommit(tx, () => ran.push('rolled back'));
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    await runInTransaction(ds, async (tx) => {
      afterCommit(tx, () => ran.push('outer'));
      await runInTransaction(tx, async (inner) => afterCommit(inner, () => ran.push('kept savepoint')));
      await runInTransaction(tx, async (inner) => {
        afterCommit(inner, () => ran.push('rolled back savepoint'));
        throw new Error('inner');
      }).catch(() => undefined);
      afterCommit(tx, () => done.resolve());
      expect(ran).toEqual([]);
    });
    await done.promise;
    expect(ran).toEqual(['outer', 'kept savepoint']);
  });

  it('a savepoint that fails rolls back only its own writes', async () => {
    await runInTransaction(ds, async (tx) => {
      await tx.query(`INSERT INTO t (id) VALUES ('outer')`);
      await expect(
        runInTransaction(tx, async (inner) => {
          await inner.query(`INSERT INTO t (id) VALUES ('inner')`);
          throw new Error('inner');
        }),
      ).rejects.toThrow('inner');
    });
    expect(await rows()).toEqual(['outer']);
  });

  it('a statement from outside waits for the open transaction instead of joining it (and vanishing with its rollback)', async () => {
    const holding = deferred();
    const gate = deferred();
    const first = runInTransaction(ds, async (tx) => {
      await tx.query(`INSERT INTO t (id) VALUES ('doomed')`);
      holding.resolve();
      await gate.promise;
      throw new Error('rolled back');
    });
    await holding.promise;
    const outside = ds.query(`INSERT INTO t (id) VALUES ('outside')`);
    const other = runInTransaction(ds, (tx) => tx.query(`INSERT INTO t (id) VALUES ('other')`));
    await nextTurn();
    gate.resolve();
    await expect(first).rejects.toThrow('rolled back');
    await Promise.all([outside, other]);
    expect(await rows()).toEqual(['other', 'outside']);
  });

  it('a transaction from another owner gives up with UNAVAILABLE after the configured wait', async () => {
    const holding = deferred();
    const gate = deferred();
    const first = runInTransaction(ds, async (tx) => {
      await tx.query(`INSERT INTO t (id) VALUES ('first')`);
      holding.resolve();
      await gate.promise;
    });
    await holding.promise;
    await expect(runInTransaction(ds, (tx) => tx.query(`INSERT INTO t (id) VALUES ('second')`))).rejects.toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'DATABASE_BUSY' } });
    gate.resolve();
    await first;
    expect(await rows()).toEqual(['first']);
  });

  it('waiting for itself is a bug, named as such when the wait ends (self-wait diagnosis on): the DataSource used inside its own transaction', async () => {
    diagnoseSelfWaits(true);
    try {
      await runInTransaction(ds, async (tx) => {
        await tx.query(`INSERT INTO t (id) VALUES ('a')`);
        await expect(ds.query('SELECT 1')).rejects.toBeInstanceOf(SqliteWriterMisuse);
        await expect(runInTransaction(ds, (inner) => inner.query('SELECT 1'))).rejects.toBeInstanceOf(SqliteWriterMisuse);
      });
    } finally {
      diagnoseSelfWaits(false);
    }
    expect(await rows()).toEqual(['a']);
  });

  it('with the diagnosis off (a serving gateway), the same self-wait ends as DATABASE_BUSY', async () => {
    await runInTransaction(ds, async (tx) => {
      await tx.query(`INSERT INTO t (id) VALUES ('a')`);
      await expect(ds.query('SELECT 1')).rejects.toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'DATABASE_BUSY' } });
    });
    expect(await rows()).toEqual(['a']);
  });

  it("a transaction's EntityManager kept past its end is refused, so it cannot write into a later transaction", async () => {
    let kept!: EntityManager;
    await runInTransaction(ds, async (tx) => {
      kept = tx;
      await tx.query(`INSERT INTO t (id) VALUES ('a')`);
    });
    await expect(kept.query(`INSERT INTO t (id) VALUES ('late')`)).rejects.toThrow(/released/i);
    expect(() => afterCommit(kept, () => undefined)).toThrow(/runInTransaction/);
    expect(await rows()).toEqual(['a']);
  });
});
