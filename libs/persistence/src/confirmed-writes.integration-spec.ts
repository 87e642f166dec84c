import { DomainException } from '@tongban/common';
import { describeEachDatabase } from '@tongban/testkit';
import {
  ConfirmedWrites,
  DataSource,
  PreparedStatement,
  buildDataSource,
  countingWrites,
  countingWritesNow,
  databaseFaultAfterWrites,
  openDatabase,
  runInTransaction,
  runInTurn,
} from '@tongban/persistence';

// What a request stored decides what its 503 may promise: the count comes from the database's own
// confirmations (COMMIT, a lone changing statement), seen on both backends.
describeEachDatabase('confirmed writes', (fresh, kind) => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), []));
    await ds.query('CREATE TABLE w (id int PRIMARY KEY)');
  });
  afterAll(() => ds.destroy());

  const counted = async (fn: () => Promise<unknown>) => {
    const writes = new ConfirmedWrites();
    const counting = countingWrites(writes, fn);
    await counting.result.catch(() => undefined);
    counting.end();
    return writes.count;
  };

  it('counts a committed transaction and a lone INSERT, not reads, not a rolled-back transaction', async () => {
    expect(await counted(() => ds.query('SELECT 1'))).toBe(0);
    expect(await counted(() => runInTransaction(ds, (tx) => tx.query('INSERT INTO w VALUES (1)')))).toBe(1);
    expect(await counted(() => ds.query('INSERT INTO w VALUES (2)'))).toBe(1);
    const failed = () =>
      runInTransaction(ds, async (tx) => {
        await tx.query('INSERT INTO w VALUES (3)');
        throw new Error('rolled back');
      });
    expect(await counted(failed)).toBe(0);
    expect(await counted(() => ds.query('INSERT INTO w VALUES (1)'))).toBe(0); // refused: duplicate key
  });

  // Writes that bypass TypeORM's query runner (the hot path's prepared statements, SQLite's turn
  // transaction: the audit chain, the replay store, status-list assignments) are confirmed too.
  it('counts changes of prepared statements once the database confirmed them, not their reads or refusals', async () => {
    const insert = new PreparedStatement(ds, 'INSERT INTO w VALUES (?)');
    const returning = new PreparedStatement(ds, 'INSERT INTO w VALUES (?) RETURNING id');
    const update = new PreparedStatement(ds, 'UPDATE w SET id = id WHERE id = ?');
    const read = new PreparedStatement(ds, 'SELECT id FROM w WHERE id = ?');
    expect(await counted(() => insert.run([30]))).toBe(1);
    expect(await counted(() => returning.all([31]))).toBe(1);
    expect(await counted(() => read.all([30]))).toBe(0);
    expect(await counted(() => update.run([-1]))).toBe(0); // changed nothing
    expect(await counted(() => insert.run([30]))).toBe(0); // refused: duplicate key
    expect(await counted(() => insert.runGrouped([32]))).toBe(1);
    expect(await counted(() => insert.runGrouped([32]))).toBe(0);
  });

  if (kind === 'sqlite') {
    it("counts a turn's work for the request that queued it, once the turn committed, and only the items that changed rows", async () => {
      const writes = [new ConfirmedWrites(), new ConfirmedWrites(), new ConfirmedWrites()];
      const queued = [
        countingWrites(writes[0], () => runInTurn(ds, (db) => db.run('INSERT INTO w VALUES (?)', [40]))),
        countingWrites(writes[1], () => runInTurn(ds, (db) => db.all('SELECT id FROM w WHERE id = ?', [40]))),
        countingWrites(writes[2], () =>
          runInTurn(ds, (db) => {
            db.run('INSERT INTO w VALUES (?)', [41]);
            throw new Error('undone in its savepoint');
          }),
        ),
      ];
      const settled = await Promise.allSettled(queued.map((q) => q.result));
      queued.forEach((q) => q.end());
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect(writes.map((w) => w.count)).toEqual([1, 0, 0]);
      expect(await ds.query('SELECT id FROM w WHERE id IN (40, 41) ORDER BY id')).toEqual([{ id: 40 }]);
    });
  }

  it('keeps concurrent requests apart', async () => {
    const [a, b] = await Promise.all([counted(() => runInTransaction(ds, (tx) => tx.query('INSERT INTO w VALUES (10)'))), counted(() => ds.query('SELECT * FROM w'))]);
    expect([a, b]).toEqual([1, 0]);
  });

  it('is off once the last counted request ended: nothing counts outside a scope', async () => {
    const writes = new ConfirmedWrites();
    const first = countingWrites(writes, () => undefined);
    const second = countingWrites(new ConfirmedWrites(), () => undefined);
    first.end();
    first.end(); // ending twice (response closed after an abort) counts once
    expect(countingWritesNow()).toBe(true);
    second.end();
    expect(countingWritesNow()).toBe(false);
    await runInTransaction(ds, (tx) => tx.query('INSERT INTO w VALUES (20)'));
    expect(writes.count).toBe(0);
  });
});

describe('databaseFaultAfterWrites', () => {
  const lost = new DomainException('UNAVAILABLE', 'the database connection was lost; nothing was stored: retry later', { reason: 'DATABASE_UNAVAILABLE' });
  const busy = new DomainException('UNAVAILABLE', 'busy', { reason: 'DATABASE_BUSY' });
  const stored = Object.assign(new ConfirmedWrites(), { count: 1 });

  it('after a stored write, a lost or busy database is DATABASE_COMMIT_UNKNOWN, never "nothing was stored"', () => {
    for (const e of [lost, busy, { code: '57P01', message: 'terminating connection due to administrator command' }]) {
      expect(databaseFaultAfterWrites(e, stored)).toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'DATABASE_COMMIT_UNKNOWN' } });
    }
  });

  it('changes nothing when nothing was stored, or for other errors', () => {
    expect(databaseFaultAfterWrites(lost, new ConfirmedWrites())).toBe(lost);
    const conflict = new DomainException('CONFLICT', 'exists');
    expect(databaseFaultAfterWrites(conflict, stored)).toBe(conflict);
    const bug = new Error('boom');
    expect(databaseFaultAfterWrites(bug, stored)).toBe(bug);
  });
});
