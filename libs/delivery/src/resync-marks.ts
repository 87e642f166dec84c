import { EntityManager } from 'typeorm';
import { RefusalException } from '@tongban/federation';
import { StreamMark } from '@tongban/proto';

/** Type of the outbox row that holds a `seq` floor learnt from a peer after a restore (never sent). */
export const SEQ_FLOOR_TYPE = 'tongban.backup.SeqFloor';

/** The highest seq of each stream in our inbox from `sender`. */
export async function inboxMarks(tx: Pick<EntityManager, 'query' | 'connection'>, sender: string): Promise<StreamMark[]> {
  const [sql, params] = tx.connection.driver.escapeQueryWithParameters('SELECT stream, MAX(seq) AS seq FROM inbox_messages WHERE sender = :sender GROUP BY stream ORDER BY stream', { sender }, {});
  const rows: { stream: string; seq: number | string }[] = await tx.query(sql, params);
  return rows.map((r) => ({ stream: r.stream, seq: String(r.seq) }));
}

/** Marks from a peer as a map; refuses (MALFORMED_PAYLOAD) a stream outside 1–64 characters, a seq that is not a safe integer ≥ 1, or a stream named twice. */
export function parseMarks(marks: StreamMark[], peer: string, field: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [i, m] of marks.entries()) {
    const seq = Number(m.seq);
    if (!m.stream || m.stream.length > 64 || !Number.isSafeInteger(seq) || seq < 1 || out.has(m.stream)) {
      throw new RefusalException('MALFORMED_PAYLOAD', `${field}[${i}]: stream must be 1-64 characters and named once, seq a whole number ≥ 1`, peer);
    }
    out.set(m.stream, seq);
  }
  return out;
}
