import { Column, Entity, PrimaryColumn } from 'typeorm';
import { DataSource, buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { StatementCache } from './sqlite-statements';

@Entity('ss_rows')
class Row {
  @PrimaryColumn({ type: 'varchar', length: 20 }) id: string;
  @Column({ type: 'bigint' }) at: number;
  @Column({ type: 'varchar', length: 20 }) label: string;
  @Column({ type: 'real', nullable: true }) ratio: number | null;
}

// TypeORM's SQLite driver writes numbers into the SQL text; with a timestamp in nearly every hot
// statement, each was prepared anew. Integers are bound now, as the INTEGER they were.
describe('SQLite statements (integers bound, prepared statements reused)', () => {
  let ds: DataSource;
  let prepared: string[];
  beforeAll(async () => {
    ds = await openDatabase(buildDataSource({ kind: 'sqlite', path: ':memory:' }, [Row]));
    await ds.query('CREATE TABLE ss_rows (id varchar(20) PRIMARY KEY, at bigint NOT NULL, label varchar(20) NOT NULL, ratio real)');
    const db = (ds.driver as unknown as { databaseConnection: { prepare: (sql: string) => unknown } }).databaseConnection;
    const prepare = db.prepare.bind(db);
    prepared = [];
    db.prepare = (sql: string) => {
      prepared.push(sql);
      return prepare(sql);
    };
  });
  afterAll(() => ds.destroy());

  it('prepares an insert and an update once whatever the integers they carry', async () => {
    for (let i = 0; i < 5; i++) {
      await runInTransaction(ds, async (tx) => {
        await tx
          .createQueryBuilder()
          .insert()
          .into(Row)
          .values({ id: `r${i}`, at: 1_796_312_520_275 + i, label: 'x', ratio: null })
          .execute();
        await tx.getRepository(Row).update({ id: `r${i}` }, { at: 1_796_312_520_300 + i });
      });
    }
    const writes = prepared.filter((s) => /^(INSERT|UPDATE)/.test(s));
    expect(writes).toHaveLength(2);
    expect(writes.join('\n')).not.toMatch(/179631252/);
  });

  it('stores and compares bound integers as INTEGER, like the literals they replace; fractions stay as they were', async () => {
    await ds
      .createQueryBuilder()
      .insert()
      .into(Row)
      .values({ id: 'big', at: 2 ** 53 - 1, label: '7', ratio: 0.5 })
      .execute();
    const [r] = await ds.query<{ at: number; t: string; label: string; lt: string; ratio: number }[]>(`SELECT at, typeof(at) AS t, label, typeof(label) AS lt, ratio FROM ss_rows WHERE id = 'big'`);
    expect(r).toEqual({ at: 2 ** 53 - 1, t: 'integer', label: '7', lt: 'text', ratio: 0.5 });
    const found = await ds.getRepository(Row).createQueryBuilder('r').where('r.at >= :from AND r.at < :to', { from: 1_796_312_520_300, to: 1_796_312_520_303 }).orderBy('r.at').getMany();
    expect(found.map((f) => f.id)).toEqual(['r0', 'r1', 'r2']);
    // A number into a text column is stored as the integer literal was: '7', not '7.0'.
    await ds.getRepository(Row).update({ id: 'big' }, { label: 7 as unknown as string });
    expect((await ds.getRepository(Row).findOneByOrFail({ id: 'big' })).label).toBe('7');
  });

  it('evicts the least recently used statement, not the oldest one', () => {
    const cache = new StatementCache<number>();
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    expect(cache.keys().next().value).toBe('b');
  });
});
