import type { DataSource } from 'typeorm';

/** Open cases, and how many of them have an open step past its due time. */
export interface CaseCounts {
  open: number;
  overdue: number;
}

/**
 * Counts the OPEN `cases` of this gateway (owned or taken part in), and the overdue ones as
 * `GET /v1/cases?overdue=true` defines them: OPEN with a step in `openStepStatuses` due before `now`.
 * Read at every /metrics scrape, so only what an index on `state` bounds by the open cases: closed
 * cases stay forever, and counting them by state read the whole table at every scrape (80 ms over
 * 200,000 cases on PostgreSQL). Closures are counted as they commit instead
 * (`tongban_cases_closed_total`).
 */
export async function caseCounts(ds: DataSource, openStepStatuses: readonly string[], now: number): Promise<CaseCounts> {
  const open = await ds.createQueryBuilder().select('COUNT(*)', 'n').from('cases', 'c').where(`c.state = 'OPEN'`).getRawOne<{ n: string | number }>();
  const late = await ds
    .createQueryBuilder()
    .select('COUNT(*)', 'n')
    .from('cases', 'c')
    .where(`c.state = 'OPEN'`)
    .andWhere('EXISTS (SELECT 1 FROM case_steps s WHERE s.case_id = c.id AND s.status IN (:...open) AND s.due_at < :now)', { open: [...openStepStatuses], now })
    .getRawOne<{ n: string | number }>();
  return { open: Number(open?.n ?? 0), overdue: Number(late?.n ?? 0) };
}
