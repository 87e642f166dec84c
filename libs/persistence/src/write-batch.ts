import { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';

/** One pending write of a `WriteBatch`: rows to insert, a patch for the row with a primary key, or a statement. */
type Pending =
  | { kind: 'insert'; entity: EntityTarget<ObjectLiteral>; rows: QueryDeepPartialEntity<ObjectLiteral>[] }
  | { kind: 'update'; entity: EntityTarget<ObjectLiteral>; key: ObjectLiteral; patch: QueryDeepPartialEntity<ObjectLiteral> }
  | { kind: 'sql'; entity?: undefined; sql: string; params: unknown[]; tag?: string };

/**
 * Writes of one transaction kept until `flush`, then sent in as few statements as the database
 * allows: on PostgreSQL one statement (each write a data-modifying `WITH` part of it: one round
 * trip instead of one per write); on SQLite, which has no such statements (and no round trips),
 * one statement per write. Writes to the same row are merged first, so a row is written once:
 * the parts of a PostgreSQL statement all see the snapshot from before it, so a second write of a
 * row in the same statement would not see the first (an update of a row inserted in the same batch
 * is merged into the insert). Constraints (unique, foreign keys) are checked as for separate
 * statements, at the end of the statement. Nothing in the transaction may read a batched row
 * before `flush`: whoever batches a write must hold the row (a lock, or a row it inserts).
 */
export class WriteBatch {
  private readonly pending: Pending[] = [];

  constructor(private readonly tx: EntityManager) {}

  /** Inserts `rows` at `flush`. */
  insert<T extends ObjectLiteral>(entity: EntityTarget<T>, rows: QueryDeepPartialEntity<T> | QueryDeepPartialEntity<T>[]): void {
    const list = (Array.isArray(rows) ? rows : [rows]) as QueryDeepPartialEntity<ObjectLiteral>[];
    if (list.length === 0) return;
    const last = this.pending[this.pending.length - 1];
    // Rows for the same table one after the other go in one multi-row insert.
    if (last?.kind === 'insert' && last.entity === entity) last.rows.push(...list);
    else this.pending.push({ kind: 'insert', entity, rows: [...list] });
  }

  /** Updates, at `flush`, the row whose primary key is `key` (every primary column, nothing else) with `patch`. */
  update<T extends ObjectLiteral>(entity: EntityTarget<T>, key: Partial<T>, patch: QueryDeepPartialEntity<T>): void {
    const primary = this.tx.connection.getMetadata(entity).primaryColumns.map((c) => c.propertyName);
    const given = Object.keys(key);
    if (given.length !== primary.length || !primary.every((p) => given.includes(p))) throw new Error(`WriteBatch.update needs the primary key (${primary.join(', ')}), got ${given.join(', ')}`);
    const same = (row: ObjectLiteral) => primary.every((p) => row[p] === (key as ObjectLiteral)[p]);
    for (const p of this.pending) {
      if (p.kind === 'sql' || p.entity !== entity) continue;
      const row = p.kind === 'insert' ? p.rows.find(same) : same(p.key) ? p.patch : undefined;
      if (row) {
        Object.assign(row, patch);
        return;
      }
    }
    this.pending.push({ kind: 'update', entity, key: { ...key }, patch: { ...patch } });
  }

  /**
   * Runs a write statement (placeholders as the driver escapes them: `$n` on PostgreSQL) at
   * `flush`. It must not depend on another write of the batch. `tag`: counted by `pendingTagged`.
   */
  statement(sql: string, params: unknown[], tag?: string): void {
    this.pending.push({ kind: 'sql', sql, params, tag });
  }

  /** How many statements tagged `tag` wait for the next `flush` (on PostgreSQL they will not see each other's rows). */
  pendingTagged(tag: string): number {
    return this.pending.filter((p) => p.kind === 'sql' && p.tag === tag).length;
  }

  /** Forgets the pending writes (their transaction or savepoint rolled back). */
  discard(): void {
    this.pending.length = 0;
  }

  /** Sends the pending writes, in the order they were made. */
  async flush(): Promise<void> {
    const statements = this.pending.splice(0).map((p) => this.toSql(p));
    if (statements.length === 0) return;
    if (this.tx.connection.options.type !== 'postgres' || statements.length === 1) {
      for (const [sql, params] of statements) await this.tx.query(sql, params);
      return;
    }
    // `$n` placeholders renumbered into one parameter list; the last write is the main statement.
    const params: unknown[] = [];
    const parts = statements.map(([sql, own]) => {
      const offset = params.length;
      params.push(...own);
      return sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
    });
    const main = parts.pop() as string;
    await this.tx.query(`WITH ${parts.map((s, i) => `w${i} AS (${s})`).join(', ')} ${main}`, params);
  }

  private toSql(p: Pending): [string, unknown[]] {
    if (p.kind === 'sql') return [p.sql, p.params];
    const qb = this.tx.createQueryBuilder();
    if (p.kind === 'insert') return qb.insert().into(p.entity).values(p.rows).updateEntity(false).getQueryAndParameters();
    return qb.update(p.entity).set(p.patch).where(p.key).updateEntity(false).getQueryAndParameters();
  }
}
