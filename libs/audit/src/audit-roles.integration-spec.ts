import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SystemClock } from '@tongban/common';
import { KeyStore, SigningKeyEntity } from '@tongban/keys';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { TEST_PG_URL, onTestDatabase, postgresAvailable } from '@tongban/testkit';
import { verifyStoredAuditChain } from './audit-chain.store';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
import { AuditEventEntity } from './audit-event.entity';
import { AuditLog } from './audit-log.service';

// The PostgreSQL role split of docs/audit.md, run as written: an owner role migrates, the
// application role may only read and append audit rows, and cannot drop the triggers either.
const pg = postgresAvailable() ? describe : describe.skip;

pg('audit trail under the PostgreSQL roles of docs/audit.md', () => {
  const id = randomBytes(4).toString('hex');
  const owner = `tongban_owner_${id}`;
  const app = `tongban_app_${id}`;
  const schema = `it_roles_${id}`;
  const password = randomBytes(12).toString('hex');
  const urlFor = (user: string) => {
    const u = new URL(TEST_PG_URL);
    u.username = user;
    u.password = password;
    return u.toString();
  };
  const open: DataSource[] = [];
  // The owner names the schema (TONGBAN_DATABASE_SCHEMA, created if missing: CREATE on the database);
  // the application does not, and finds the tables through its role's search_path instead.
  const connect = async (user: string) => {
    const ds = buildDataSource({ kind: 'postgres', url: urlFor(user), ...(user === owner ? { schema } : {}), poolSize: 2 }, [AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity]);
    open.push(ds);
    return openDatabase(ds);
  };
  const admin = onTestDatabase;

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    await admin(`CREATE ROLE ${owner} LOGIN PASSWORD '${password}'; CREATE ROLE ${app} LOGIN PASSWORD '${password}';
      CREATE SCHEMA ${schema} AUTHORIZATION ${owner}; GRANT USAGE ON SCHEMA ${schema} TO ${app};
      ALTER ROLE ${app} SET search_path = ${schema};`);
    await admin(`GRANT CREATE ON DATABASE "${new URL(TEST_PG_URL).pathname.slice(1)}" TO ${owner}`);
  });

  afterAll(async () => {
    for (const ds of open) if (ds.isInitialized) await ds.destroy();
    await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP OWNED BY ${app}; DROP ROLE IF EXISTS ${app}; DROP OWNED BY ${owner}; DROP ROLE IF EXISTS ${owner};`);
    Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose', 'fatal']);
  });

  it('the owner migrates and grants; the application appends and verifies but cannot update, delete or drop the triggers', async () => {
    const asOwner = await connect(owner);
    await asOwner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${app}`);
    await asOwner.query(`REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoints FROM ${app}`);
    await asOwner.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA ${schema} TO ${app}`);
    await asOwner.destroy();

    const ds = await connect(app); // no pending migration: opens without DDL rights
    const clock = new SystemClock();
    const keys = new KeyStore(ds, clock, { keyEncryptionSecret: 'x'.repeat(32), signingAlg: 'EdDSA' });
    await keys.init();
    const audit = new AuditLog(ds, clock, keys, '110000', { checkpointEverySeconds: 0 });
    await audit.recordNow({ event: 'admin.peer.created', actor: 'admin', subject: '130000', outcome: 'OK' });
    audit.record({ event: 'verification.answered', actor: '130000', subject: 'T', outcome: 'OK' });
    await audit.flush();
    expect(await audit.checkpoint()).toMatchObject({ seq: 2 });
    expect(await verifyStoredAuditChain(ds, { jwks: keys.jwks(), issuer: '110000' })).toMatchObject({ ok: true, checked: 2, checkpoints: { checked: 1, bad: 0 } });

    await expect(ds.query(`UPDATE audit_events SET subject = 'x'`)).rejects.toThrow('permission denied');
    await expect(ds.query(`DELETE FROM audit_checkpoints`)).rejects.toThrow('permission denied');
    await expect(ds.query(`TRUNCATE audit_events`)).rejects.toThrow('permission denied');
    await expect(ds.query(`DROP TRIGGER audit_events_append_only ON audit_events`)).rejects.toThrow('must be owner');
  });
});
