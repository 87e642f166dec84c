import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource, DataSourceOptions } from 'typeorm';
import { Client } from 'pg';
import { ConfirmedWriteObserver } from './confirmed-writes';
import { recordDatabaseFault } from './database-faults';
import { MIGRATIONS } from './migrations';
import { countStatement } from './statement-count';
import { StatementNames } from './pg-statement-names';
import { installSqliteWriter } from './sqlite-writer';
import { SQLITE_STATEMENT_CACHE_SIZE, bindIntegersAsParameters } from './sqlite-statements';

/** Where the gateway keeps its state: an embedded SQLite file or a PostgreSQL URL. */
export type DatabaseTarget = { kind: 'sqlite'; path: string; writeWaitMs?: number } | { kind: 'postgres'; url: string; poolSize?: number; schema?: string; applicationName?: string };

// Any 64-bit constant will do: it serialises migration runs of replicas sharing one database.
const MIGRATION_LOCK_ID = 7_415_822_001;
const writeWaits = new WeakMap<DataSource, number>();

/**
 * A pg client that always has an 'error' listener: a backend terminated while the client sits in
 * the pool, or after TypeORM released it, emits 'error' with nobody listening (the process would
 * exit). The pool drops the broken client; the next query gets a fresh one.
 */
class GuardedClient extends Client {
  constructor(config?: ConstructorParameters<typeof Client>[0]) {
    super(config);
    this.on('error', (e) => recordDatabaseFault('connection_lost', e));
    // Every statement is a round trip: counted for tongban_database_statements_total. Repeated
    // parameterised texts (TypeORM's `query(text, values)`) go as named statements (pg-statement-names.ts).
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    const names = new StatementNames();
    (this as { query: unknown }).query = (...args: unknown[]) => {
      countStatement();
      const [text, values, ...rest] = args;
      const name = typeof text === 'string' && rest.length === 0 ? names.nameFor(text, values) : undefined;
      if (!name) return query(...args);
      return (query({ name, text, values }) as Promise<unknown>).catch((e: unknown) => {
        names.failed(name, e);
        throw e;
      });
    };
  }
}

/** Builds (but does not open) the TypeORM data source for a target. Migrations only; never synchronize. */
export function buildDataSource(target: DatabaseTarget, entities: NonNullable<DataSourceOptions['entities']>): DataSource {
  const subscribers: NonNullable<DataSourceOptions['subscribers']> = [ConfirmedWriteObserver];
  const common = { entities, migrations: MIGRATIONS, subscribers, synchronize: false, migrationsRun: false, logging: false } as const;
  let options: DataSourceOptions;
  if (target.kind === 'sqlite') {
    if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
    options = {
      ...common,
      type: 'better-sqlite3',
      database: target.path,
      statementCacheSize: SQLITE_STATEMENT_CACHE_SIZE,
      // WAL + NORMAL: durable at each checkpoint, and readers never block the writer.
      prepareDatabase: (db: { pragma: (s: string) => unknown }) => {
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('busy_timeout = 5000');
        db.pragma('foreign_keys = ON');
      },
    };
  } else {
    // A schema lets several gateways (or test suites) share one PostgreSQL database.
    const searchPath = target.schema ? { options: `-c search_path=${target.schema}` } : {};
    if (target.schema && !/^[a-z_][a-z0-9_]{0,62}$/.test(target.schema)) throw new Error('database schema must match [a-z_][a-z0-9_]*');
    options = {
      ...common,
      type: 'postgres',
      url: target.url,
      schema: target.schema,
      // Operators find the gateway's backends by name (pg_stat_activity.application_name).
      applicationName: target.applicationName,
      // A pool or client 'error' event without a listener kills the process: every one is counted instead.
      poolErrorHandler: (e: unknown) => recordDatabaseFault('connection_lost', e),
      extra: { max: target.poolSize ?? 10, ...searchPath, Client: GuardedClient },
    };
  }
  const ds = new DataSource(options);
  if (target.kind === 'sqlite' && target.writeWaitMs !== undefined) writeWaits.set(ds, target.writeWaitMs);
  return ds;
}

/** Opens the data source and applies pending migrations (under an advisory lock on PostgreSQL). */
export async function openDatabase(ds: DataSource): Promise<DataSource> {
  if (!ds.isInitialized) await ds.initialize();
  if (ds.options.type === 'postgres') {
    const runner = ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
      const schema = (ds.options as { schema?: string }).schema;
      if (schema) await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await ds.runMigrations({ transaction: 'each' });
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
      await runner.release();
    }
  } else {
    await ds.runMigrations({ transaction: 'each' });
    installSqliteWriter(ds, writeWaits.get(ds));
    bindIntegersAsParameters(ds);
  }
  return ds;
}

/** True when the error is a primary-key or unique-constraint violation on either database. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; driverError?: { code?: string } };
  const code = e?.driverError?.code ?? e?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
