import type { DataSource } from 'typeorm';

/**
 * Inserts `n` rows with i = 1..n (generate_series, PostgreSQL): `values` gives SQL expressions of
 * `i` for some columns; every other NOT NULL column without a default gets a placeholder of its type.
 */
export async function seedRows(ds: DataSource, table: string, n: number, values: Record<string, string>): Promise<void> {
  const cols = await ds.query<{ column_name: string; data_type: string }[]>(
    `SELECT column_name, data_type FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name = $1 AND is_nullable = 'NO' AND column_default IS NULL`,
    [table],
  );
  const all = { ...Object.fromEntries(cols.map((c) => [c.column_name, /int|numeric/.test(c.data_type) ? '0' : c.data_type === 'boolean' ? 'false' : `'x'`])), ...values };
  const names = Object.keys(all);
  await ds.query(`INSERT INTO ${table} (${names.map((c) => `"${c}"`).join(', ')}) SELECT ${names.map((c) => all[c]).join(', ')} FROM generate_series(1, ${n}) AS g(i)`);
}

/** A node of PostgreSQL's `EXPLAIN (ANALYZE, FORMAT JSON)`. */
export interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Join Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/** Rows every node of the plan produced or threw away, times its loops: the work of a statement, machine-independent. */
export function rowsTouched(node: PlanNode): number {
  const own =
    ((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Join Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) * (node['Actual Loops'] ?? 1);
  return own + (node.Plans ?? []).reduce((s, p) => s + rowsTouched(p), 0);
}

/** The executed plan of `sql` with `params` (PostgreSQL). */
export async function explainAnalyze(ds: DataSource, sql: string, params: unknown[] = []): Promise<PlanNode> {
  const [row] = await ds.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }[]>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params);
  return row['QUERY PLAN'][0].Plan;
}
