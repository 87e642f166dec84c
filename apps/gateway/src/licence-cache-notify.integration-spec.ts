import { Logger } from '@nestjs/common';
import { GatewayConfig } from '@tongban/config';
import { Dispatcher } from '@tongban/delivery';
import { LibrarySource } from '@tongban/licences';
import { MaterialPusher } from '@tongban/materials';
import { DataSource, buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { WebhookDispatcher } from '@tongban/webhooks';
import { AdminStateReload } from './admin-state-reload';
import { ENTITIES } from './gateway.providers';
import { ReplicaWakeUps } from './replica-wake-ups';

/**
 * Replicas answering from the licence library keep each record for the cache ttl. A licence status
 * change committed by any writer (the feed at another replica, an administrator, a restore) reaches
 * every replica's ReplicaWakeUps through the licence_status trigger (migration
 * LicenceStatusNotify1796600000000), which empties the library cache at the commit.
 */
jest.setTimeout(60_000);
const pg = postgresAvailable() ? describe : describe.skip;

pg('a committed licence status change empties every replica’s licence library cache (PostgreSQL)', () => {
  const target = postgresTarget();
  let ds: DataSource;
  let wakeUps: ReplicaWakeUps;
  let forgotten = 0;
  let heard: () => void = () => undefined;

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    ds = await openDatabase(buildDataSource(target, ENTITIES));
    const worker = { wake: () => undefined, whenFull: () => undefined };
    // What this spec watches: the library source's cache being emptied.
    const library = {
      lookup: {
        forgetAll: () => {
          forgotten++;
          heard();
        },
      },
    } as unknown as LibrarySource;
    wakeUps = new ReplicaWakeUps(
      { database: target } as GatewayConfig,
      worker as unknown as Dispatcher,
      worker as unknown as MaterialPusher,
      worker as unknown as WebhookDispatcher,
      { request: () => Promise.resolve() } as unknown as AdminStateReload,
      library,
    );
    await wakeUps.onModuleInit();
  });

  afterAll(async () => {
    await wakeUps?.onModuleDestroy();
    await ds?.destroy();
    await dropPostgresSchema(target.schema);
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
  });

  const next = () => new Promise<void>((resolve) => (heard = resolve));

  it('the trigger is on licence_status, and a change written by anyone (here plain SQL) empties the cache once its transaction commits', async () => {
    const triggers = await ds.query<{ tgname: string }[]>(
      `SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid
        WHERE c.relnamespace = current_schema()::regnamespace AND p.proname = 'tongban_licences_changed' ORDER BY 1`,
    );
    expect(triggers.map((t) => t.tgname)).toEqual(['licence_status_changed', 'licence_status_truncated']);
    const before = forgotten;
    const heardOnce = next();
    let insideTransaction = -1;
    await runInTransaction(ds, async (tx) => {
      await tx.query(`INSERT INTO licence_status (licence_id, type_code, status, version, changed_at, reason, source, actor) VALUES ('x', 'T', 'REVOKED', 1, 0, 'test', 'library', 'library-feed')`);
      // Not before the commit: PostgreSQL delivers a notification only when its transaction commits.
      await new Promise((r) => setTimeout(r, 200));
      insideTransaction = forgotten - before;
    });
    await heardOnce;
    expect(insideTransaction).toBe(0);
    expect(forgotten - before).toBe(1);
  });

  it('a rolled-back change empties nothing', async () => {
    const before = forgotten;
    await expect(
      runInTransaction(ds, async (tx) => {
        await tx.query(`UPDATE licence_status SET reason = 'rolled back' WHERE licence_id = 'x'`);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    // A change that commits afterwards is heard: had the rolled-back one been sent, it would arrive first.
    const heardOnce = next();
    await ds.query(`UPDATE licence_status SET reason = 'committed' WHERE licence_id = 'x'`);
    await heardOnce;
    expect(forgotten - before).toBe(1);
  });
});
