import { BackupManifest } from './backup-manifest';
import { CommandResult } from './command-result';
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

/** `tongban backup check <file>`: exit 0 when the backup may be restored here, 1 with the problems otherwise. */
export async function backupCheckCommand(file: string, code: string | null): Promise<CommandResult> {
  const r = await checkSqliteBackup(file, code);
  if (r.problems.length) return { stdout: '', stderr: `backup NOT OK: ${file}\n${r.problems.map((p) => `  - ${p}`).join('\n')}\n`, exitCode: 1 };
  return { stdout: `backup OK: ${file}\n${describeManifest(r.manifest!)}\n`, stderr: '', exitCode: 0 };
}
