import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { ClientRegistry } from '@tongban/access';
import { AuditLog } from '@tongban/audit';
import { CatalogueStore } from '@tongban/catalogue';
import { ParticipantDirectory, SystemClock } from '@tongban/common';
import { GatewayConfig } from '@tongban/config';
import { KeyStore } from '@tongban/keys';
import { DataSource, WakeSignals, buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { TrustStore } from '@tongban/trust';
import { AdminStateReload } from './admin-state-reload';
import { ENTITIES } from './gateway.providers';

/**
 * Replicas on one PostgreSQL database learn each other's admin changes when they commit: a trigger
 * on every table AdminStateReload reloads from notifies the schema's wake-up channel (migration
 * AdminChangeNotify1796400000000). The tables are not listed here: they are read off the statements
 * a real reload runs, and must be exactly the tables carrying the trigger (none missed, and none on
 * a table the reload does not read, which would notify on other writes).
 */
jest.setTimeout(60_000);

const DATA = join(__dirname, '..', '..', '..', 'data');
const pg = postgresAvailable() ? describe : describe.skip;

/** Resolves when `count()` reaches `n` (checked at each notification). */
function counter() {
  let n = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    hit() {
      n++;
      for (const w of waiters.filter((w) => w.n <= n)) w.resolve();
    },
    count: () => n,
    reach: (target: number) => (n >= target ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n: target, resolve }))),
  };
}

pg('admin changes notify every replica at their commit (PostgreSQL)', () => {
  const target = postgresTarget();
  const other = postgresTarget();
  let ds: DataSource;
  let reload: AdminStateReload;
  const signals: WakeSignals[] = [];
  const warnings: string[] = [];

  beforeAll(async () => {
    Logger.overrideLogger({
      log: () => undefined,
      error: (m: unknown) => void warnings.push(String(m)),
      warn: (m: unknown) => void warnings.push(String(m)),
      debug: () => undefined,
      verbose: () => undefined,
    });
    ds = await openDatabase(buildDataSource(target, ENTITIES));
    const clock = new SystemClock();
    const audit = new AuditLog(ds, clock);
    const participants = ParticipantDirectory.fromFile(join(DATA, 'participants.json'));
    const catalogue = new CatalogueStore(ds, clock, { catalogueFile: join(DATA, 'catalogue.json'), calendarFile: join(DATA, 'calendar.json') });
    await catalogue.init();
    const keys = new KeyStore(ds, clock, { keyEncryptionSecret: 'integration-secret-0123456789abcdef', signingAlg: 'EdDSA' });
    await keys.init();
    const clients = new ClientRegistry(ds, clock, audit, { systems: [], adminToken: 'admin-token-0123456789abcdef-0123' });
    const trust = new TrustStore(ds, clock, participants, '110000', audit);
    reload = new AdminStateReload({ trustRefreshSeconds: 0 } as GatewayConfig, trust, catalogue, keys, clients);
    // A row in every admin table.
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    await trust.create({ code: '130000', endpoint: 'hebei.example:8443', keys: [jwk] }, 'admin');
    await clients.create({ kind: 'SYSTEM', name: 'hall', scopes: ['verify'] }, 'admin');
    await catalogue.loadCatalogue(JSON.parse(readFileSync(join(DATA, 'catalogue.json'), 'utf8')), 'admin');
    await catalogue.loadCalendar(JSON.parse(readFileSync(join(DATA, 'calendar.json'), 'utf8')), 'admin');
  });

  afterAll(async () => {
    await Promise.all(signals.map((s) => s.stop()));
    await ds?.destroy();
    await dropPostgresSchema(target.schema);
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
  });

  /** The tables the statements of one reload read. */
  async function tablesReloaded(): Promise<string[]> {
    const seen: string[] = [];
    const original = ds.logger;
    const spy: typeof original = { ...original, logQuery: (q: string) => void seen.push(q) };
    Object.assign(ds, { logger: spy });
    try {
      await reload.request();
    } finally {
      Object.assign(ds, { logger: original });
    }
    expect(warnings.filter((w) => w.startsWith('reload failed'))).toEqual([]);
    return [...new Set(seen.flatMap((q) => [...q.matchAll(/\b(?:FROM|JOIN)\s+(?:"?\w+"?\.)?"?(\w+)"?/gi)].map((m) => m[1])))].sort();
  }

  async function tablesWithTrigger(): Promise<string[]> {
    const rows = await ds.query<{ table: string; triggers: string[] }[]>(
      `SELECT c.relname AS table, array_agg(t.tgname::text ORDER BY t.tgname) AS triggers
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE c.relnamespace = current_schema()::regnamespace AND p.proname = 'tongban_admin_changed'
        GROUP BY c.relname ORDER BY c.relname`,
    );
    for (const r of rows) expect(r.triggers).toEqual([`${r.table}_admin_changed`, `${r.table}_admin_truncated`]);
    return rows.map((r) => r.table);
  }

  it('puts the trigger on exactly the tables a reload reads', async () => {
    const reloaded = await tablesReloaded();
    expect(reloaded).toEqual(expect.arrayContaining(['peers', 'peer_keys', 'signing_keys', 'api_clients']));
    expect(await tablesWithTrigger()).toEqual(reloaded);
  });

  it('notifies each replica once per committed transaction, never for a rolled-back one, other tables or another schema', async () => {
    const tables = await tablesWithTrigger();
    const a = counter();
    const b = counter();
    const elsewhere = counter();
    for (const [t, c] of [
      [target, a],
      [target, b],
      [other, elsewhere],
    ] as const) {
      const s = new WakeSignals(t);
      s.on('admin', () => c.hit());
      signals.push(s);
      await s.start();
    }
    const both = (n: number) => Promise.all([a.reach(n), b.reach(n)]);
    const tx = (fn: (q: (sql: string) => Promise<unknown>) => Promise<void>, commit = true) =>
      runInTransaction(ds, async (m) => {
        await fn((sql) => m.query(sql));
        if (!commit) throw new Error('rolled back');
      }).catch((e: Error) => {
        if (commit || e.message !== 'rolled back') throw e;
      });

    // Each ran its handler once when its LISTEN took effect (WakeSignals: it may have missed changes before).
    let expected = 1;
    for (const t of tables) {
      const pk = (
        await ds.query<{ column_name: string }[]>(
          `SELECT a.attname AS column_name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
          WHERE i.indrelid = $1::regclass AND i.indisprimary`,
          [t],
        )
      )[0].column_name;
      const rows = Number((await ds.query<{ n: string }[]>(`SELECT count(*) AS n FROM ${t}`))[0].n);
      expect({ table: t, rows: rows > 0 }).toEqual({ table: t, rows: true });
      // Rolled back: no notification. Committed, all rows in one statement plus a second one: one.
      await tx(async (q) => void (await q(`UPDATE ${t} SET "${pk}" = "${pk}"`)), false);
      await tx(async (q) => {
        await q(`UPDATE ${t} SET "${pk}" = "${pk}"`);
        await q(`UPDATE ${t} SET "${pk}" = "${pk}"`);
      });
      expected++;
      await both(expected);
    }
    // Writes to other tables notify nothing; a deleted row notifies, as does a truncation.
    await ds.query(`INSERT INTO seen_messages (sender, message_id, expires_at) VALUES ('130000', 'm-1', 1)`);
    await tx(async (q) => void (await q(`DELETE FROM api_clients`)), false);
    await tx(async (q) => void (await q(`TRUNCATE api_clients`)));
    expected++;
    await both(expected);
    // Delivered in commit order: anything extra from the statements above would have arrived by now.
    expect([a.count(), b.count(), elsewhere.count()]).toEqual([expected, expected, 1]);
  });
});
