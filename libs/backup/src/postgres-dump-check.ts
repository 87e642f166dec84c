import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '@tongban/persistence';
import { BackupFacts, readFacts } from './backup-manifest';
import { parseCopyHeader, parseCopyRow } from './copy-text';

/** The columns `readFacts` reads, per table (a dump's other tables and columns are never loaded). */
const FACT_COLUMNS: Record<string, Record<string, 'INTEGER' | 'TEXT'>> = {
  migrations: { timestamp: 'INTEGER', name: 'TEXT' },
  signing_keys: { kid: 'TEXT', alg: 'TEXT', status: 'TEXT' },
  audit_events: { seq: 'INTEGER', hash: 'TEXT' },
  outbox_messages: { peer: 'TEXT', stream: 'TEXT', seq: 'INTEGER', status: 'TEXT' },
  inbox_messages: { sender: 'TEXT', stream: 'TEXT', seq: 'INTEGER' },
};

/** What `backup check` found in a PostgreSQL dump. */
export interface PostgresDumpReport {
  schema?: string;
  createdAt?: string;
  facts?: BackupFacts;
  problems: string[];
}

/** True when `file` starts like a pg_dump custom-format archive. */
export function isPgDump(file: string): boolean {
  if (!existsSync(file)) return false;
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(5);
    return readSync(fd, head, 0, 5, 0) === 5 && head.toString('latin1') === 'PGDMP';
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks a pg_dump custom-format archive of a gateway without restoring it (read-only, needs
 * `pg_restore` on PATH): the archive reads; it holds one gateway schema (or `schema`); that schema has
 * no migration this build does not know; and its facts (keys, outbox/inbox high-water marks, audit
 * head) are computed from the dumped rows, streamed through `pg_restore --data-only` into a scratch
 * in-memory table set. A dump has no manifest: the gateway code is not known from it.
 */
export async function checkPostgresDump(file: string, schema: string | undefined): Promise<PostgresDumpReport> {
  let list: string;
  try {
    list = (await promisify(execFile)('pg_restore', ['--list', file], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (e) {
    return { problems: [`${file}: pg_restore --list failed: ${String((e as { stderr?: string }).stderr ?? (e as Error).message).trim()}`] };
  }
  const createdAt = /^; Archive created at (.+)$/m.exec(list)?.[1];
  const schemas = [...list.matchAll(/ TABLE DATA (\S+) audit_events /g)].map((m) => m[1]);
  const chosen = schema ?? (schemas.length === 1 ? schemas[0] : undefined);
  if (!chosen || !schemas.includes(chosen)) {
    const found = schemas.length ? `schemas with gateway data: ${schemas.join(', ')}` : 'no table audit_events';
    return {
      createdAt,
      problems: [`${file}: ${schema ? `no gateway data in schema ${schema}` : 'not one gateway in the archive'} (${found})${schemas.length > 1 ? ': configure TONGBAN_DATABASE_SCHEMA' : ''}`],
    };
  }
  const db = new Database(':memory:');
  try {
    for (const [t, cols] of Object.entries(FACT_COLUMNS))
      db.exec(
        `CREATE TABLE ${t} (${Object.entries(cols)
          .map(([c, type]) => `${c} ${type}`)
          .join(', ')})`,
      );
    const loaded = await loadFacts(file, chosen, db);
    const missing = Object.keys(FACT_COLUMNS).filter((t) => !loaded.has(t));
    if (missing.length) return { schema: chosen, createdAt, problems: [`${file}: no data for ${missing.join(', ')} in schema ${chosen}: not a dump of a gateway`] };
    const facts = await readFacts((sql) => Promise.resolve(db.prepare(sql).all() as Record<string, unknown>[]), null);
    const known = new Set(MIGRATIONS.map((m) => m.name));
    const unknown = (db.prepare('SELECT name FROM migrations').all() as { name: string }[]).map((r) => r.name).filter((n) => !known.has(n));
    const problems = unknown.length ? [`the dump has a newer schema than this build (unknown migrations: ${unknown.join(', ')}): restore it with the release that made it`] : [];
    return { schema: chosen, createdAt, facts, problems };
  } catch (e) {
    return { schema: chosen, createdAt, problems: [`${file}: ${(e as Error).message}`] };
  } finally {
    db.close();
  }
}

/** Streams the rows of the fact tables of `schema` from the archive into `db`; returns the tables seen. */
async function loadFacts(file: string, schema: string, db: InstanceType<typeof Database>): Promise<Set<string>> {
  const args = ['--data-only', '--file', '-', '--schema', schema, ...Object.keys(FACT_COLUMNS).flatMap((t) => ['--table', t]), file];
  const child = spawn('pg_restore', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const seen = new Set<string>();
  db.exec('BEGIN');
  let insert: ((row: (string | null)[]) => void) | undefined;
  for await (const line of createInterface({ input: child.stdout, crlfDelay: Infinity })) {
    if (insert) {
      if (line === '\\.') insert = undefined;
      else insert(parseCopyRow(line));
      continue;
    }
    const header = parseCopyHeader(line);
    const wanted = header && FACT_COLUMNS[header.table];
    if (!header || !wanted) continue;
    seen.add(header.table);
    const cols = Object.keys(wanted);
    const at = cols.map((c) => header.columns.indexOf(c));
    if (at.some((i) => i < 0)) throw new Error(`table ${header.table} in the dump lacks a column of ${cols.join(', ')}`);
    const stmt = db.prepare(`INSERT INTO ${header.table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
    insert = (row) => stmt.run(at.map((i) => row[i]));
  }
  db.exec('COMMIT');
  const code = await exited;
  if (code !== 0) throw new Error(`pg_restore --data-only exited with ${code}: ${stderr.trim().slice(0, 500)}`);
  return seen;
}
