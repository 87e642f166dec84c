import { EntityManager } from 'typeorm';

/**
 * Serialises transactions that decide on the same thing (`key` names the kind of decision, `scope`
 * the thing, e.g. one API client's webhooks) until the calling transaction ends: a transaction-level
 * advisory lock on PostgreSQL, keyed also by the schema so gateways sharing a database do not wait
 * for each other. On SQLite nothing to do: one writer runs one transaction at a time.
 */
export async function lockForTransaction(tx: EntityManager, key: number, scope: string): Promise<void> {
  if (tx.connection.options.type !== 'postgres') return;
  await tx.query(`SELECT pg_advisory_xact_lock($1::int, hashtext(current_schema() || '/' || $2))`, [key, scope]);
}
