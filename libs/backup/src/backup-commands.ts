import { BackupManifest, MANIFEST_FORMAT } from './backup-manifest';
import { CommandResult } from './command-result';
import { checkPostgresDump, isPgDump } from './postgres-dump-check';
import { backupSqlite, checkSqliteBackup } from './sqlite-backup';

/** A one-line summary of a manifest. */
export function describeManifest(m: BackupManifest): string {
  const peers = (marks: BackupManifest['outbox']) =>
    Object.entries(marks)
      .map(([p, s]) => `${p}: ${s.streams} streams`)
      .join(', ') || 'none';
  return [
    `gateway ${m.gateway}, ${m.database}, made ${m.createdAt} by ${m.tool}`,
    `schema: ${m.schema.migrations} migrations, newest ${m.schema.newest}`,
    `keys: ${m.keys.map((k) => `${k.kid} (${k.status})`).join(', ') || 'none'}`,
    `outbox: ${peers(m.outbox)}; ${m.outboxPending} not delivered`,
    `inbox: ${peers(m.inbox)}`,
    `audit head: seq ${m.audit.seq} ${m.audit.hash ?? ''}`.trimEnd(),
  ].join('\n');
}

/** `tongban backup --out <file>` on SQLite. */
export async function backupSqliteCommand(source: string, out: string, o: { code: string; tool: string; now: Date }): Promise<CommandResult> {
  const m = await backupSqlite(source, out, o);
  return { stdout: `backup written to ${out}\n${describeManifest(m)}\n`, stderr: '', exitCode: 0 };
}

/**
 * `tongban backup check <file>`: exit 0 when the backup may be restored here, 1 with the problems
 * otherwise. A pg_dump custom-format archive is checked by `checkPostgresDump` (`schema`: the
 * gateway's TONGBAN_DATABASE_SCHEMA, when the dump holds several).
 */
export async function backupCheckCommand(file: string, code: string | null, schema?: string): Promise<CommandResult> {
  if (isPgDump(file)) return pgDumpCheck(file, schema);
  const r = await checkSqliteBackup(file, code);
  if (r.problems.length) return notOk(file, r.problems);
  return { stdout: `backup OK: ${file}\n${describeManifest(r.manifest!)}\n`, stderr: '', exitCode: 0 };
}

async function pgDumpCheck(file: string, schema: string | undefined): Promise<CommandResult> {
  const r = await checkPostgresDump(file, schema);
  if (r.problems.length || !r.facts) return notOk(file, r.problems);
  const summary = describeManifest({ ...r.facts, format: MANIFEST_FORMAT, database: 'postgres', createdAt: r.createdAt ?? '(unknown)', tool: 'pg_dump' }).replace(
    /^gateway null, /,
    `schema ${r.schema}, `,
  );
  return {
    stdout: `pg_dump archive OK: ${file}\n${summary}\nnote: a pg_dump archive has no manifest: the gateway code is not checked, the facts above are computed from its rows\n`,
    stderr: '',
    exitCode: 0,
  };
}

const notOk = (file: string, problems: string[]): CommandResult => ({ stdout: '', stderr: `backup NOT OK: ${file}\n${problems.map((p) => `  - ${p}`).join('\n')}\n`, exitCode: 1 });
