import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { EntityManager } from 'typeorm';
import { DomainException } from '@tongban/common';
import { TEST_PG_URL, dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { DataSource, buildDataSource, databaseFaultCounts, isConnectionLost, openDatabase, runInTransaction } from '@tongban/persistence';

describe('isConnectionLost', () => {
  it.each([
    [{ code: '57P01' }, true],
    [{ driverError: { code: '08006' } }, true],
    [{ code: 'ECONNRESET' }, true],
    [{ name: 'QueryRunnerAlreadyReleasedError', message: 'Query runner already released. Cannot run queries anymore.' }, true],
    [{ name: 'QueryRunnerProviderAlreadyReleasedError', message: 'Database connection provided by a query runner was already released, cannot continue to use its querying methods anymore.' }, true],
    [new Error('Connection terminated unexpectedly'), true],
    [{ code: '23505' }, false],
    [{ code: '22P02', message: 'invalid input syntax' }, false],
    [new Error('boom'), false],
  ])('%j → %s', (err, lost) => expect(isConnectionLost(err)).toBe(lost));
});

// Backends terminated under the gateway's pool (what a failover or an operator's pg_terminate_backend does).
// pg_terminate_backend only signals the backend, and the client learns of it on a later turn of the
// event loop: each case waits for the event it depends on (the backend gone, the client's 'error')
// instead of racing it, and reads what is stored through a connection of its own.
const pg = postgresAvailable() ? describe : describe.skip;
pg('PostgreSQL backends terminated under the pool', () => {
  const name = `tongban-it-${randomBytes(4).toString('hex')}`;
  const target = { ...postgresTarget(), applicationName: name };
  let ds: DataSource;
  let killer: Client;

  /** Terminates backends (all of the pool's, or one) and resolves once they have exited. */
  const kill = async (pid?: number): Promise<number[]> => {
    // In the select list, not the WHERE clause: the planner may call a WHERE function on every row.
    const killed = (
      await killer.query<{ pid: number; ok: boolean }>('SELECT pid, pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND ($2::int IS NULL OR pid = $2)', [
        name,
        pid ?? null,
      ])
    ).rows
      .filter((r) => r.ok)
      .map((r) => r.pid);
    for (let i = 0; ; i++) {
      const left = await killer.query('SELECT 1 FROM pg_stat_activity WHERE pid = ANY($1)', [killed]);
      if (!left.rowCount) return killed;
      if (i > 500) throw new Error(`backends ${killed.join(',')} still there`);
    }
  };
  const stored = async () => (await killer.query<{ id: number }>(`SELECT id FROM "${target.schema}".t ORDER BY id`)).rows.map((r) => r.id);
  /** The transaction's backend and a promise of its client's 'error' (after which TypeORM has released the runner). */
  const backendOf = async (tx: EntityManager) => {
    const client = (tx.queryRunner as unknown as { databaseConnection: NodeJS.EventEmitter }).databaseConnection;
    const errored = new Promise((resolve) => client.once('error', resolve));
    const [{ pid }] = await tx.query<{ pid: number }[]>('SELECT pg_backend_pid() AS pid');
    return { pid, errored };
  };
  const unavailable = (reason: string) => ({ code: 'UNAVAILABLE', details: { reason } });

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
    expect((await kill()).length).toBeGreaterThan(0);
    for (const i of [4, 5, 6]) await runInTransaction(ds, (tx) => tx.query('INSERT INTO t VALUES ($1)', [i]));
    expect(await stored()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('killed while a statement runs: UNAVAILABLE (DATABASE_UNAVAILABLE), nothing stored, counted', async () => {
    const before = databaseFaultCounts().connection_lost;
    const failed = runInTransaction(ds, async (tx) => {
      await tx.query('INSERT INTO t VALUES (100)');
      const { pid } = await backendOf(tx);
      await Promise.all([tx.query('SELECT pg_sleep(30)'), kill(pid)]);
    });
    await expect(failed).rejects.toBeInstanceOf(DomainException);
    await expect(failed).rejects.toMatchObject(unavailable('DATABASE_UNAVAILABLE'));
    expect(databaseFaultCounts().connection_lost).toBeGreaterThan(before);
    expect(await stored()).not.toContain(100);
  });

  it('killed between statements (the runner already released when the next one starts): UNAVAILABLE (DATABASE_UNAVAILABLE), nothing stored', async () => {
    const failed = runInTransaction(ds, async (tx) => {
      await tx.query('INSERT INTO t VALUES (101)');
      const { pid, errored } = await backendOf(tx);
      await kill(pid);
      await errored;
      await tx.query('INSERT INTO t VALUES (102)');
    });
    await expect(failed).rejects.toMatchObject(unavailable('DATABASE_UNAVAILABLE'));
    expect(await stored()).toEqual(expect.not.arrayContaining([101, 102]));
  });

  it('killed after the work, before COMMIT was sent: DATABASE_UNAVAILABLE (nothing stored), not DATABASE_COMMIT_UNKNOWN', async () => {
    const failed = runInTransaction(ds, async (tx) => {
      await tx.query('INSERT INTO t VALUES (103)');
      const { pid, errored } = await backendOf(tx);
      await kill(pid);
      await errored;
    });
    await expect(failed).rejects.toMatchObject(unavailable('DATABASE_UNAVAILABLE'));
    expect(await stored()).not.toContain(103);
  });

  it('after all that the pool serves transactions again', async () => {
    await runInTransaction(ds, (tx) => tx.query('INSERT INTO t VALUES (7)'));
    expect(await stored()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });
});
