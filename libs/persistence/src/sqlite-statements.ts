import { DataSource } from 'typeorm';

/** How many prepared statements the SQLite connection keeps (TypeORM's default is 100). */
export const SQLITE_STATEMENT_CACHE_SIZE = 400;

/**
 * The prepared statements of the SQLite connection, by SQL text, least recently used first: TypeORM's
 * runner evicts the first key once the cache is full, which in a plain Map is the oldest statement
 * however often it runs (a burst of one-off statements would push the hot ones out).
 */
export class StatementCache<S> extends Map<string, S> {
  override get(sql: string): S | undefined {
    const s = super.get(sql);
    if (s !== undefined) {
      super.delete(sql);
      super.set(sql, s);
    }
    return s;
  }
}

type Escape = (sql: string, parameters: Record<string, unknown> | undefined, native: Record<string, unknown>) => [string, unknown[]];

/**
 * Makes TypeORM bind integer parameters on SQLite instead of writing them into the SQL text. Its
 * SQLite driver inlines every number (`"at" = 1796312520275`), so each statement that carries a
 * timestamp, a seq or a step index is new text: prepared again every time (better-sqlite3's
 * prepare was 6 % of a gateway's CPU in bench:cases) and pushing the statements that do repeat out
 * of the cache. A safe integer is bound as a BigInt, which better-sqlite3 binds as a 64-bit
 * INTEGER: the same value and type as the literal it replaces (a plain number would bind as REAL).
 * Other numbers (fractions, NaN, beyond 2^53) are left to TypeORM, inlined as before.
 */
export function bindIntegersAsParameters(ds: DataSource): void {
  if (ds.options.type !== 'better-sqlite3') return;
  const driver = ds.driver as unknown as { escapeQueryWithParameters: Escape };
  const escape = driver.escapeQueryWithParameters.bind(driver);
  driver.escapeQueryWithParameters = (sql, parameters, native) => {
    let bound: Record<string, unknown> | undefined;
    for (const key in parameters ?? {}) {
      if (!parameters) break;
      const v = parameters[key];
      if (typeof v === 'number' && Number.isSafeInteger(v) && Object.prototype.hasOwnProperty.call(parameters, key)) (bound ??= { ...parameters })[key] = BigInt(v);
    }
    return escape(sql, bound ?? parameters, native);
  };
}
