import { EntityManager } from 'typeorm';

/**
 * The newest `backup.restored` entry (written by `tongban restore`): its seq and time (epoch ms), or
 * undefined when the gateway was never restored. A restored gateway reads it at start to refuse
 * envelopes issued before the restore and to resynchronise with its peers.
 */
export async function lastRestore(q: Pick<EntityManager, 'query'>): Promise<{ seq: number; at: number } | undefined> {
  const rows: { seq: number | string; at: number | string }[] = await q.query(`SELECT seq, at FROM audit_events WHERE event = 'backup.restored' ORDER BY seq DESC LIMIT 1`);
  return rows.length ? { seq: Number(rows[0].seq), at: Number(rows[0].at) } : undefined;
}
