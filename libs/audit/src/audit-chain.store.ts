import { DataSource, EntityManager } from 'typeorm';
import { AuditChainCheckpoint, AuditChainRow } from './audit-chain';
import { AuditChainReport, AuditChainVerifier, AuditChainVerifyOptions } from './audit-chain.verifier';

/**
 * Raw SQL for the chain, shared by AuditLog and the offline verifier. Raw (not repositories) so that
 * seq is inserted explicitly on PostgreSQL too (TypeORM leaves an increment column to its sequence),
 * and so that a data source need not register AuditCheckpointEntity.
 */

// First key of pg_advisory_xact_lock(int, int); the second is the schema, so gateways sharing one
// PostgreSQL database in different schemas do not wait for each other.
const CHAIN_LOCK_KEY = 7_415_823;
const INSERT_CHUNK = 200;

export const ENTRY_COLUMNS = ['seq', 'at', 'event', 'actor', 'subject', 'outcome', 'reason', 'message_id', 'details', 'prev_hash', 'hash', 'hash_alg'] as const;

/**
 * One entry with its chain fields, ready to insert: a stored row's shape with exact types. Its
 * `prevHash` is null only when chaining onto a head written around the log (which has no hash).
 */
export interface ChainedEntry extends AuditChainRow {
  seq: number;
  at: number;
  hash: string;
  hashAlg: string | null;
}

type Querier = Pick<EntityManager, 'query'> & { connection: DataSource };

const isPostgres = (q: Querier) => q.connection.options.type === 'postgres';
/** `count` parameter placeholders from parameter `from` (0-based): `$n` on PostgreSQL, `?` on SQLite; `cast(i)` types the i-th on PostgreSQL. */
const placeholderList = (postgres: boolean, from: number, count: number, cast?: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => (postgres ? `$${from + i + 1}${cast ? `::${cast(i)}` : ''}` : '?')).join(', ');
const placeholders = (q: Querier, from: number, count: number) => placeholderList(isPostgres(q), from, count);
/** The VALUES tuples of `rows` audit entries (ENTRY_COLUMNS each). */
const entryValues = (rows: number, postgres: boolean, cast?: (i: number) => string) =>
  Array.from({ length: rows }, (_, k) => `(${placeholderList(postgres, k * ENTRY_COLUMNS.length, ENTRY_COLUMNS.length, cast)})`).join(', ');
const entryParams = (chunk: ChainedEntry[]) => chunk.flatMap((e) => [e.seq, e.at, e.event, e.actor, e.subject, e.outcome, e.reason, e.messageId, e.details, e.prevHash, e.hash, e.hashAlg]);

/** Serialises appenders across replicas (PostgreSQL); SQLite transactions are serialised already. */
export async function lockChain(tx: Querier): Promise<void> {
  if (isPostgres(tx)) await tx.query(`SELECT pg_advisory_xact_lock(${CHAIN_LOCK_KEY}, hashtext(current_schema()))`);
}

/** The statement that reads the chain head (`headOf` reads its rows). */
export const HEAD_SQL = 'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1';

/** The chain head from the rows of HEAD_SQL: undefined for an empty log. */
export function headOf(rows: { seq: number | string; hash: string | null }[]): { seq: number; hash: string | null } | undefined {
  return rows.length ? { seq: Number(rows[0].seq), hash: rows[0].hash } : undefined;
}

/** The last entry's seq and hash, or undefined for an empty log. */
export async function readHead(tx: Querier): Promise<{ seq: number; hash: string | null } | undefined> {
  return headOf(await tx.query(HEAD_SQL));
}

/** The statements that insert chained entries with their explicit seq values (`$n` placeholders on PostgreSQL, else `?`). */
export function entryInserts(entries: ChainedEntry[], postgres: boolean): { sql: string; params: unknown[] }[] {
  const columns = ENTRY_COLUMNS.join(', ');
  const out: { sql: string; params: unknown[] }[] = [];
  for (let i = 0; i < entries.length; i += INSERT_CHUNK) {
    const chunk = entries.slice(i, i + INSERT_CHUNK);
    out.push({ sql: `INSERT INTO audit_events (${columns}) VALUES ${entryValues(chunk.length, postgres)}`, params: entryParams(chunk) });
  }
  return out;
}

/** How each column's parameter is typed in appendAfterHead's VALUES (there it has no target column to take its type from). */
const COLUMN_CASTS: Record<(typeof ENTRY_COLUMNS)[number], string> = {
  seq: 'bigint',
  at: 'bigint',
  event: 'text',
  actor: 'text',
  subject: 'text',
  outcome: 'text',
  reason: 'text',
  message_id: 'text',
  details: 'text',
  prev_hash: 'text',
  hash: 'text',
  hash_alg: 'text',
};

/**
 * PostgreSQL, outside a transaction: inserts `entries` (at most one INSERT's worth, chained onto
 * `head`) in ONE statement that takes the chain lock (as a transaction's lockChain does, so it waits
 * for a writer that holds it) and inserts only while `head` is still in the log. Returns false when
 * `head` is not there; throws a unique violation when someone appended after it. Either way nothing
 * was written and the caller appends the usual way (lock, read the head, insert).
 */
export async function appendAfterHead(ds: DataSource, head: { seq: number; hash: string }, entries: ChainedEntry[]): Promise<boolean> {
  if (entries.length === 0 || entries.length > INSERT_CHUNK) return false;
  const params = entryParams(entries);
  const n = params.length;
  const values = entryValues(entries.length, true, (i) => COLUMN_CASTS[ENTRY_COLUMNS[i]]);
  const columns = ENTRY_COLUMNS.join(', ');
  const rows: unknown[] = await ds.query(
    `WITH chain_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(${CHAIN_LOCK_KEY}, hashtext(current_schema())))
     INSERT INTO audit_events (${columns})
     SELECT v.* FROM chain_lock, (VALUES ${values}) AS v (${columns})
      WHERE EXISTS (SELECT 1 FROM audit_events WHERE seq = $${n + 1} AND hash = $${n + 2})
     RETURNING seq`,
    [...params, head.seq, head.hash],
  );
  return rows.length === entries.length;
}

/** Inserts chained entries with their explicit seq values. */
export async function insertEntries(tx: Querier, entries: ChainedEntry[]): Promise<void> {
  for (const { sql, params } of entryInserts(entries, isPostgres(tx))) await tx.query(sql, params);
}

/** Seq and signature of the newest checkpoint, or undefined. */
export async function lastCheckpoint(tx: Querier): Promise<{ seq: number; at: number; signature: string } | undefined> {
  const rows: { seq: number | string; at: number | string; signature: string }[] = await tx.query('SELECT seq, at, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1');
  return rows.length ? { seq: Number(rows[0].seq), at: Number(rows[0].at), signature: rows[0].signature } : undefined;
}

export async function insertCheckpoint(tx: Querier, c: { seq: number; hash: string; at: number; signature: string; kid: string }): Promise<void> {
  await tx.query(`INSERT INTO audit_checkpoints (seq, hash, at, signature, kid) VALUES (${placeholders(tx, 0, 5)})`, [c.seq, c.hash, c.at, c.signature, c.kid]);
}

/** Every checkpoint, in seq order. */
export async function readCheckpoints(q: Querier): Promise<AuditChainCheckpoint[]> {
  const rows: { seq: number | string; hash: string; at: number | string; signature: string; kid: string }[] = await q.query('SELECT seq, hash, at, signature, kid FROM audit_checkpoints ORDER BY seq');
  return rows.map((r) => ({ seq: Number(r.seq), hash: r.hash, at: Number(r.at), signature: r.signature, kid: r.kid }));
}

/** Up to `limit` entries after `afterSeq` (from the start when undefined), in seq order. */
export async function readEntries(q: Querier, afterSeq: number | undefined, limit: number): Promise<AuditChainRow[]> {
  const select = `SELECT ${ENTRY_COLUMNS.join(', ')} FROM audit_events`;
  const rows: Record<(typeof ENTRY_COLUMNS)[number], string | number | null>[] =
    afterSeq === undefined
      ? await q.query(`${select} ORDER BY seq LIMIT ${Number(limit)}`)
      : await q.query(`${select} WHERE seq > ${placeholders(q, 0, 1)} ORDER BY seq LIMIT ${Number(limit)}`, [afterSeq]);
  return rows.map((r) => ({
    seq: Number(r.seq),
    at: Number(r.at),
    event: r.event as string,
    actor: r.actor as string,
    subject: r.subject as string,
    outcome: r.outcome as string,
    reason: r.reason as string | null,
    messageId: r.message_id as string | null,
    details: r.details as string | null,
    prevHash: r.prev_hash as string | null,
    hash: r.hash as string | null,
    hashAlg: r.hash_alg as string | null,
  }));
}

/**
 * Verifies the chain stored in `ds` page by page (memory stays flat however long the log is):
 * the offline check behind `tongban audit verify`.
 */
export async function verifyStoredAuditChain(ds: DataSource, options: AuditChainVerifyOptions & { pageSize?: number } = {}): Promise<AuditChainReport> {
  const q = ds.manager as Querier;
  const verifier = new AuditChainVerifier(await readCheckpoints(q), options.exported);
  const pageSize = options.pageSize ?? 5000;
  let after: number | undefined;
  for (;;) {
    const page = await readEntries(q, after, pageSize);
    for (const row of page) verifier.add(row);
    if (page.length < pageSize) break;
    after = Number(page[page.length - 1].seq);
  }
  return verifier.finish(options);
}
