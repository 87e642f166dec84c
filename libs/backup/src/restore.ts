import { basename } from 'node:path';
import { auditHeadOf, checkSqliteBackup, placeSqliteBackup } from './sqlite-backup';
import { runningGatewayPorts } from './gateway-running';
import { CommandResult } from './command-result';
import { RESTORED_LINE, moveCheckpointTrailAside, restoreRefused as fail, restoreStamp } from './restore-steps';

/** What a restore needs to know of the gateway it restores (from its config). */
export interface RestoreTarget {
  code: string;
  sqlitePath: string;
  ports: { what: string; host: string; port: number | null }[];
  checkpointFile: string | null;
}

/** The `backup.restored` audit entry: the restored chain continues from the backup's head with it. */
export interface RestoredRecord {
  subject: string;
  details: Record<string, string | number | boolean>;
}

/**
 * `tongban restore <file>` on SQLite: refuses while the gateway answers on its ports, refuses a
 * backup that fails `backup check` (another gateway, a newer schema, a manifest that does not match),
 * then puts it in place (the old database kept aside), moves the exported checkpoint trail aside (it
 * names checkpoints of entries the restore removes) and calls `record` to append the signed
 * `backup.restored` entry, which also tells the gateway to resynchronise with its peers at start.
 */
export async function restoreSqlite(file: string, t: RestoreTarget, now: Date, record: (r: RestoredRecord) => Promise<void>): Promise<CommandResult> {
  const running = await runningGatewayPorts(t.ports);
  if (running.length) return fail(`a gateway is running on the target (something answers on ${running.join(', ')}): stop it (SIGTERM) before restoring`);
  const report = await checkSqliteBackup(file, t.code);
  if (report.problems.length || !report.manifest) return fail(`refusing to restore ${file}:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`);
  const m = report.manifest;
  const stamp = restoreStamp(now);
  const before = auditHeadOf(t.sqlitePath);
  const { replaced } = await placeSqliteBackup(file, t.sqlitePath, stamp);
  const trailMoved = moveCheckpointTrailAside(t.checkpointFile, stamp);
  const details: Record<string, string | number | boolean> = {
    backup: basename(file).slice(-100),
    backupCreatedAt: m.createdAt,
    restoredHeadSeq: m.audit.seq,
    ...(before ? { replacedHeadSeq: before.seq, lostEntries: Math.max(0, before.seq - m.audit.seq) } : { replacedHeadSeq: 'unreadable' }),
    ...(replaced ? { replacedFile: replaced } : {}),
    ...(trailMoved ? { checkpointTrailMovedTo: trailMoved } : {}),
  };
  await record({ subject: m.createdAt, details });
  const lines = [
    `restored ${file} (backup of ${m.gateway} made ${m.createdAt}, audit head seq ${m.audit.seq}) to ${t.sqlitePath}`,
    replaced ? `the database it replaced is kept at ${replaced}` : 'there was no database at the target',
    before ? `audit entries after the backup, lost with the restore: ${Math.max(0, before.seq - m.audit.seq)} (the replaced file had seq ${before.seq})` : 'the replaced audit trail could not be read',
    ...(trailMoved ? [`the exported checkpoint trail was moved to ${trailMoved}; the gateway starts a new one`] : []),
    RESTORED_LINE,
  ];
  return { stdout: lines.join('\n') + '\n', stderr: '', exitCode: 0 };
}
