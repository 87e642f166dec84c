import { createHash } from 'node:crypto';
import { MIGRATIONS } from '@tongban/persistence';

/** Version of the manifest format; a reader refuses any other. */
export const MANIFEST_FORMAT = 'tongban-backup/1';

/** Where a SQLite backup keeps its manifest (dropped again when it is restored). */
export const MANIFEST_TABLE = 'tongban_backup_manifest';

/** High-water marks of one peer's streams: how many streams, the sum of their highest seq, and a digest of the list. */
export interface StreamMarks {
  streams: number;
  seqTotal: number;
  digest: string;
}

/** What a backup says about the state it holds; everything but `createdAt` and `database` is recomputed by `backup check`. */
export interface BackupFacts {
  gateway: string | null;
  /** Applied migrations: how many, and the newest (by timestamp). */
  schema: { migrations: number; newest: string | null };
  keys: { kid: string; alg: string; status: string }[];
  /** Per peer: the highest seq of each (peer, stream) in our outbox. */
  outbox: Record<string, StreamMarks>;
  /** Per sender: the highest seq of each (sender, stream) in our inbox. */
  inbox: Record<string, StreamMarks>;
  /** Outbox messages not yet delivered. */
  outboxPending: number;
  /** The audit chain head (seq 0, hash null: empty). */
  audit: { seq: number; hash: string | null };
}

export interface BackupManifest extends BackupFacts {
  format: typeof MANIFEST_FORMAT;
  database: 'sqlite' | 'postgres';
  createdAt: string;
  /** Gateway build the backup was made with (package version). */
  tool: string;
}

/** Runs one read-only statement and returns its rows. */
export type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/** Reads the facts of a database (call it inside one snapshot: a read transaction, or a backup copy). */
export async function readFacts(q: Query, gateway: string | null): Promise<BackupFacts> {
  const migrations = await q('SELECT name, timestamp FROM migrations ORDER BY timestamp');
  const keys = await q('SELECT kid, alg, status FROM signing_keys ORDER BY kid');
  const head = await q('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
  const pending = await q("SELECT COUNT(*) AS n FROM outbox_messages WHERE status <> 'DELIVERED'");
  return {
    gateway,
    schema: { migrations: migrations.length, newest: migrations.length ? String(migrations[migrations.length - 1].name) : null },
    keys: keys.map((k) => ({ kid: String(k.kid), alg: String(k.alg), status: String(k.status) })),
    outbox: marks(await q('SELECT peer AS party, stream, MAX(seq) AS seq FROM outbox_messages GROUP BY peer, stream ORDER BY peer, stream')),
    inbox: marks(await q('SELECT sender AS party, stream, MAX(seq) AS seq FROM inbox_messages GROUP BY sender, stream ORDER BY sender, stream')),
    outboxPending: Number(pending[0]?.n ?? 0),
    audit: head.length ? { seq: Number(head[0].seq), hash: (head[0].hash as string | null) ?? null } : { seq: 0, hash: null },
  };
}

function marks(rows: Record<string, unknown>[]): Record<string, StreamMarks> {
  const out: Record<string, { streams: number; seqTotal: number; hash: ReturnType<typeof createHash> }> = {};
  for (const r of rows) {
    const party = String(r.party);
    const m = (out[party] ??= { streams: 0, seqTotal: 0, hash: createHash('sha256') });
    m.streams++;
    m.seqTotal += Number(r.seq);
    m.hash.update(`${String(r.stream)}\t${Number(r.seq)}\n`);
  }
  return Object.fromEntries(Object.entries(out).map(([p, m]) => [p, { streams: m.streams, seqTotal: m.seqTotal, digest: m.hash.digest('base64url') }]));
}

/** Migrations this build knows, by name. */
const KNOWN_MIGRATIONS = new Set(MIGRATIONS.map((m) => m.name));

/**
 * The rules a backup must pass before it may be restored here: readable manifest of our format, the
 * same gateway code, no migration this build does not know (a newer schema), and facts that match
 * the data it holds (`actual`, recomputed from the copy). Returns the problems, each one sentence.
 */
export function manifestProblems(m: BackupManifest, actual: BackupFacts, code: string | null, migrationNames: string[]): string[] {
  const problems: string[] = [];
  if (code && m.gateway !== code) problems.push(`the backup is of gateway ${m.gateway ?? '(unknown)'}, not of this gateway ${code}: refusing another gateway's state`);
  const unknown = migrationNames.filter((n) => !KNOWN_MIGRATIONS.has(n));
  if (unknown.length) problems.push(`the backup has a newer schema than this build (unknown migrations: ${unknown.join(', ')}): restore it with the release that made it`);
  const differs = (what: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) problems.push(`${what} in the manifest does not match the data in the backup (manifest ${JSON.stringify(a)}, data ${JSON.stringify(b)})`);
  };
  differs('schema', m.schema, actual.schema);
  differs('keys', m.keys, actual.keys);
  differs('outbox high-water marks', m.outbox, actual.outbox);
  differs('inbox high-water marks', m.inbox, actual.inbox);
  differs('outboxPending', m.outboxPending, actual.outboxPending);
  differs('audit head', m.audit, actual.audit);
  return problems;
}

/** Parses a manifest's JSON; throws naming the field that is wrong. */
export function parseManifest(text: string): BackupManifest {
  let m: Partial<BackupManifest>;
  try {
    m = JSON.parse(text) as Partial<BackupManifest>;
  } catch {
    throw new Error('manifest: not JSON');
  }
  if (m.format !== MANIFEST_FORMAT) throw new Error(`manifest.format: must be ${MANIFEST_FORMAT} (got ${JSON.stringify(m.format)})`);
  for (const f of ['gateway', 'createdAt', 'schema', 'keys', 'outbox', 'inbox', 'audit'] as const) if (m[f] === undefined) throw new Error(`manifest.${f}: missing`);
  if (m.database !== 'sqlite' && m.database !== 'postgres') throw new Error('manifest.database: must be sqlite or postgres');
  return m as BackupManifest;
}
