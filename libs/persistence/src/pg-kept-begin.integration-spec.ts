import { Client } from 'pg';
import { TEST_PG_URL, dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { DataSource, buildDataSource, databaseStatementCount, isUniqueViolation, openDatabase, runInTransaction } from '@tongban/persistence';

const describePg = postgresAvailable() ? describe : describe.skip;

// A transaction's BEGIN goes in the round trip of its first parameterised statement (a BEGIN alone
// was a round trip and a wake-up of the gateway per transaction in bench:cases).
describePg('BEGIN sent with the first statement on PostgreSQL', () => {
  let ds: DataSource;
  let other: Client;
  const target = postgresTarget();
  const seen = async () => (await other.query<{ id: number }>(`SELECT id FROM "${target.schema}".kept ORDER BY id`)).rows.map((r) => r.id);
  beforeAll(async () => {
    ds = await openDatabase(buildDataSource({ ...target, poolSize: 2 }, []));
    await ds.query('CREATE TABLE kept (id int PRIMARY KEY, note text)');
    other = new Client({ connectionString: TEST_PG_URL });
    await other.connect();
  });
  afterAll(async () => {
    await other.end();
    await ds.destroy();
    await dropPostgresSchema(target.schema);
  });

  it('is one round trip with the first statement, and the statement runs inside the transaction', async () => {
    const before = databaseStatementCount();
    await expect(
      runInTransaction(ds, async (tx) => {
        await tx.query('INSERT INTO kept VALUES ($1, $2)', [1, 'a']);
        // Not visible to another session before the COMMIT: the BEGIN ran before the insert.
        expect(await seen()).toEqual([]);
        await tx.query('INSERT INTO kept VALUES ($1, $2)', [2, 'b']);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    // BEGIN + first insert, second insert, ROLLBACK: three round trips, and both inserts undone.
    expect(databaseStatementCount() - before).toBe(3);
    expect(await seen()).toEqual([]);
  });

  it('hands on the statement result (rows, affected count)', async () => {
    const rows = await runInTransaction(ds, (tx) => tx.query<{ id: number }[]>('INSERT INTO kept VALUES ($1, $2), ($3, $4) RETURNING id', [3, 'c', 4, 'd']));
    expect(rows).toEqual([{ id: 3 }, { id: 4 }]);
    const updated = await runInTransaction(ds, (tx) => tx.createQueryBuilder().update('kept').set({ note: 'x' }).where('id >= :id', { id: 3 }).execute());
    expect(updated.affected).toBe(2);
    expect(await seen()).toEqual([3, 4]);
  });

  it('a transaction that runs no statement sends nothing', async () => {
    const before = databaseStatementCount();
    await runInTransaction(ds, async () => undefined);
    await expect(
      runInTransaction(ds, async () => {
        throw new Error('nothing');
      }),
    ).rejects.toThrow('nothing');
    expect(databaseStatementCount() - before).toBe(0);
  });

  it('a first statement that fails leaves the connection clean: the next transaction and autocommit statements run as before', async () => {
    const err: unknown = await runInTransaction(ds, (tx) => tx.query<unknown>('INSERT INTO kept VALUES ($1, $2)', [3, 'dup'])).catch((e: unknown) => e);
    expect(isUniqueViolation(err)).toBe(true);
    await runInTransaction(ds, (tx) => tx.query('INSERT INTO kept VALUES ($1, $2)', [5, 'e']));
    // Outside a transaction (the pool's one connection): committed at once, no BEGIN left over.
    await ds.query('INSERT INTO kept VALUES ($1, $2)', [6, 'f']);
    expect(await seen()).toEqual([3, 4, 5, 6]);
  });

  it('a runner released with its BEGIN kept gives the connection back outside any transaction', async () => {
    const pid = async (q: { query: (s: string) => Promise<{ pid: number }[]> }) => (await q.query('SELECT pg_backend_pid() AS pid'))[0].pid;
    const runner = ds.createQueryRunner();
    await runner.connect();
    const its = await pid(runner);
    await runner.startTransaction();
    await runner.release();
    // The pool hands out the client released last: the one whose BEGIN was kept.
    const again = ds.createQueryRunner();
    await again.connect();
    expect(await pid(again)).toBe(its);
    await again.query('INSERT INTO kept VALUES ($1, $2)', [7, 'g']);
    expect(await seen()).toEqual([3, 4, 5, 6, 7]);
    await again.release();
  });
});
