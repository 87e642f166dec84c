import { Client } from 'pg';
import { TEST_PG_URL, dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { QueryRunner } from 'typeorm';
import { DataSource, PreparedStatement, buildDataSource, openDatabase } from '@tongban/persistence';
import { NAMED_PER_CONNECTION, pgStatementName } from './pg-statement-names';

const describePg = postgresAvailable() ? describe : describe.skip;

// A repeated parameterised statement is planned once per connection, not at every run
// (bench:cases: parse and plan were most of the PostgreSQL backends' time outside COMMIT).
describePg('named statements on PostgreSQL', () => {
  let ds: DataSource;
  // One connection throughout (the pool's are many): prepared statements belong to a connection.
  let db: QueryRunner;
  const target = postgresTarget();
  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(target, []));
    db = ds.createQueryRunner();
    await db.connect();
    await db.query('CREATE TABLE named (id int PRIMARY KEY, note text)');
    await db.query("INSERT INTO named VALUES (1, 'one'), (2, 'two')");
  });
  afterAll(async () => {
    await db.release();
    await ds.destroy();
    await dropPostgresSchema(target.schema);
  });

  /** The statements prepared on the pool's one connection, by name. */
  const prepared = async (): Promise<Map<string, string>> => {
    const rows = (await db.query('SELECT name, statement FROM pg_prepared_statements')) as { name: string; statement: string }[];
    return new Map(rows.map((r) => [r.name, r.statement]));
  };

  it('sends a parameterised text unnamed at its first run, named from its second, with the same rows', async () => {
    const sql = 'SELECT note FROM named WHERE id = $1 AND note <> $2';
    expect(await db.query(sql, [1, 'x'])).toEqual([{ note: 'one' }]);
    expect((await prepared()).has(pgStatementName(sql))).toBe(false);
    expect(await db.query(sql, [2, 'x'])).toEqual([{ note: 'two' }]);
    expect((await prepared()).get(pgStatementName(sql))).toBe(sql);
    await db.startTransaction();
    expect(await db.query(sql, [1, 'one'])).toEqual([]);
    await db.commitTransaction();
    expect([...(await prepared()).values()].filter((s) => s === sql)).toHaveLength(1);
  });

  it('leaves statements without parameters unnamed, and names a text as a PreparedStatement of it does', async () => {
    const plain = 'SELECT count(*)::int AS n FROM named';
    for (let i = 0; i < 3; i++) expect(await db.query(plain)).toEqual([{ n: 2 }]);
    expect([...(await prepared()).values()]).not.toContain(plain);
    const sql = 'SELECT id FROM named WHERE note = $1';
    expect(await new PreparedStatement(ds, 'SELECT id FROM named WHERE note = ?').all(['two'])).toEqual([{ id: 2 }]);
    for (let i = 0; i < 3; i++) expect(await db.query(sql, ['two'])).toEqual([{ id: 2 }]);
    expect((await prepared()).get(pgStatementName(sql))).toBe(sql);
  });

  it('runs a statement unnamed after its result type changed under it (a column added by another process)', async () => {
    await db.query('CREATE TABLE widened (id int PRIMARY KEY)');
    await db.query('INSERT INTO widened VALUES (1)');
    const sql = 'SELECT * FROM widened WHERE id = $1';
    await db.query(sql, [1]);
    expect(await db.query(sql, [1])).toEqual([{ id: 1 }]);
    const other = new Client({ connectionString: TEST_PG_URL });
    await other.connect();
    try {
      await other.query(`ALTER TABLE "${target.schema}".widened ADD COLUMN extra text DEFAULT 'x'`);
    } finally {
      await other.end();
    }
    await expect(db.query(sql, [1])).rejects.toThrow(/cached plan must not change result type/);
    expect(await db.query(sql, [1])).toEqual([{ id: 1, extra: 'x' }]);
    expect(await db.query(sql, [1])).toEqual([{ id: 1, extra: 'x' }]);
  });

  it(`names at most ${NAMED_PER_CONNECTION} texts per connection; the rest run unnamed`, async () => {
    for (let i = 0; i < NAMED_PER_CONNECTION + 10; i++) {
      const sql = `SELECT $1::int + ${i} AS v`;
      await db.query(sql, [1]);
      expect(await db.query(sql, [1])).toEqual([{ v: 1 + i }]);
    }
    const names = [...(await prepared()).keys()].filter((n) => n.startsWith('tb_'));
    // The earlier tests' names on this connection count too.
    expect(names).toHaveLength(NAMED_PER_CONNECTION);
  });
});
