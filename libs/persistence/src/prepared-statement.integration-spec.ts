import { describeEachDatabase, sqliteTarget } from '@tongban/testkit';
import { DataSource, PreparedStatement, buildDataSource, databaseStatementCount, isUniqueViolation, openDatabase, runInTransaction, runInTurn } from '@tongban/persistence';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describeEachDatabase('PreparedStatement', (fresh) => {
  let ds: DataSource;

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource(fresh(), []));
    await ds.query('CREATE TABLE t (id VARCHAR(20) PRIMARY KEY, n INTEGER NOT NULL)');
  });
  afterEach(async () => {
    await ds.destroy();
  });

  it('runs with ? placeholders on either database: rows, changed-row counts, unique violations the house helper recognises', async () => {
    const insert = new PreparedStatement(ds, 'INSERT INTO t (id, n) VALUES (?, ?)');
    const byId = new PreparedStatement<{ id: string; n: number }>(ds, 'SELECT id, n FROM t WHERE id = ?');
    const bump = new PreparedStatement(ds, 'UPDATE t SET n = n + ? WHERE n >= ?');
    expect(await insert.run(['a', 1])).toBe(1);
    expect(await insert.run(['b', 2])).toBe(1);
    const duplicate = await insert.run(['a', 3]).catch((e: unknown) => e);
    expect(isUniqueViolation(duplicate)).toBe(true);
    expect(await byId.all(['a'])).toEqual([{ id: 'a', n: 1 }]);
    expect(await byId.all(['zz'])).toEqual([]);
    expect(await bump.run([10, 1])).toBe(2);
    // A second object with the same SQL (PostgreSQL: the same statement name) works alongside the first.
    expect(await new PreparedStatement<{ id: string; n: number }>(ds, 'SELECT id, n FROM t WHERE id = ?').all(['b'])).toEqual([{ id: 'b', n: 12 }]);
    // Many at once (PostgreSQL: several pool clients, each preparing the statement once).
    await Promise.all(Array.from({ length: 20 }, (_, i) => insert.run([`c${i}`, i])));
    expect((await ds.query<{ c: string | number }[]>('SELECT COUNT(*) AS c FROM t'))[0].c.toString()).toBe('22');
  });

  it('runGrouped: calls of one turn committed together, each with its own outcome; a duplicate fails alone', async () => {
    const insert = new PreparedStatement(ds, 'INSERT INTO t (id, n) VALUES (?, ?)');
    await insert.run(['old', 0]);
    const outcomes = await Promise.all(
      ['g1', 'g2', 'old', 'g3', 'g2'].map((id, i) =>
        insert.runGrouped([id, i]).then(
          (changes) => changes,
          (e: unknown) => (isUniqueViolation(e) ? 'duplicate' : e),
        ),
      ),
    );
    // On PostgreSQL the calls run concurrently: either g2 may be the one refused.
    expect([outcomes[0], outcomes[2], outcomes[3]]).toEqual([1, 'duplicate', 1]);
    expect([outcomes[1], outcomes[4]].sort()).toEqual([1, 'duplicate']);
    expect((await ds.query<{ id: string }[]>('SELECT id FROM t ORDER BY id')).map((r) => r.id)).toEqual(['g1', 'g2', 'g3', 'old']);
    // A later turn is a new group.
    expect(await insert.runGrouped(['g4', 9])).toBe(1);
  });
});

describe('PreparedStatement on SQLite obeys the one writer', () => {
  let ds: DataSource;

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource({ kind: 'sqlite', path: (sqliteTarget() as { path: string }).path, writeWaitMs: 2000 }, []));
    await ds.query('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)');
  });
  afterEach(async () => {
    await ds.destroy();
  });

  it('while a transaction holds the connection, a statement waits for COMMIT: it neither reads the uncommitted row nor joins the transaction', async () => {
    const select = new PreparedStatement<{ id: string }>(ds, 'SELECT id FROM t ORDER BY id');
    const insert = new PreparedStatement(ds, 'INSERT INTO t (id, n) VALUES (?, ?)');
    const inside = deferred();
    const carryOn = deferred();
    const tx = runInTransaction(ds, async (m) => {
      await m.query(`INSERT INTO t (id, n) VALUES ('tx', 1)`);
      inside.resolve();
      await carryOn.promise;
      throw new Error('the transaction fails');
    });
    await inside.promise;
    let read: { id: string }[] | undefined;
    const reading = select.all([]).then((r) => (read = r));
    const writing = insert.run(['outside', 2]);
    await new Promise((r) => setImmediate(r));
    expect(read).toBeUndefined(); // still waiting for the writer
    carryOn.resolve();
    await expect(tx).rejects.toThrow('the transaction fails');
    await reading;
    expect(await writing).toBe(1);
    // The statement ran after the rollback: it never saw 'tx', and its own row was not rolled back with it.
    expect(read).toEqual([]);
    expect(await select.all([])).toEqual([{ id: 'outside' }]);
  });
});

describe('runInTurn (SQLite): the grouped writes of one turn share one transaction', () => {
  let ds: DataSource;

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource(sqliteTarget(), []));
    await ds.query('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)');
  });
  afterEach(async () => {
    await ds.destroy();
  });

  it('runGrouped statements and turn work commit together; work that throws undoes only its own writes', async () => {
    const insert = new PreparedStatement(ds, 'INSERT INTO t (id, n) VALUES (?, ?)');
    const before = databaseStatementCount();
    const grouped = insert.runGrouped(['r1', 1]);
    const work = runInTurn(ds, (db) => {
      db.run('INSERT INTO t (id, n) VALUES (?, ?)', ['w1', 2]);
      // Sees the turn's earlier writes: one transaction.
      return db.query<{ id: string }>('SELECT id FROM t ORDER BY id', []).map((r) => r.id);
    });
    const failing = runInTurn(ds, (db) => {
      db.run('INSERT INTO t (id, n) VALUES (?, ?)', ['gone', 3]);
      db.run('INSERT INTO t (id, n) VALUES (?, ?)', ['r1', 4]); // duplicate: the work fails
    });
    const after = insert.runGrouped(['r2', 5]);
    expect(await grouped).toBe(1);
    expect(await work).toEqual(['r1', 'w1']);
    expect(isUniqueViolation(await failing.catch((e: unknown) => e))).toBe(true);
    expect(await after).toBe(1);
    // 'gone' was undone with its work's savepoint; the others are committed.
    expect((await ds.query<{ id: string }[]>('SELECT id FROM t ORDER BY id')).map((r) => r.id)).toEqual(['r1', 'r2', 'w1']);
    // One BEGIN and COMMIT for the turn, a SAVEPOINT and RELEASE per work, and the six statements sent (the failing one too).
    expect(databaseStatementCount() - before - 1).toBe(2 + 2 * 2 + 6);
  });

  it('is for SQLite only', () => {
    expect(() => runInTurn({ options: { type: 'postgres' } } as DataSource, () => 1)).toThrow(/SQLite/);
  });
});
