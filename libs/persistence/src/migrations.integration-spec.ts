import { DataSource, QueryRunner, Table } from 'typeorm';
import { AuditEventEntity } from '@tongban/audit';
import { SeenMessageEntity } from '@tongban/federation';
import { SigningKeyEntity } from '@tongban/keys';
import { LicenceEntity } from '@tongban/licences';
import { describeEachDatabase } from '@tongban/testkit';
import { PeerEntity, PeerKeyEntity } from '@tongban/trust';
import { DatabaseTarget, MIGRATIONS, buildDataSource, isUniqueViolation, openDatabase } from '@tongban/persistence';

const ENTITIES = [SigningKeyEntity, PeerEntity, PeerKeyEntity, LicenceEntity, SeenMessageEntity, AuditEventEntity];
const APP_TABLES = ['audit_events', 'licences', 'peer_keys', 'peers', 'seen_messages', 'signing_keys'];

/** Tables the migration set creates, read off the migrations themselves (so a new migration is covered too). */
async function tablesCreatedByMigrations(): Promise<string[]> {
  const names: string[] = [];
  const recorder = new Proxy({} as QueryRunner, {
    get: (_target, prop) => (prop === 'createTable' ? async (t: Table) => void names.push(t.name) : async () => undefined),
  });
  for (const M of MIGRATIONS) await new M().up(recorder);
  return names;
}

/** Every table expected after migrating an empty database: the migrated ones and TypeORM's `migrations`. */
async function expectedTables(): Promise<string[]> {
  return [...new Set([...(await tablesCreatedByMigrations()), 'migrations'])].sort();
}

/** Table names of the database (SQLite) or of the target's schema (PostgreSQL). */
async function tablesOf(ds: DataSource, target: DatabaseTarget): Promise<string[]> {
  const rows: { name: string }[] =
    target.kind === 'sqlite'
      ? await ds.query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
      : await ds.query(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1`, [target.schema]);
  return rows.map((r) => r.name).sort();
}

async function migrationRows(ds: DataSource): Promise<{ name: string }[]> {
  return ds.query(`SELECT name FROM migrations`);
}

/** Column lists (in order) of every index on `table`, primary keys and unique constraints included. */
async function indexColumns(ds: DataSource, target: DatabaseTarget, table: string): Promise<string[][]> {
  const rows: { name: string; col: string; n: number | string; pred?: string | null }[] =
    target.kind === 'sqlite'
      ? await ds.query(
          `SELECT il.name AS name, ii.name AS col, ii.seqno AS n, m.sql AS pred FROM pragma_index_list(?) il, pragma_index_info(il.name) ii LEFT JOIN sqlite_master m ON m.type = 'index' AND m.name = il.name`,
          [table],
        )
      : await ds.query(
          `SELECT i.relname AS name, a.attname AS col, k.n AS n, pg_get_expr(x.indpred, x.indrelid) AS pred FROM pg_index x
             JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_namespace ns ON ns.oid = t.relnamespace
             CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
            WHERE t.relname = $1 AND ns.nspname = $2`,
          [table, target.schema],
        );
  const byIndex = new Map<string, { col: string; n: number }[]>();
  const equalityPredicate = new Map<string, string>();
  for (const r of rows) {
    byIndex.set(r.name, [...(byIndex.get(r.name) ?? []), { col: r.col, n: Number(r.n) }]);
    // A partial index on `column = constant` serves that equality as a leading column would.
    // PostgreSQL's predicate, or SQLite's CREATE INDEX text ending in its WHERE clause.
    const eq = r.pred ? (/^\(\((\w+)\)::text = '[^']*'::text\)$/.exec(r.pred) ?? /\bWHERE\s+"?(\w+)"?\s*=\s*'[^']*'\s*$/i.exec(r.pred)) : null;
    if (eq) equalityPredicate.set(r.name, eq[1]);
  }
  return [...byIndex.entries()].map(([name, cols]) => [...(equalityPredicate.has(name) ? [equalityPredicate.get(name) as string] : []), ...cols.sort((a, b) => a.n - b.n).map((c) => c.col)]);
}

/**
 * Every lookup whose table grows with use (licences, replay store, cases, outbox, inbox), by the
 * columns it filters or orders on: each must be the leading columns of an index (a partial index on
 * `column = constant` counts that column as its first), or its cost grows with the table
 * (docs/performance.md, "Cost growth").
 */
const GROWING_LOOKUPS: [table: string, columns: string[], what: string][] = [
  ['licences', ['licence_id'], 'verification by licence id'],
  ['licences', ['type_code', 'number'], 'verification by licence number'],
  ['seen_messages', ['sender', 'message_id'], 'replay check'],
  ['seen_messages', ['expires_at'], 'replay store purge'],
  ['cases', ['id'], 'case by id'],
  ['cases', ['collaboration_id'], 'case by collaboration id (tasks, peers)'],
  ['cases', ['created_at', 'id'], 'case list, newest first'],
  ['cases', ['state', 'created_at', 'id'], 'case list by state, newest first'],
  ['case_steps', ['case_id', 'idx'], 'steps of a case'],
  ['case_steps', ['province', 'status'], 'task list'],
  ['case_events', ['case_id', 'seq'], 'history of a case'],
  ['outbox_messages', ['peer', 'stream', 'seq'], 'next sequence number of an outbox stream'],
  ['outbox_messages', ['status', 'next_attempt_at'], 'delivery claim'],
  ['outbox_messages', ['status', 'delivered_at'], 'delivery retention'],
  ['webhook_deliveries', ['status', 'next_attempt_at'], 'webhook claim'],
  ['webhook_deliveries', ['status', 'created_at'], 'webhook retention'],
  ['material_transfers', ['status', 'next_attempt_at'], 'material push claim'],
  ['outbox_messages', ['status', 'created_at'], 'dead letters, oldest first (admin list; depth gauge at every scrape)'],
  ['webhook_deliveries', ['status', 'created_at'], 'dead webhook deliveries, oldest first (admin list)'],
  ['material_transfers', ['status', 'created_at'], 'dead material transfers, oldest first (admin list)'],
  ['inbox_messages', ['sender', 'message_id'], 'inbox de-duplication'],
  ['inbox_messages', ['sender', 'stream', 'seq'], 'inbox order per stream'],
];

const peerRow = (code: string) => ({ code, name: 'p', endpoint: 'h:1', status: 'ACTIVE' as const, allowedLicenceTypes: ['*'], createdAt: new Date(1), updatedAt: new Date(1) });

describeEachDatabase('persistence migrations', (fresh, kind) => {
  const open: DataSource[] = [];
  const connect = async (target: DatabaseTarget) => {
    const ds = buildDataSource(target, ENTITIES);
    open.push(ds);
    return openDatabase(ds);
  };

  afterEach(async () => {
    for (const ds of open.splice(0)) if (ds.isInitialized) await ds.destroy();
  });

  it('creates every table on an empty database and records the migration', async () => {
    const target = fresh();
    const ds = await connect(target);
    const tables = await tablesOf(ds, target);
    expect(tables).toEqual(await expectedTables());
    // Including every table the gateway's entities use.
    expect(tables).toEqual(expect.arrayContaining(APP_TABLES));
    expect((await migrationRows(ds)).map((r) => r.name)).toEqual(MIGRATIONS.map((m) => new m().name));
    expect(await ds.showMigrations()).toBe(false);
    // Every entity maps onto the migrated tables: selecting all its columns succeeds and finds nothing.
    for (const entity of ENTITIES) expect(await ds.getRepository(entity).find()).toEqual([]);
  });

  it('is a no-op when opened twice (same data source and a new one), keeping the data', async () => {
    const target = fresh();
    const ds = await connect(target);
    await ds.getRepository(PeerEntity).insert(peerRow('110000'));
    await openDatabase(ds);
    expect(await migrationRows(ds)).toHaveLength(MIGRATIONS.length);
    await ds.destroy();

    const again = await connect(target);
    expect(await migrationRows(again)).toHaveLength(MIGRATIONS.length);
    expect(await tablesOf(again, target)).toEqual(await expectedTables());
    const peers = await again.getRepository(PeerEntity).find();
    expect(peers.map((p) => p.code)).toEqual(['110000']);
    expect(peers[0].allowedLicenceTypes).toEqual(['*']);
    expect(peers[0].createdAt.getTime()).toBe(1);
  });

  it('isUniqueViolation is true for a duplicate primary key or unique index, false for other errors', async () => {
    const ds = await connect(fresh());
    const peers = ds.getRepository(PeerEntity);
    await peers.insert(peerRow('110000'));
    const duplicate = await peers.insert(peerRow('110000')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(duplicate).toBeDefined();
    expect(isUniqueViolation(duplicate)).toBe(true);

    const seen = ds.getRepository(SeenMessageEntity);
    await seen.insert({ sender: '110000', messageId: 'm1', expiresAt: 1 });
    const dupComposite = await seen.insert({ sender: '110000', messageId: 'm1', expiresAt: 2 }).catch((e: unknown) => e);
    expect(isUniqueViolation(dupComposite)).toBe(true);

    // (type_code, number) is a unique index, not the primary key.
    await ds.query(
      `INSERT INTO licences (licence_id, type_code, name, number, issuer_organ_name, issuer_organ_code, holder_name, holder_code, holder_code_type, issue_date, valid_from, status, jurisdiction_code, updated_at)
       VALUES ('a', 'T', 'n', 'N1', 'o', 'oc', 'h', 'hc', '001', '2020-01-01', '2020-01-01', 'VALID', '110000', 1)`,
    );
    const dupIndex: unknown = await ds
      .query(
        `INSERT INTO licences (licence_id, type_code, name, number, issuer_organ_name, issuer_organ_code, holder_name, holder_code, holder_code_type, issue_date, valid_from, status, jurisdiction_code, updated_at)
         VALUES ('b', 'T', 'n', 'N1', 'o', 'oc', 'h', 'hc', '001', '2020-01-01', '2020-01-01', 'VALID', '110000', 1)`,
      )
      .catch((e: unknown) => e);
    expect(isUniqueViolation(dupIndex)).toBe(true);

    // A NOT NULL violation is a constraint error too, but not a unique one.
    const notNull: unknown = await ds
      .query(`INSERT INTO peers (code, name, endpoint, status, allowed_licence_types, created_at, updated_at) VALUES ('120000', 'p', 'h:1', 'ACTIVE', '[]', NULL, 1)`)
      .catch((e: unknown) => e);
    expect(notNull).toBeInstanceOf(Error);
    expect(isUniqueViolation(notNull)).toBe(false);
    expect(isUniqueViolation(new Error('boom'))).toBe(false);
    expect(isUniqueViolation(undefined)).toBe(false);
    expect(await peers.count()).toBe(1);
  });

  it('serves every lookup that grows with the data from an index', async () => {
    const target = fresh();
    const ds = await connect(target);
    const missing: string[] = [];
    for (const [table, columns, what] of GROWING_LOOKUPS) {
      const indexes = await indexColumns(ds, target, table);
      if (!indexes.some((cols) => columns.every((c, i) => cols[i] === c))) missing.push(`${table}(${columns.join(', ')}) for ${what}; indexes: ${JSON.stringify(indexes)}`);
    }
    expect(missing).toEqual([]);
  });

  if (kind === 'postgres') {
    it('two concurrent openDatabase calls on the same fresh schema both succeed (advisory lock)', async () => {
      const target = fresh();
      const [a, b] = await Promise.all([connect(target), connect(target)]);
      expect(a.isInitialized && b.isInitialized).toBe(true);
      expect(await migrationRows(a)).toHaveLength(MIGRATIONS.length);
      expect(await tablesOf(b, target)).toEqual(await expectedTables());
      // Both see the same schema: a row written through one is read through the other.
      await a.getRepository(PeerEntity).insert(peerRow('130000'));
      expect((await b.getRepository(PeerEntity).find()).map((p) => p.code)).toEqual(['130000']);
    });
  }
});
