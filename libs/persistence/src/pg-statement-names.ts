import { createHash } from 'node:crypto';

/** A parameterised statement run this often by the process becomes a named statement on each connection. */
export const NAME_AFTER_RUNS = 2;
/** Named statements one connection keeps at most (each holds a plan in its backend); later texts run unnamed there. */
export const NAMED_PER_CONNECTION = 200;
/** Texts whose runs are counted at most (cleared when full: one-off texts must not grow it). */
const COUNTED_TEXTS_MAX = 2_000;

/** The server-side name of a statement text: the same text always has the same name (PreparedStatement's too). */
export function pgStatementName(text: string): string {
  return `tb_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
}

const runs = new Map<string, { count: number; name?: string }>();

/**
 * Which statements a PostgreSQL connection sends as named (server-side prepared) statements. An
 * unnamed statement is parsed, analysed and planned by its backend every time it runs; in
 * bench:cases that was most of the backends' time outside COMMIT (parse + bind 3.7 s against 2.0 s
 * of execution in one run's statement log), for a few dozen texts that repeat thousands of times
 * (TypeORM's case loads and the write batches). A text with parameters that has run
 * `NAME_AFTER_RUNS` times in this process is named from then on (one Parse per connection, then
 * Bind/Execute with the cached plan), up to `NAMED_PER_CONNECTION` names per connection. A statement
 * whose result type changed under it (a migration of another replica added a column to a
 * `RETURNING *`) fails once with PostgreSQL's "cached plan must not change result type" and runs
 * unnamed on that connection from then on.
 */
export class StatementNames {
  private readonly named = new Set<string>();
  private readonly dropped = new Set<string>();

  /** The name to send `text` under on this connection, or undefined to send it unnamed. */
  nameFor(text: string, values: unknown): string | undefined {
    if (!Array.isArray(values) || values.length === 0) return undefined;
    let r = runs.get(text);
    if (!r) {
      if (runs.size >= COUNTED_TEXTS_MAX) runs.clear();
      runs.set(text, (r = { count: 0 }));
    }
    if (r.count < NAME_AFTER_RUNS) r.count++;
    if (r.count < NAME_AFTER_RUNS) return undefined;
    r.name ??= pgStatementName(text);
    if (this.dropped.has(r.name)) return undefined;
    if (!this.named.has(r.name)) {
      if (this.named.size >= NAMED_PER_CONNECTION) return undefined;
      this.named.add(r.name);
    }
    return r.name;
  }

  /** Notes a failure of the statement sent as `name`: a plan whose result type changed is never used again here. */
  failed(name: string, e: unknown): void {
    const err = e as { code?: string; message?: string };
    if (err?.code === '0A000' && /cached plan must not change result type/.test(err.message ?? '')) this.dropped.add(name);
  }
}
