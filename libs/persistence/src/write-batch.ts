import { EntityManager, EntityMetadata, EntityTarget, ObjectLiteral } from 'typeorm';
import { ColumnMetadata } from 'typeorm/metadata/ColumnMetadata';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { DateUtils } from 'typeorm/util/DateUtils';

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
    const meta = this.tx.connection.getMetadata(p.entity);
    if (!plainEntity(meta)) {
      const qb = this.tx.createQueryBuilder();
      if (p.kind === 'insert') return qb.insert().into(p.entity).values(p.rows).updateEntity(false).getQueryAndParameters();
      return qb.update(p.entity).set(p.patch).where(p.key).updateEntity(false).getQueryAndParameters();
    }
    return p.kind === 'insert' ? this.insertSql(meta, p.rows) : this.updateSql(meta, p.key, p.patch);
  }

  /*
   * The SQL of an insert or an update, written here rather than by TypeORM's query builders (which
   * cost 6–7 % of a gateway's CPU in bench:cases, most of it rewriting property names in the SQL
   * text): the same statement, with values prepared as TypeORM prepares them (column transformers,
   * the driver's own conversions), for entities of plain columns (see plainEntity).
   */

  private insertSql(meta: EntityMetadata, rows: ObjectLiteral[]): [string, unknown[]] {
    const driver = this.tx.connection.driver;
    const postgres = driver.options.type === 'postgres';
    // As TypeORM: PostgreSQL fills an increment column itself; SQLite is given NULL for it.
    const columns = meta.columns.filter((c) => c.isInsert && !(postgres && c.isGenerated && c.generationStrategy === 'increment'));
    const params: unknown[] = [];
    const values = rows.map(
      (row) =>
        `(${columns
          .map((c) => {
            const v = prepared(driver, c, row);
            if (v === undefined) return postgres ? 'DEFAULT' : c.default !== undefined && c.default !== null ? driver.normalizeDefault(c) : 'NULL';
            return typeof v === 'function' ? String((v as () => unknown)()) : this.parameter(params, v);
          })
          .join(', ')})`,
    );
    return [`INSERT INTO ${this.table(meta)}(${columns.map((c) => driver.escape(c.databaseName)).join(', ')}) VALUES ${values.join(', ')}`, params];
  }

  private updateSql(meta: EntityMetadata, key: ObjectLiteral, patch: ObjectLiteral): [string, unknown[]] {
    const driver = this.tx.connection.driver;
    const params: unknown[] = [];
    const set: string[] = [];
    for (const property of Object.keys(patch)) {
      if (patch[property] === undefined) continue;
      const [column] = meta.findColumnsWithPropertyPath(property);
      if (!column) throw new Error(`WriteBatch.update: ${meta.name} has no column for ${property}`);
      if (!column.isUpdate) continue;
      const v = prepared(driver, column, patch);
      set.push(`${driver.escape(column.databaseName)} = ${typeof v === 'function' ? String((v as () => unknown)()) : this.parameter(params, v)}`);
    }
    if (set.length === 0) throw new Error(`WriteBatch.update: nothing to set in ${meta.name}`);
    const where = meta.primaryColumns.map((c) => `${driver.escape(c.databaseName)} = ${this.parameter(params, driver.preparePersistentValue(c.getEntityValue(key), c))}`);
    return [`UPDATE ${this.table(meta)} SET ${set.join(', ')} WHERE ${where.join(' AND ')}`, params];
  }

  /** A placeholder for `value`: `$n` on PostgreSQL; on SQLite `?`, with the value bound as TypeORM's SQLite driver would write it. */
  private parameter(params: unknown[], value: unknown): string {
    if (this.tx.connection.driver.options.type === 'postgres') {
      params.push(value);
      return `$${params.length}`;
    }
    params.push(sqliteValue(value));
    return '?';
  }

  private table(meta: EntityMetadata): string {
    const driver = this.tx.connection.driver;
    return meta.tablePath
      .split('.')
      .map((part) => driver.escape(part))
      .join('.');
  }
}

/** An entity of plain columns only (no embedded, relation, version, update-date, discriminator or generated uuid columns): its SQL is written by the batch. */
const plain = new WeakMap<EntityMetadata, boolean>();
function plainEntity(meta: EntityMetadata): boolean {
  let ok = plain.get(meta);
  if (ok === undefined) {
    const column = (c: ColumnMetadata) =>
      !c.embeddedMetadata &&
      !c.relationMetadata &&
      !c.referencedColumn &&
      !c.isVersion &&
      !c.isUpdateDate &&
      !c.isDiscriminator &&
      !c.isVirtual &&
      !(c.isGenerated && c.generationStrategy !== 'increment');
    ok = meta.columns.every(column) && meta.embeddeds.length === 0 && meta.relations.length === 0;
    plain.set(meta, ok);
  }
  return ok;
}

/** The value of `column` in `row` as TypeORM writes it (transformer, driver conversions); an SQL expression (a function) as it is. */
function prepared(driver: EntityManager['connection']['driver'], column: ColumnMetadata, row: ObjectLiteral): unknown {
  const v = column.getEntityValue(row) as unknown;
  if (typeof v === 'function') return v;
  const out = driver.preparePersistentValue(v, column) as unknown;
  // better-sqlite3 binds NaN as NULL and PostgreSQL stores it in a real column but refuses it in a
  // bigint one (an Invalid Date through epochMs): refused here on both, before anything is sent.
  if (notFinite(v) || notFinite(out)) throw new TypeError(`${column.entityMetadata.tableName}.${column.databaseName}: cannot write ${String(v)} (not a finite number or a valid time)`);
  return out;
}

const notFinite = (v: unknown): boolean => (typeof v === 'number' && !Number.isFinite(v)) || (v instanceof Date && Number.isNaN(v.getTime()));

/**
 * A value as better-sqlite3 should bind it to mean what TypeORM's SQLite driver writes: integers
 * as 64-bit INTEGER (TypeORM writes them into the SQL text; a plain number would bind as REAL),
 * booleans as 1/0, dates as its UTC datetime text.
 */
function sqliteValue(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? BigInt(v) : v;
  if (typeof v === 'boolean') return BigInt(v ? 1 : 0);
  if (v instanceof Date) return DateUtils.mixedDateToUtcDatetimeString(v);
  return v;
}
