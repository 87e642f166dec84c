import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { describeEachDatabase } from '@tongban/testkit';
import { DataSource, WriteBatch, buildDataSource, databaseStatementCount, epochMs, jsonText, openDatabase, pendingWrites, runInTransaction } from '@tongban/persistence';

@Entity('wb_parents')
class Parent {
  @PrimaryColumn({ type: 'varchar', length: 20 }) id: string;
  @Column({ type: 'integer' }) n: number;
  @Column({ name: 'data_json', type: 'text', nullable: true, transformer: jsonText }) data: Record<string, string> | null;
}

@Entity('wb_children')
class Child {
  @PrimaryColumn({ name: 'parent_id', type: 'varchar', length: 20 }) parentId: string;
  @PrimaryColumn({ type: 'integer' }) idx: number;
  @Column({ type: 'varchar', length: 20 }) status: string;
}

@Entity('wb_events')
class Event {
  @PrimaryGeneratedColumn('increment') seq: number;
  @Column({ type: 'bigint', transformer: epochMs }) at: Date;
  @Column({ name: 'done_at', type: 'bigint', nullable: true, transformer: epochMs }) doneAt: Date | null;
  @Column({ type: 'boolean', default: false }) flag: boolean;
  @Column({ type: 'real', nullable: true }) ratio: number | null;
  @Column({ type: 'varchar', length: 20, nullable: true }) note: string | null;
}

// The case unit of work writes a transaction's case, steps and history through a WriteBatch: on
// PostgreSQL in one statement, so each part sees the snapshot from before it — what one part
// writes another must never need to see.
describeEachDatabase('WriteBatch', (fresh, kind) => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [Parent, Child, Event]));
    await ds.query('CREATE TABLE wb_parents (id varchar(20) PRIMARY KEY, n integer NOT NULL, data_json text)');
    await ds.query(
      `CREATE TABLE wb_events (seq ${kind === 'postgres' ? 'serial' : 'integer'} PRIMARY KEY${kind === 'postgres' ? '' : ' AUTOINCREMENT'}, at bigint NOT NULL, done_at bigint, flag boolean NOT NULL DEFAULT false, ratio real, note varchar(20))`,
    );
    await ds.query('CREATE TABLE wb_children (parent_id varchar(20) NOT NULL REFERENCES wb_parents (id), idx integer NOT NULL, status varchar(20) NOT NULL, PRIMARY KEY (parent_id, idx))');
  });
  afterAll(() => ds.destroy());

  const children = async (id: string) => (await ds.getRepository(Child).find({ where: { parentId: id }, order: { idx: 'ASC' } })).map((c) => `${c.idx}:${c.status}`);

  it('writes a parent, its children and later changes to them (merged into the insert) in one statement on PostgreSQL', async () => {
    const before = databaseStatementCount();
    await runInTransaction(ds, async (tx) => {
      const b = new WriteBatch(tx);
      b.insert(Parent, { id: 'p1', n: 1, data: null });
      b.insert(Child, [
        { parentId: 'p1', idx: 0, status: 'WAITING' },
        { parentId: 'p1', idx: 1, status: 'WAITING' },
      ]);
      b.update(Child, { parentId: 'p1', idx: 0 }, { status: 'ASSIGNED' });
      b.update(Parent, { id: 'p1' }, { data: { a: '1' } });
      await b.flush();
    });
    // BEGIN, the writes, COMMIT: on SQLite one statement per table written.
    expect(databaseStatementCount() - before).toBe(kind === 'postgres' ? 3 : 4);
    const p = await ds.getRepository(Parent).findOneByOrFail({ id: 'p1' });
    expect(p).toMatchObject({ n: 1, data: { a: '1' } });
    expect(await children('p1')).toEqual(['0:ASSIGNED', '1:WAITING']);
  });

  it('merges updates of one row (each part of a PostgreSQL statement would see the row as before it) and keeps the others apart', async () => {
    await runInTransaction(ds, async (tx) => {
      const b = new WriteBatch(tx);
      b.update(Child, { parentId: 'p1', idx: 0 }, { status: 'COMPLETED' });
      b.update(Parent, { id: 'p1' }, { n: 2 });
      b.update(Child, { parentId: 'p1', idx: 1 }, { status: 'ASSIGNED' });
      b.update(Parent, { id: 'p1' }, { data: { b: '2' } });
      await b.flush();
    });
    expect(await ds.getRepository(Parent).findOneByOrFail({ id: 'p1' })).toMatchObject({ n: 2, data: { b: '2' } });
    expect(await children('p1')).toEqual(['0:COMPLETED', '1:ASSIGNED']);
  });

  it('checks constraints as separate statements would: a child of no parent fails the whole batch and nothing is stored', async () => {
    await expect(
      runInTransaction(ds, async (tx) => {
        const b = new WriteBatch(tx);
        b.insert(Parent, { id: 'p2', n: 1, data: null });
        b.insert(Child, { parentId: 'nobody', idx: 0, status: 'WAITING' });
        await b.flush();
      }),
    ).rejects.toThrow();
    expect(await ds.getRepository(Parent).findOneBy({ id: 'p2' })).toBeNull();
  });

  it('refuses an update by anything but the whole primary key (it could touch rows the batch cannot merge)', async () => {
    await runInTransaction(ds, async (tx) => {
      const b = new WriteBatch(tx);
      expect(() => b.update(Child, { parentId: 'p1' }, { status: 'CANCELLED' })).toThrow(/primary key \(parentId, idx\)/);
      await b.flush();
    });
    expect(await children('p1')).toEqual(['0:COMPLETED', '1:ASSIGNED']);
  });

  it("pendingWrites: a transaction's kept writes go out before its COMMIT; a savepoint's are undone with it, the outer ones stay", async () => {
    await runInTransaction(ds, async (tx) => {
      pendingWrites(tx).insert(Parent, { id: 'p3', n: 1, data: null });
      await expect(
        runInTransaction(tx, (inner) => {
          pendingWrites(inner).update(Parent, { id: 'p3' }, { n: 99 });
          pendingWrites(inner).insert(Child, { parentId: 'p3', idx: 0, status: 'WAITING' });
          return Promise.reject(new Error('inner work failed'));
        }),
      ).rejects.toThrow('inner work failed');
      pendingWrites(tx).insert(Child, { parentId: 'p3', idx: 1, status: 'ASSIGNED' });
    });
    expect(await ds.getRepository(Parent).findOneByOrFail({ id: 'p3' })).toMatchObject({ n: 1 });
    expect(await children('p3')).toEqual(['1:ASSIGNED']);
    expect(() => pendingWrites(ds.manager)).toThrow(/runInTransaction/);
  });

  it('a kept write that fails at the commit (unique violation) rolls the whole transaction back', async () => {
    await expect(
      runInTransaction(ds, async (tx) => {
        await tx.getRepository(Child).insert({ parentId: 'p1', idx: 7, status: 'WAITING' });
        pendingWrites(tx).insert(Parent, { id: 'p1', n: 5, data: null });
      }),
    ).rejects.toThrow();
    expect(await children('p1')).toEqual(['0:COMPLETED', '1:ASSIGNED']);
  });

  // The batch writes its own SQL (not TypeORM's query builders): rows must come out as a repository writes them.
  it('writes rows as a repository would: transformers, booleans, defaults, generated keys, fractions, nulls', async () => {
    const at = new Date(1_796_312_520_275);
    await ds.getRepository(Event).insert([
      { at, doneAt: null, flag: true, ratio: 0.25, note: 'repo' },
      { at, doneAt: at, ratio: null, note: null },
    ]);
    await runInTransaction(ds, async (tx) => {
      pendingWrites(tx).insert(Event, [
        { at, doneAt: null, flag: true, ratio: 0.25, note: 'batch' },
        { at, doneAt: at, ratio: null, note: null },
      ]);
    });
    await runInTransaction(ds, async (tx) => {
      pendingWrites(tx).update(Event, { seq: 3 }, { note: 'batch!', flag: false, doneAt: new Date(at.getTime() + 1), ratio: undefined });
      pendingWrites(tx).update(Event, { seq: 4 }, { flag: true, ratio: 2 });
    });
    await ds.getRepository(Event).update({ seq: 1 }, { note: 'repo!', flag: false, doneAt: new Date(at.getTime() + 1), ratio: undefined });
    await ds.getRepository(Event).update({ seq: 2 }, { flag: true, ratio: 2 });
    const rows = await ds.getRepository(Event).find({ order: { seq: 'ASC' } });
    const strip = (e: Event) => ({ ...e, seq: undefined, note: e.note?.replace(/repo|batch/, '') });
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(strip(rows[2])).toEqual(strip(rows[0]));
    expect(strip(rows[3])).toEqual(strip(rows[1]));
    expect(rows[0]).toMatchObject({ at, doneAt: new Date(at.getTime() + 1), flag: false, ratio: 0.25 });
    expect(rows[1]).toMatchObject({ at, doneAt: at, flag: true, ratio: 2, note: null });
    const types = await ds.query<Record<string, unknown>[]>(
      kind === 'postgres'
        ? 'SELECT seq, pg_typeof(at)::text AS at FROM wb_events ORDER BY seq'
        : 'SELECT seq, typeof(at) AS at, typeof(flag) AS flag, typeof(ratio) AS ratio FROM wb_events ORDER BY seq',
    );
    expect(types.map((t) => ({ ...t, seq: undefined }))).toEqual([types[0], types[1], types[0], types[1]].map((t) => ({ ...t, seq: undefined })));
  });

  it.each([
    ['an Invalid Date', { at: new Date(Number.NaN) }],
    ['a NaN number', { ratio: Number.NaN }],
    ['an infinite number', { ratio: Number.POSITIVE_INFINITY }],
  ])('refuses %s on both databases (better-sqlite3 would have stored NULL), and writes nothing', async (_what, bad) => {
    const count = () => ds.getRepository(Event).count();
    const before = await count();
    await expect(
      runInTransaction(ds, async (tx) => {
        const b = new WriteBatch(tx);
        b.insert(Event, { at: new Date(), doneAt: null, flag: false, ratio: null, note: 'bad value', ...bad });
        await b.flush();
      }),
    ).rejects.toThrow();
    expect(await count()).toBe(before);
  });
});
