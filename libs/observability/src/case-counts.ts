import type { DataSource } from 'typeorm';

/** Cases by state, and how many open cases have an open step past its due time. */
export interface CaseCounts {
  byState: Record<string, number>;
  overdue: number;
}

/**
 * Counts the `cases` of this gateway (owned or taken part in) by state, and the overdue ones as
 * `GET /v1/cases?overdue=true` defines them: OPEN with a step in `openStepStatuses` due before `now`.
 */
export async function caseCounts(ds: DataSource, openStepStatuses: readonly string[], now: number): Promise<CaseCounts> {
  const rows = await ds.createQueryBuilder().select('c.state', 'state').addSelect('COUNT(*)', 'n').from('cases', 'c').groupBy('c.state').getRawMany<{ state: string; n: string | number }>();
  const late = await ds
    .createQueryBuilder()
    .select('COUNT(*)', 'n')
    .from('cases', 'c')
    .where(`c.state = 'OPEN'`)
    .andWhere('EXISTS (SELECT 1 FROM case_steps s WHERE s.case_id = c.id AND s.status IN (:...open) AND s.due_at < :now)', { open: [...openStepStatuses], now })
    .getRawOne<{ n: string | number }>();
  const byState: Record<string, number> = { OPEN: 0 };
  for (const r of rows) byState[r.state] = Number(r.n);
  return { byState, overdue: Number(late?.n ?? 0) };
}
