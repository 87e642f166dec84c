import { copyFileSync, existsSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { sqliteTarget } from '@tongban/testkit';
import { CheckpointResult, DataSource, PreparedStatement, SqliteCheckpointer, buildDataSource, openDatabase, runInTransaction, runInTurn, sqliteCheckpointer } from '@tongban/persistence';

const pathOf = () => (sqliteTarget() as { path: string }).path;
const autocheckpoint = (ds: DataSource) => (ds.driver as unknown as { databaseConnection: Database.Database }).databaseConnection.pragma('wal_autocheckpoint', { simple: true });
const nextCheckpoint = (c: SqliteCheckpointer) =>
  new Promise<CheckpointResult>((resolve) => {
    const off = c.onCheckpoint((r) => {
      off();
      resolve(r);
    });
  });
describe('SqliteCheckpointer: WAL checkpoints on a thread of their own', () => {
  const open: DataSource[] = [];
  afterEach(async () => {
    for (const d of open.splice(0)) if (d.isInitialized) await d.destroy();
  });
  const connect = async (path = pathOf()) => {
    const ds = await openDatabase(buildDataSource({ kind: 'sqlite', path }, []));
    open.push(ds);
    await ds.query('CREATE TABLE t (id TEXT PRIMARY KEY, body TEXT NOT NULL)');
    return ds;
  };

  it('takes the checkpoints off the main connection once written to, and copies every committed frame into the database file', async () => {
    const ds = await connect();
    const checkpointer = sqliteCheckpointer(ds)!;
    expect(checkpointer).toBeDefined();
    // The CREATE TABLE above released the writer: the thread starts and the main connection stops checkpointing.
    const first = nextCheckpoint(checkpointer);
    await first;
    expect(checkpointer.active).toBe(true);
    expect(autocheckpoint(ds)).toBe(0);

    // Writes of every path: a TypeORM transaction, a prepared statement, the turn's grouped transaction.
    const insert = new PreparedStatement(ds, 'INSERT INTO t (id, body) VALUES (?, ?)');
    const body = 'x'.repeat(3000);
    await runInTransaction(ds, async (m) => {
      for (let i = 0; i < 200; i++) await m.query('INSERT INTO t (id, body) VALUES (?, ?)', [`tx${i}`, body]);
    });
    await Promise.all(Array.from({ length: 50 }, (_, i) => insert.run([`ps${i}`, body])));
    await Promise.all(Array.from({ length: 50 }, (_, i) => runInTurn(ds, (db) => db.run('INSERT INTO t (id, body) VALUES (?, ?)', [`turn${i}`, body]))));

    // Until the database file alone (a copy without the WAL) holds every committed row: each round
    // waits for the next checkpoint the thread reports, after a statement that nudges it.
    const path = String(ds.options.database);
    const rowsInFile = () => {
      const copy = `${path}.copy`;
      copyFileSync(path, copy);
      const db = new Database(copy, { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
      } finally {
        db.close();
        rmSync(copy);
      }
    };
    let r: CheckpointResult;
    do {
      const next = nextCheckpoint(checkpointer);
      await ds.query('SELECT 1');
      r = await next;
    } while (rowsInFile() !== 300);
    expect(r.log).toBeGreaterThan(0);
    expect(autocheckpoint(ds)).toBe(0);
    expect(statSync(path).size).toBeGreaterThan(300 * 3000);
  });

  it('stops its thread before the main connection closes, which then checkpoints and removes the WAL as without it', async () => {
    const ds = await connect();
    const checkpointer = sqliteCheckpointer(ds)!;
    await nextCheckpoint(checkpointer);
    await ds.query(`INSERT INTO t (id, body) VALUES ('last', 'row')`);
    const path = String(ds.options.database);
    await ds.destroy();
    expect(existsSync(`${path}-wal`)).toBe(false);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.prepare(`SELECT body FROM t WHERE id = 'last'`).get()).toEqual({ body: 'row' });
    } finally {
      db.close();
    }
  });

  it('hands the checkpoints back to the main connection when its thread cannot run', async () => {
    const ds = await connect();
    const connection = (ds.driver as unknown as { databaseConnection: Database.Database }).databaseConnection;
    // A second checkpointer on the same connection whose thread cannot load the driver.
    const broken = new SqliteCheckpointer(String(ds.options.database), connection, { driver: '/nonexistent/better-sqlite3' });
    await nextCheckpoint(sqliteCheckpointer(ds)!);
    expect(autocheckpoint(ds)).toBe(0);
    const failed = new Promise<void>((resolve) => {
      const poll = () => (broken.active || autocheckpoint(ds) === 0 ? setImmediate(poll) : resolve());
      broken.nudge();
      poll();
    });
    await failed;
    expect(broken.active).toBe(false);
    expect(autocheckpoint(ds)).toBe(1000);
    await broken.close();
  });

  it('is not used for an in-memory database', async () => {
    const ds = await openDatabase(buildDataSource({ kind: 'sqlite', path: ':memory:' }, []));
    open.push(ds);
    expect(sqliteCheckpointer(ds)).toBeUndefined();
  });
});
