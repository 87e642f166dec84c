import { Client } from 'pg';
import { MIGRATIONS } from '@tongban/persistence';
import { Query, readFacts } from './backup-manifest';
import { describeManifest } from './backup-commands';
import { CommandResult } from './command-result';
import { runningGatewayPorts } from './gateway-running';
import { RestoredRecord } from './restore';
import { RESTORED_LINE, moveCheckpointTrailAside, restoreRefused as fail, restoreStamp } from './restore-steps';

/** The gateway whose PostgreSQL database the DBA restored (from its config). */
export interface PostgresRestoreTarget {
  code: string;
  url: string;
  schema?: string;
  /** The gateway's `application_name`; each running replica holds a session named `<it>-wake`. */
  applicationName: string;
  ports: { what: string; host: string; port: number | null }[];
  checkpointFile: string | null;
}

/**
 * Sessions of running replicas of this gateway on the database: every replica keeps one LISTEN
 * session named `<applicationName>-wake` open while it runs (libs/persistence wake-signals), on
 * whichever host it runs. Returns one description per session.
 */
export async function replicaSessions(client: Client, applicationName: string): Promise<string[]> {
  const rows = await client.query<{ pid: number; addr: string | null; since: Date }>(
    'SELECT pid, host(client_addr) AS addr, backend_start AS since FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1 ORDER BY pid',
    [`${applicationName}-wake`.slice(0, 63)],
  );
  return rows.rows.map((r) => `pid ${r.pid} from ${r.addr ?? 'a local socket'} since ${r.since.toISOString()}`);
}

/**
 * `tongban restore --postgres --mark-restored`: run once after the DBA restored the gateway's
 * database (pg_restore of a dump, or PITR), before any replica starts. Refuses while a replica runs
 * (local ports, or a `-wake` session on the database from any host), when the database holds no
 * gateway, a schema newer than this build, or is marked already; then moves the exported checkpoint
 * trail aside and calls `record` to append the signed `backup.restored` entry after the restored
 * chain head — the same state `tongban restore <file>` leaves on SQLite: at start the gateway holds
 * each peer until it has resynchronised with it (docs/operations.md §8.4, §8.5).
 */
export async function markPostgresRestored(t: PostgresRestoreTarget, now: Date, record: (r: RestoredRecord) => Promise<void>): Promise<CommandResult> {
  const running = await runningGatewayPorts(t.ports);
  if (running.length) return fail(`a gateway is running on the target (something answers on ${running.join(', ')}): stop every replica (SIGTERM) before marking the restore`);
  const client = new Client({ connectionString: t.url, application_name: 'tongban-cli-restore', ...(t.schema ? { options: `-c search_path=${t.schema}` } : {}) });
  await client.connect();
  let summary: string;
  let head: { seq: number; at: string | null };
  try {
    const replicas = await replicaSessions(client, t.applicationName);
    if (replicas.length) return fail(`a replica of this gateway is connected to the database (${replicas.join('; ')}): stop every replica (SIGTERM) before marking the restore`);
    const where = t.schema ? `schema ${t.schema}` : 'the search path';
    const tables = await client.query<{ t: string }>("SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('migrations', 'audit_events')");
    if (tables.rows.length < 2)
      return fail(`no gateway database in ${where} of database ${client.database ?? '(default)'} (no migrations or audit_events table): restore the dump there first (docs/operations.md §8.4)`);
    const names = (await client.query<{ name: string }>('SELECT name FROM migrations')).rows.map((r) => r.name);
    const known = new Set(MIGRATIONS.map((m) => m.name));
    const unknown = names.filter((n) => !known.has(n));
    if (unknown.length) return fail(`the restored database has a newer schema than this build (unknown migrations: ${unknown.join(', ')}): mark it with the release that made it`);
    const newest = (await client.query<{ seq: string; at: string; event: string }>('SELECT seq, at, event FROM audit_events ORDER BY seq DESC LIMIT 1')).rows[0];
    if (newest?.event === 'backup.restored') return fail(`the newest audit entry (seq ${newest.seq}) is backup.restored already: this restore is marked; start the gateway`);
    head = newest ? { seq: Number(newest.seq), at: new Date(Number(newest.at)).toISOString() } : { seq: 0, at: null };
    const query: Query = async (sql) => (await client.query(sql)).rows as Record<string, unknown>[];
    const facts = await readFacts(query, t.code);
    summary = describeManifest({ ...facts, format: 'tongban-backup/1', database: 'postgres', createdAt: head.at ?? '(empty audit trail)', tool: 'the restored database' });
  } finally {
    await client.end();
  }
  const trailMoved = moveCheckpointTrailAside(t.checkpointFile, restoreStamp(now));
  await record({
    subject: head.at ?? `audit seq ${head.seq}`,
    details: {
      database: 'postgres',
      restoredHeadSeq: head.seq,
      ...(head.at ? { restoredHeadAt: head.at } : {}),
      replacedHeadSeq: 'unknown (restored by the DBA)',
      ...(trailMoved ? { checkpointTrailMovedTo: trailMoved } : {}),
    },
  });
  const lines = [
    `marked the PostgreSQL database of ${t.code} as restored; its newest audit entry before the mark: seq ${head.seq}${head.at ? ` at ${head.at}` : ''}`,
    summary.replace(/^gateway .*\n/, ''),
    ...(trailMoved ? [`the exported checkpoint trail was moved to ${trailMoved}; the gateway starts a new one`] : []),
    RESTORED_LINE,
  ];
  return { stdout: lines.join('\n') + '\n', stderr: '', exitCode: 0 };
}
