import { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';

/** `alias.column AS alias__column` for every column of `entity`: a select list `hydrate` reads back. */
export function selectColumns(ds: DataSource, entity: EntityTarget<ObjectLiteral>, alias: string): string {
  return ds
    .getMetadata(entity)
    .columns.map((c) => `${alias}.${c.databaseName} AS ${alias}__${c.databaseName}`)
    .join(', ');
}

/**
 * An entity from a raw row of a hand-written query, each value converted as TypeORM would
 * (driver types, column transformers). `alias`: the prefix `selectColumns` gave; none for
 * `SELECT *` / `RETURNING *` rows.
 */
export function hydrate<T extends ObjectLiteral>(ds: DataSource, entity: EntityTarget<T>, raw: Record<string, unknown>, alias?: string): T {
  const meta = ds.getMetadata(entity);
  const e = meta.create() as T;
  for (const col of meta.columns) col.setEntityValue(e, ds.driver.prepareHydratedValue(raw[alias ? `${alias}__${col.databaseName}` : col.databaseName], col));
  return e;
}
