import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DomainException } from '@tongban/common';
import { TEST_PG_URL, dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { DataSource, buildDataSource, databaseFaultCounts, isConnectionLost, openDatabase, runInTransaction } from '@tongban/persistence';

describe('isConnectionLost', () => {
  it.each([
    [{ code: '57P01' }, true],
    [{ driverError: { code: '08006' } }, true],
    [{ code: 'ECONNRESET' }, true],
    [{ name: 'QueryRunnerAlreadyReleasedError', message: 'Query runner already released. Cannot run queries anymore.' }, true],
    [new Error('Connection terminated unexpectedly'), true],
    [{ code: '23505' }, false],
    [{ code: '22P02', message: 'invalid input syntax' }, false],
    [new Error('boom'), false],
  ])('%j → %s', (err, lost) => expect(isConnectionLost(err)).toBe(lost));
});

// Backends terminated under the gateway's pool (what a failover or an operator's pg_terminate_backend does).
const pg = postgresAvailable() ? describe : describe.skip;
pg('PostgreSQL backends terminated under the pool', () => {
  const name = `tongban-it-${randomBytes(4).toString('hex')}`;
  const target = { ...postgresTarget(), applicationName: name };
  let ds: DataSource;
  let killer: Client;
  const kill = () => killer.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [name]);

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(target, []));
    await ds.query('CREATE TABLE t (id int PRIMARY KEY)');
    killer = new Client({ connectionString: TEST_PG_URL });
    await killer.connect();
  });
  afterAll(async () => {
    await killer.end();
    await ds.destroy();
    await dropPostgresSchema(target.schema);
  });

  it('idle clients killed: the next transactions open on fresh connections (retried before any work), nothing crashes', async () => {
    await Promise.all([1, 2, 3].map((i) => runInTransaction(ds, (tx) => tx.query('INSERT INTO t VALUES ($1)', [i]))));
    expect(((await kill()).rowCount ?? 0) > 0).toBe(true);
    for (const i of [4, 5, 6]) await runInTransaction(ds, (tx) => tx.query('INSERT INTO t VALUES ($1)', [i]));
    const ids = (await ds.query<{ id: number }[]>('SELECT id FROM t ORDER BY id')).map((r) => r.id);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a backend killed inside a transaction: UNAVAILABLE (DATABASE_UNAVAILABLE), nothing stored, counted', async () => {
    const before = databaseFaultCounts().connection_lost;
    const failed = runInTransaction(ds, async (tx) => {
      await tx.query('INSERT INTO t VALUES (100)');
      await kill();
      await tx.query('SELECT 1');
    });
    await expect(failed).rejects.toBeInstanceOf(DomainException);
    await expect(failed).rejects.toMatchObject({ code: 'UNAVAILABLE', details: { reason: 'DATABASE_UNAVAILABLE' } });
    expect(databaseFaultCounts().connection_lost).toBeGreaterThan(before);
    expect(await ds.query('SELECT id FROM t WHERE id = 100')).toEqual([]);
  });
});
