import { DataSource } from 'typeorm';
import { AuditEventEntity } from './audit-event.entity';

/** What the admin console searches the trail by; every field optional, all of them must hold. */
export interface AuditSearch {
  event?: string;
  actor?: string;
  /** Part of the subject (a peer code, a case id, a key id …). */
  subject?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, inclusive. */
  to?: number;
  /** Only entries older than this seq (paging backwards). */
  beforeSeq?: number;
  limit: number;
}

const likeEscaped = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Entries matching `q`, newest first (the console reads the trail from its end). */
export async function searchAudit(ds: DataSource, q: AuditSearch): Promise<AuditEventEntity[]> {
  const qb = ds.getRepository(AuditEventEntity).createQueryBuilder('a').orderBy('a.seq', 'DESC').limit(q.limit);
  if (q.event) qb.andWhere('a.event = :event', { event: q.event });
  if (q.actor) qb.andWhere('a.actor = :actor', { actor: q.actor });
  if (q.subject) qb.andWhere(`a.subject LIKE :subject ESCAPE '\\'`, { subject: likeEscaped(q.subject) });
  if (q.from !== undefined) qb.andWhere('a.at >= :from', { from: q.from });
  if (q.to !== undefined) qb.andWhere('a.at <= :to', { to: q.to });
  if (q.beforeSeq !== undefined) qb.andWhere('a.seq < :before', { before: q.beforeSeq });
  return qb.getMany();
}

/** The newest audit checkpoints (the trail of signed chain heads), newest first; signatures omitted. */
export async function latestAuditCheckpoints(ds: DataSource, limit: number): Promise<{ seq: number; hash: string; at: string; kid: string }[]> {
  const rows = await ds.query<{ seq: number | string; hash: string; at: number | string; kid: string }[]>(
    `SELECT seq, hash, at, kid FROM audit_checkpoints ORDER BY seq DESC LIMIT ${Math.min(Math.max(Math.trunc(limit), 1), 1000)}`,
  );
  return rows.map((r) => ({ seq: Number(r.seq), hash: r.hash, at: new Date(Number(r.at)).toISOString(), kid: r.kid }));
}
