import { describeEachDatabase } from '@tongban/testkit';
import { DataSource, buildDataSource, databaseStatementCount, openDatabase, runInTransaction } from '@tongban/persistence';

// The cases benchmark divides this counter by the cases completed: it must count every round trip.
describeEachDatabase('database statement counter', (fresh) => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), []));
    await ds.query('CREATE TABLE counted (id int PRIMARY KEY)');
  });
  afterAll(() => ds.destroy());

  it('counts a transaction as BEGIN, each statement, COMMIT; a statement outside one as one', async () => {
    const before = databaseStatementCount();
    await runInTransaction(ds, async (tx) => {
      await tx.query('INSERT INTO counted VALUES (1)');
      await tx.query('INSERT INTO counted VALUES (2)');
    });
    expect(databaseStatementCount() - before).toBe(4);
    await ds.query('SELECT id FROM counted');
    expect(databaseStatementCount() - before).toBe(5);
  });
});
