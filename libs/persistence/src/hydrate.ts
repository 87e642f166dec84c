import { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';

const selectLists = new WeakMap<DataSource, Map<string, string>>();

/** `alias.column AS alias__column` for every column of `entity`: a select list `hydrate` reads back. */
export function selectColumns(ds: DataSource, entity: EntityTarget<ObjectLiteral>, alias: string): string {
  return selectList(ds, entity, alias, (c) => `${alias}.${c} AS ${alias}__${c}`);
}

/** `NULL AS alias__column` for every column of `entity`: its place in a UNION ALL branch that reads another entity. */
export function nullColumns(ds: DataSource, entity: EntityTarget<ObjectLiteral>, alias: string): string {
  return selectList(ds, entity, `null:${alias}`, (c) => `NULL AS ${alias}__${c}`);
}

/** A select list built once per data source, entity and alias (hot reads run it for every request). */
function selectList(ds: DataSource, entity: EntityTarget<ObjectLiteral>, alias: string, column: (name: string) => string): string {
  let lists = selectLists.get(ds);
  if (!lists) selectLists.set(ds, (lists = new Map<string, string>()));
  const meta = ds.getMetadata(entity);
  const key = `${meta.name}\u0000${alias}`;
  let list = lists.get(key);
  if (list === undefined) lists.set(key, (list = meta.columns.map((c) => column(c.databaseName)).join(', ')));
  return list;
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
