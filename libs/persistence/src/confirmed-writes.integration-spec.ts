import { DomainException } from '@tongban/common';
import { describeEachDatabase } from '@tongban/testkit';
import { ConfirmedWrites, DataSource, buildDataSource, countingWrites, countingWritesNow, databaseFaultAfterWrites, openDatabase, runInTransaction } from '@tongban/persistence';

// What a request stored decides what its 503 may promise: the count comes from the database's own
// confirmations (COMMIT, a lone changing statement), seen on both backends.
describeEachDatabase('confirmed writes', (fresh) => {
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
