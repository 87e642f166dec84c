import { createHash } from 'node:crypto';
import { JWS_ALGORITHMS, JwsAlgorithm } from '@tongban/gm';

/** `prev_hash` of the first entry of a chain. */
export const GENESIS_HASH = '0'.repeat(64);

/** Hashes an entry may be chained with (TONGBAN_AUDIT_HASH); SHA-256 is the default. */
export const AUDIT_HASH_ALGS = ['SHA-256', 'SM3'] as const;
export type AuditHashAlg = (typeof AUDIT_HASH_ALGS)[number];

/** JWS `typ` of a signed audit checkpoint; nothing else is signed with it. */
export const AUDIT_CHECKPOINT_TYP = 'tongban-audit-checkpoint+jwt';

/** Algorithms a checkpoint signature may use (the gateway's own signing algorithms). */
export const AUDIT_CHECKPOINT_ALGORITHMS: readonly JwsAlgorithm[] = JWS_ALGORITHMS;

/** One stored audit entry as the chain sees it (entity or raw row; `at` as Date, ms or bigint text). */
export interface AuditChainRow {
  seq: number | string;
  at: Date | number | string;
  event: string;
  actor: string;
  subject: string;
  outcome: string;
  reason: string | null;
  messageId: string | null;
  details: string | null;
  prevHash: string | null;
  hash: string | null;
  /** `hash_alg`: null (or absent) = SHA-256; `SM3`. */
  hashAlg?: string | null;
}

/** One stored checkpoint: the chain head `(seq, hash)` signed by the gateway at `at`. */
export interface AuditChainCheckpoint {
  seq: number | string;
  hash: string;
  at: Date | number | string;
  signature: string;
  kid: string;
}

/** Claims of a checkpoint JWS. */
export interface AuditCheckpointClaims {
  iss?: string;
  seq: number;
  hash: string;
  at: number;
  /**
   * `checkpointLink` of the previous checkpoint (GENESIS_HASH for the first), so that removing a
   * checkpoint breaks the next one. Absent only in checkpoints written before it was introduced.
   */
  prev?: string;
}

export const ms = (at: Date | number | string): number => (at instanceof Date ? at.getTime() : Number(at));

/**
 * The entry hash, lower-case hex. SHA-256 entries (`hash_alg` NULL): SHA-256 of
 * `JSON.stringify([seq, at_ms, event, actor, subject, outcome, reason, message_id, details,
 * prev_hash])`, missing values as null. SM3 entries (`hash_alg` = `SM3`): SM3 (GB/T 32905) of the same
 * array with `"SM3"` appended, so the algorithm is covered by the hash and changing `hash_alg` breaks
 * the entry. Throws on any other `hash_alg`. Changing this breaks every stored chain; the migration
 * that back-filled old rows keeps its own frozen copy.
 */
export function auditEntryHash(row: AuditChainRow): string {
  const fields = [Number(row.seq), ms(row.at), row.event, row.actor, row.subject, row.outcome, row.reason ?? null, row.messageId ?? null, row.details ?? null, row.prevHash ?? null];
  const alg = row.hashAlg ?? null;
  if (alg === null) return createHash('sha256').update(JSON.stringify(fields), 'utf8').digest('hex');
  if (alg === 'SM3')
    return createHash('sm3')
      .update(JSON.stringify([...fields, 'SM3']), 'utf8')
      .digest('hex');
  throw new Error(`unknown hash_alg ${JSON.stringify(alg).slice(0, 20)}`);
}

/** The `hash_alg` column value entries hashed with `alg` are stored with. */
export function hashAlgColumn(alg: AuditHashAlg): string | null {
  return alg === 'SM3' ? 'SM3' : null;
}

/** What the next checkpoint's `prev` claim holds: hex SHA-256 of this checkpoint's compact JWS. */
export function checkpointLink(signature: string): string {
  return createHash('sha256').update(signature, 'utf8').digest('hex');
}
