import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource, EntityManager } from 'typeorm';
import { AuditCheckpointEntity, AuditEventEntity, AuditLog } from '@tongban/audit';
import { Clock, DomainException } from '@tongban/common';
import { buildLicenceId } from '@tongban/identifiers';
import { SigningKeyEntity } from '@tongban/keys';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { DbLicenceLookup } from './db-licence-lookup';
import { LicenceImporter } from './licence-importer.service';
import { LicenceRecord } from './licence-record';
import { LicenceStatusAdmin } from './licence-status-admin';
import { LicenceStatusChange, LicenceStatusService } from './licence-status';
import { LicenceStatusEntity } from './licence-status.entity';
import { LicenceEntity } from './licence.entity';

jest.setTimeout(60_000);

class TestClock extends Clock {
  t = Date.UTC(2026, 11, 3, 1, 0, 0);
  now(): Date {
    return new Date(this.t);
  }
}

const DEMO_FILE = join(__dirname, '..', '..', '..', 'deploy', 'demo', 'licences-110000.json');
const DEMO = JSON.parse(readFileSync(DEMO_FILE, 'utf8')) as LicenceRecord[];
const VALID = DEMO.find((r) => r.status === 'VALID')!;

async function failure(p: Promise<unknown>): Promise<DomainException> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainException);
  return e as DomainException;
}

describeEachDatabase('LicenceStatusService', (fresh) => {
  let ds: DataSource;
  let clock: TestClock;
  let audit: AuditLog;
  let service: LicenceStatusService;
  let seen: { change: LicenceStatusChange; rowInTx: LicenceStatusEntity | null }[];

  const auditRows = async () =>
    (await audit.list({ event: 'licence.status_changed' })).map((e) => ({
      outcome: e.outcome,
      subject: e.subject,
      reason: e.reason,
      details: e.details ? (JSON.parse(e.details) as Record<string, unknown>) : null,
    }));

  beforeEach(async () => {
    clock = new TestClock();
    ds = await openDatabase(buildDataSource(fresh(), [LicenceEntity, LicenceStatusEntity, AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity]));
    await new LicenceImporter(ds, clock).importFile(DEMO_FILE);
    audit = new AuditLog(ds, clock);
    service = new LicenceStatusService(ds, clock, audit);
    seen = [];
    // The listener reads through `em`: it sees the change's row before the commit, so it runs inside the change's transaction.
    service.register({
      onLicenceStatusChange: async (change: LicenceStatusChange, em: EntityManager) => {
        seen.push({ change, rowInTx: await em.getRepository(LicenceStatusEntity).findOneBy({ licenceId: change.licenceId }) });
      },
    });
  });

  afterEach(async () => {
    if (ds?.isInitialized) await ds.destroy();
  });

  it('suspend, reinstate, revoke: versions 1, 2, 3; listener in the transaction; registry and lookup follow; audited', async () => {
    const id = VALID.licenceId;
    expect(await service.current(id)).toBeNull();
    const s = await service.change({ licenceId: id, status: 'SUSPENDED', reason: 'inspection', actor: 'ops' });
    expect(s).toEqual({
      licenceId: id,
      typeCode: VALID.typeCode,
      status: 'SUSPENDED',
      previous: 'VALID',
      version: 1,
      changedAt: new Date(clock.t),
      reason: 'inspection',
      source: 'registry',
      actor: 'ops',
    });
    expect(seen[0].rowInTx).toMatchObject({ status: 'SUSPENDED', version: 1 });
    expect((await ds.getRepository(LicenceEntity).findOneByOrFail({ licenceId: id })).status).toBe('SUSPENDED');

    clock.t += 60_000;
    expect(await service.change({ licenceId: id, status: 'VALID', reason: 'inspection passed', actor: 'ops' })).toMatchObject({ status: 'VALID', previous: 'SUSPENDED', version: 2 });
    expect(await service.change({ licenceId: id, status: 'VALID', reason: 'again', actor: 'ops' })).toBeNull();
    clock.t += 60_000;
    expect(await service.change({ licenceId: id, status: 'REVOKED', reason: 'fraud', actor: 'ops' })).toMatchObject({ previous: 'VALID', version: 3 });
    expect(await service.current(id)).toEqual({ status: 'REVOKED', version: 3, changedAt: new Date(clock.t) });
    expect(seen.map((x) => x.change.version)).toEqual([1, 2, 3]);
    expect((await new DbLicenceLookup(ds).findById(id))?.status).toBe('REVOKED');

    expect(await auditRows()).toEqual([
      { outcome: 'OK', subject: id, reason: 'inspection', details: { status: 'SUSPENDED', previous: 'VALID', version: 1, source: 'registry' } },
      { outcome: 'OK', subject: id, reason: 'inspection passed', details: { status: 'VALID', previous: 'SUSPENDED', version: 2, source: 'registry' } },
      { outcome: 'OK', subject: id, reason: 'fraud', details: { status: 'REVOKED', previous: 'VALID', version: 3, source: 'registry' } },
    ]);
  });

  it('REVOKED is final: 409 REVOKED_IS_FINAL, nothing changes, the refusal is audited', async () => {
    const id = VALID.licenceId;
    await service.change({ licenceId: id, status: 'REVOKED', reason: 'fraud', actor: 'ops' });
    for (const status of ['VALID', 'SUSPENDED'] as const) {
      const e = await failure(service.change({ licenceId: id, status, reason: 'oops', actor: 'ops' }));
      expect([e.code, e.details.rule, e.details.field]).toEqual(['CONFLICT', 'REVOKED_IS_FINAL', 'status']);
    }
    expect(await service.current(id)).toMatchObject({ status: 'REVOKED', version: 1 });
    expect((await auditRows()).map((r) => [r.outcome, r.reason])).toEqual([
      ['OK', 'fraud'],
      ['REFUSED', 'REVOKED_IS_FINAL'],
      ['REFUSED', 'REVOKED_IS_FINAL'],
    ]);
  });

  it('a licence revoked in the imported file is REVOKED already; unknown and malformed ids are refused by name', async () => {
    const revoked = DEMO.find((r) => r.status === 'REVOKED');
    if (revoked) expect((await failure(service.change({ licenceId: revoked.licenceId, status: 'VALID', reason: 'x', actor: 'ops' }))).details.rule).toBe('REVOKED_IS_FINAL');
    const unknown = buildLicenceId({ typeCode: VALID.typeCode, issuerCode: VALID.issuerOrganCode, serial: 'NOSUCH0001', version: '001' });
    const nf = await failure(service.change({ licenceId: unknown, status: 'REVOKED', reason: 'x', actor: 'ops' }));
    expect([nf.code, nf.details.field, nf.details.rule]).toEqual(['NOT_FOUND', 'licenceId', 'UNKNOWN_LICENCE']);
    expect(nf.message).toContain(unknown);
    const bad = await failure(service.change({ licenceId: 'not-an-id', status: 'REVOKED', reason: 'x', actor: 'ops' }));
    expect([bad.code, bad.details.field]).toEqual(['VALIDATION_FAILED', 'licenceId']);
    const empty = await failure(service.change({ licenceId: VALID.licenceId, status: 'REVOKED', reason: '  ', actor: 'ops' }));
    expect([empty.code, empty.details.field]).toEqual(['VALIDATION_FAILED', 'reason']);
    expect(await ds.getRepository(LicenceStatusEntity).count()).toBe(0);
    expect(seen).toEqual([]);
  });

  it('a failing listener rolls the whole change back (status row, registry row, audit entry)', async () => {
    service.register({
      onLicenceStatusChange: async () => {
        throw new Error('listener down');
      },
    });
    await expect(service.change({ licenceId: VALID.licenceId, status: 'SUSPENDED', reason: 'x', actor: 'ops' })).rejects.toThrow('listener down');
    expect(await service.current(VALID.licenceId)).toBeNull();
    expect((await ds.getRepository(LicenceEntity).findOneByOrFail({ licenceId: VALID.licenceId })).status).toBe('VALID');
    expect(await auditRows()).toEqual([]);
  });

  it('library source: a licence outside the registry is recorded with the type code from its id', async () => {
    const id = buildLicenceId({ typeCode: VALID.typeCode, issuerCode: VALID.issuerOrganCode, serial: 'LIB0000001', version: '001' });
    const c = await service.change({ licenceId: id, status: 'SUSPENDED', reason: 'feed', actor: 'library-feed', source: 'library', changedAt: new Date(Date.UTC(2026, 10, 1)) });
    expect(c).toMatchObject({ typeCode: VALID.typeCode, previous: 'VALID', version: 1, source: 'library', changedAt: new Date(Date.UTC(2026, 10, 1)) });
    expect(await ds.getRepository(LicenceEntity).countBy({ licenceId: id })).toBe(0);
  });

  it('a re-import of an older file does not bring a revoked licence back for verifications', async () => {
    await service.change({ licenceId: VALID.licenceId, status: 'REVOKED', reason: 'fraud', actor: 'ops' });
    await new LicenceImporter(ds, clock).importFile(DEMO_FILE);
    expect((await new DbLicenceLookup(ds).findById(VALID.licenceId))?.status).toBe('REVOKED');
    expect((await new DbLicenceLookup(ds).findByNumber(VALID.typeCode, VALID.number))?.status).toBe('REVOKED');
  });

  it('LicenceStatusAdmin: body checked strictly; the answer says whether anything changed', async () => {
    const admin = new LicenceStatusAdmin(service, new DbLicenceLookup(ds));
    const extra = await failure(admin.apply('suspend', VALID.licenceId, { reason: 'x', status: 'VALID' }, 'ops'));
    expect(extra.code).toBe('VALIDATION_FAILED');
    const missing = await failure(admin.apply('suspend', VALID.licenceId, {}, 'ops'));
    expect([missing.details.field, missing.details.rule]).toEqual(['reason', 'REQUIRED']);
    expect(await admin.apply('suspend', VALID.licenceId, { reason: 'inspection' }, 'ops')).toEqual({
      licenceId: VALID.licenceId,
      status: 'SUSPENDED',
      previous: 'VALID',
      version: 1,
      changedAt: new Date(clock.t).toISOString(),
      changed: true,
    });
    expect(await admin.apply('suspend', VALID.licenceId, { reason: 'again' }, 'ops')).toEqual({
      licenceId: VALID.licenceId,
      status: 'SUSPENDED',
      version: 1,
      changedAt: new Date(clock.t).toISOString(),
      changed: false,
    });
    expect((await failure(admin.show('1.2.3'))).details.field).toBe('licenceId');
  });
});
