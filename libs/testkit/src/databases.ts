import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DatabaseTarget } from '@tongban/persistence';

/** PostgreSQL used by integration tests (CI: 127.0.0.1:5432, user postgres, database test). */
export const TEST_PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Whether test/global-setup.js reached PostgreSQL (it fails the run in CI when it cannot). */
export function postgresAvailable(): boolean {
  return process.env.TEST_PG_AVAILABLE === '1';
}

/** A fresh SQLite file in a new temp folder. */
export function sqliteTarget(): DatabaseTarget {
  return { kind: 'sqlite', path: join(mkdtempSync(join(tmpdir(), 'tongban-it-')), 'test.sqlite') };
}

/** A fresh PostgreSQL schema on the test database (dropped by `dropPostgresSchema`). */
export function postgresTarget(): DatabaseTarget & { kind: 'postgres'; schema: string } {
  return { kind: 'postgres', url: TEST_PG_URL, schema: `it_${randomBytes(6).toString('hex')}`, poolSize: 5 };
}

/** Runs one statement on the test database in a connection of its own (CREATE/DROP of a test's own schema or database). */
export async function onTestDatabase(sql: string): Promise<void> {
  const client = new Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Drops a schema made by `postgresTarget`. */
export async function dropPostgresSchema(schema: string): Promise<void> {
  await onTestDatabase(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

/**
 * Runs the same suite against SQLite and PostgreSQL: `describeEachDatabase('x', (fresh) => …)`.
 * `fresh()` gives a new empty database per call. The PostgreSQL variant is skipped, loudly,
 * only when no server is reachable outside CI.
 */
export function describeEachDatabase(name: string, suite: (fresh: () => DatabaseTarget, kind: 'sqlite' | 'postgres') => void): void {
  describe(`${name} [sqlite]`, () => suite(sqliteTarget, 'sqlite'));
  const pg = postgresAvailable() ? describe : describe.skip;
  pg(`${name} [postgres]`, () => {
    const schemas: string[] = [];
    afterAll(async () => {
      for (const s of schemas) await dropPostgresSchema(s);
    });
    suite(() => {
      const t = postgresTarget();
      schemas.push(t.schema);
      return t;
    }, 'postgres');
  });
}
