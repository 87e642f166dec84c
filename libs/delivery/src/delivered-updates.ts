import { DataSource } from 'typeorm';
import { PreparedStatement } from '@tongban/persistence';

/** One delivery's end: its receipt stored, the lease released. */
export interface Delivered {
  id: string;
  at: number;
  receipt: string;
  lastError: string | null;
}

const SET = `status = 'DELIVERED', lease_owner = NULL, lease_until = NULL, failure_code = NULL, failure_count = 0`;
/** Beyond this many in one turn, the rest go in the next statement (bounded parameter lists). */
const MAX_PER_STATEMENT = 32;

/**
 * Stores the ends of deliveries (the dispatcher's `DELIVERED` update), each only while this
 * dispatcher still holds the message's lease. The updates of one turn of the event loop go out as
 * one statement (`UPDATE … FROM` the turn's rows): receipts of a dispatcher's concurrent deliveries
 * often arrive together; on PostgreSQL each update was a round trip of its own, on SQLite an
 * autocommit statement, so a WAL commit, of its own. Each caller's promise settles with its
 * statement: a failure reaches every message of that statement, which the dispatcher treats as
 * that delivery's failure (it is tried again), as for a statement of its own.
 */
export class DeliveredUpdates {
  private readonly one: PreparedStatement;
  private readonly many = new Map<number, PreparedStatement>();
  private queue: { d: Delivered; resolve: () => void; reject: (e: unknown) => void }[] | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly owner: string,
  ) {
    this.one = new PreparedStatement(ds, `UPDATE outbox_messages SET ${SET}, delivered_at = ?, receipt = ?, last_error = ? WHERE id = ? AND lease_owner = ?`);
  }

  /** Stores `d` with the updates of the same turn; resolves once it is written. */
  store(d: Delivered): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (!this.queue) {
        this.queue = [];
        setImmediate(() => this.flush());
      }
      this.queue.push({ d, resolve, reject });
    });
  }

  private flush(): void {
    const items = this.queue ?? [];
    this.queue = undefined;
    for (let i = 0; i < items.length; i += MAX_PER_STATEMENT) {
      const part = items.slice(i, i + MAX_PER_STATEMENT);
      this.write(part.map((p) => p.d)).then(
        () => part.forEach((p) => p.resolve()),
        (e: unknown) => part.forEach((p) => p.reject(e)),
      );
    }
  }

  private async write(ds: Delivered[]): Promise<void> {
    if (ds.length === 1) {
      const [d] = ds;
      await this.one.run([d.at, d.receipt, d.lastError, d.id, this.owner]);
      return;
    }
    await this.statement(ds.length).run([...ds.flatMap((d) => [d.id, d.at, d.receipt, d.lastError]), this.owner]);
  }

  /** The statement for `n` messages (prepared once per count). */
  private statement(n: number): PreparedStatement {
    let s = this.many.get(n);
    if (!s) {
      // SQLite (3.33+ for UPDATE … FROM) names a VALUES list's columns only through a CTE; PostgreSQL needs the casts.
      const postgres = this.ds.options.type === 'postgres';
      const rows = Array.from({ length: n }, () => (postgres ? '(?::varchar, ?::bigint, ?::text, ?::varchar)' : '(?, ?, ?, ?)')).join(', ');
      const set = `${SET}, delivered_at = v.at, receipt = v.receipt, last_error = v.last_error`;
      s = new PreparedStatement(
        this.ds,
        postgres
          ? `UPDATE outbox_messages AS o SET ${set} FROM (VALUES ${rows}) AS v (id, at, receipt, last_error) WHERE o.id = v.id AND o.lease_owner = ?`
          : `WITH v (id, at, receipt, last_error) AS (VALUES ${rows}) UPDATE outbox_messages AS o SET ${set} FROM v WHERE o.id = v.id AND o.lease_owner = ?`,
      );
      this.many.set(n, s);
    }
    return s;
  }
}
