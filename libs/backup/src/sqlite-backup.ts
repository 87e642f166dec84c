import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { BackupFacts, BackupManifest, MANIFEST_FORMAT, MANIFEST_TABLE, Query, manifestProblems, parseManifest, readFacts } from './backup-manifest';

type Db = InstanceType<typeof Database>;

const query =
  (db: Db): Query =>
  (sql) =>
    Promise.resolve(db.prepare(sql).all() as Record<string, unknown>[]);

/**
 * Copies a live gateway database to `dest` with SQLite's online backup API and writes the manifest
 * into the copy. The copy is made in one backup step: one read transaction on a WAL snapshot, so the
 * gateway keeps writing meanwhile (WAL readers never block the writer) and the copy is of one
 * instant; in several steps, every write of the gateway would restart the copy. The manifest is
 * computed from the copy itself, so it describes exactly what was copied.
 */
export async function backupSqlite(source: string, dest: string, o: { code: string; tool: string; now: Date }): Promise<BackupManifest> {
  if (!existsSync(source)) throw new Error(`no database at ${source} (TONGBAN_SQLITE_PATH)`);
  if (existsSync(dest)) throw new Error(`${dest} exists: a backup is never written over a file`);
  const partial = `${dest}.partial`;
  rmSync(partial, { force: true });
  const src = new Database(source, { readonly: true, fileMustExist: true });
  try {
    src.pragma('busy_timeout = 5000');
    await src.backup(partial, { progress: () => 0x7fffffff });
  } finally {
    src.close();
  }
  const copy = new Database(partial);
  let manifest: BackupManifest;
  try {
    // A standalone file: no -wal beside it once this connection closes.
    copy.pragma('journal_mode = DELETE');
    const facts = await readFacts(query(copy), o.code);
    manifest = { format: MANIFEST_FORMAT, database: 'sqlite', createdAt: o.now.toISOString(), tool: o.tool, ...facts };
    copy.exec(`CREATE TABLE ${MANIFEST_TABLE} (manifest TEXT NOT NULL)`);
    copy.prepare(`INSERT INTO ${MANIFEST_TABLE} (manifest) VALUES (?)`).run(JSON.stringify(manifest));
  } finally {
    copy.close();
  }
  const fd = openSync(partial, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(partial, dest);
  return manifest;
}

/** What `backup check` found in a SQLite backup file. */
export interface SqliteBackupReport {
  manifest?: BackupManifest;
  actual?: BackupFacts;
  problems: string[];
}

/** Checks a SQLite backup file (read-only): integrity, manifest, and the rules of manifestProblems. */
export async function checkSqliteBackup(file: string, code: string | null): Promise<SqliteBackupReport> {
  if (!existsSync(file)) return { problems: [`${file}: no such file`] };
  let db: Db;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (e) {
    return { problems: [`${file}: not a SQLite database (${(e as Error).message})`] };
  }
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    if (integrity !== 'ok') return { problems: [`${file}: SQLite integrity check failed: ${integrity}`] };
    const table = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?`).get(MANIFEST_TABLE);
    if (!table) return { problems: [`${file}: no manifest (${MANIFEST_TABLE}): not a backup made by tongban backup`] };
    const row = db.prepare(`SELECT manifest FROM ${MANIFEST_TABLE}`).get() as { manifest: string } | undefined;
    let manifest: BackupManifest;
    try {
      manifest = parseManifest(row?.manifest ?? '');
    } catch (e) {
      return { problems: [`${file}: ${(e as Error).message}`] };
    }
    const actual = await readFacts(query(db), manifest.gateway);
    const names = (db.prepare('SELECT name FROM migrations').all() as { name: string }[]).map((r) => r.name);
    return { manifest, actual, problems: manifestProblems(manifest, actual, code, names) };
  } catch (e) {
    return { problems: [`${file}: ${(e as Error).message}`] };
  } finally {
    db.close();
  }
}

/** The audit head of a database file, or undefined when it cannot be read (a broken disk). */
export function auditHeadOf(file: string): { seq: number; hash: string | null } | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const r = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1').get() as { seq: number; hash: string | null } | undefined;
      return r ? { seq: Number(r.seq), hash: r.hash } : { seq: 0, hash: null };
    } finally {
      db.close();
    }
  } catch {
    return undefined;
  }
}

/**
 * Puts a checked backup in place of the database at `target`: the database there (with its -wal and
 * -shm) is renamed to `<target>.replaced-<stamp>` (never deleted), the backup is copied beside it,
 * its manifest table dropped, and the copy renamed to `target`. Returns where the old file went.
 */
export async function placeSqliteBackup(file: string, target: string, stamp: string): Promise<{ replaced: string | null }> {
  const restoring = `${target}.restoring`;
  rmSync(restoring, { force: true });
  const src = new Database(file, { readonly: true, fileMustExist: true });
  try {
    await src.backup(restoring, { progress: () => 0x7fffffff });
  } finally {
    src.close();
  }
  const copy = new Database(restoring);
  try {
    copy.exec(`DROP TABLE ${MANIFEST_TABLE}`);
    copy.pragma('journal_mode = WAL');
  } finally {
    copy.close();
  }
  let replaced: string | null = null;
  if (existsSync(target)) {
    replaced = `${target}.replaced-${stamp}`;
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(target + suffix)) renameSync(target + suffix, replaced + suffix);
  }
  renameSync(restoring, target);
  return { replaced };
}
