import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AuditCheckpointEntity, AuditEventEntity, AuditLog } from '@tongban/audit';
import { Clock } from '@tongban/common';
import { verifyJwsWithKeySet } from '@tongban/gm';
import { KeyStore, SigningKeyEntity } from '@tongban/keys';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { LicenceImporter } from '../licence-importer.service';
import { LicenceRecord } from '../licence-record';
import { LicenceStatusService } from '../licence-status';
import { LicenceStatusEntity } from '../licence-status.entity';
import { LicenceEntity } from '../licence.entity';
import { STATUS_LIST_SIZE } from './bitstring';
import { STATUS_LIST_TYP, StatusListClaims } from './status-list-claims';
import { StatusListEntryEntity } from './status-list-entry.entity';
import { StatusListIndex } from './status-list-index';
import { StatusListPublisher } from './status-list-publisher';
import { decodeStatusList, listedEntry } from './status-list-reader';
import { StatusListEntity } from './status-list.entity';

jest.setTimeout(90_000);

class TestClock extends Clock {
  t = Date.UTC(2026, 11, 3, 1, 0, 0);
  now(): Date {
    return new Date(this.t);
  }
}

const DEMO = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'deploy', 'demo', 'licences-110000.json'), 'utf8')) as LicenceRecord[];
const claimsOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1], 'base64url').toString('utf8')) as StatusListClaims;

describeEachDatabase('status lists (index assignment, regeneration on change, signing)', (fresh) => {
  for (const alg of ['EdDSA', 'SM2SM3'] as const) {
    describe(alg, () => {
      let ds: DataSource;
      let clock: TestClock;
      let keys: KeyStore;
      let status: LicenceStatusService;
      let index: StatusListIndex;
      let publisher: StatusListPublisher;

      beforeEach(async () => {
        clock = new TestClock();
        ds = await openDatabase(buildDataSource(fresh(), [LicenceEntity, LicenceStatusEntity, StatusListEntity, StatusListEntryEntity, AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity]));
        await new LicenceImporter(ds, clock).importRecords(DEMO);
        keys = new KeyStore(ds, clock, { keyEncryptionSecret: 'x'.repeat(32), signingAlg: alg });
        await keys.init();
        status = new LicenceStatusService(ds, clock, new AuditLog(ds, clock));
        index = new StatusListIndex(ds);
        publisher = new StatusListPublisher(ds, clock, keys, status, '110000', { ttlSeconds: 60 });
        status.register(publisher);
      });

      afterEach(async () => {
        await publisher.onModuleDestroy();
        if (ds?.isInitialized) await ds.destroy();
      });

      it('gives each licence one random index, stable across calls, unique in its list', async () => {
        const refs = await Promise.all(DEMO.map((r) => index.refFor(r.licenceId, r.typeCode, r.status)));
        const again = await new StatusListIndex(ds).refFor(DEMO[0].licenceId, DEMO[0].typeCode, DEMO[0].status);
        expect(again).toEqual(refs[0]);
        expect(refs.every((r) => Number.isInteger(r.idx) && r.idx >= 0 && r.idx < STATUS_LIST_SIZE)).toBe(true);
        const byList = new Map<string, Set<number>>();
        for (const r of refs) byList.set(r.list, (byList.get(r.list) ?? new Set()).add(r.idx));
        expect([...byList.values()].reduce((n, s) => n + s.size, 0)).toBe(DEMO.length);
        expect(await ds.getRepository(StatusListEntryEntity).count()).toBe(DEMO.length);
        const lists = await ds.getRepository(StatusListEntity).find();
        expect(lists.reduce((n, l) => n + l.assigned, 0)).toBe(DEMO.length);
      });

      it('first sights in the same turn share one transaction: no index twice, lists roll over at half full, two replicas agree', async () => {
        // 64-entry lists: 300 licences fill ten of them to half, so draws collide and lists roll over.
        const ids = Array.from({ length: 300 }, (_, i) => `T-${String(i).padStart(4, '0')}`);
        const a = new StatusListIndex(ds);
        const b = new StatusListIndex(ds);
        a.listSize = b.listSize = 64;
        // Each licence asked for by both instances at once (a replica each), half of them twice by one.
        const asked = await Promise.all(ids.flatMap((id, i) => [a.refFor(id, 'T1', 'VALID'), b.refFor(id, 'T1', i % 2 ? 'REVOKED' : 'VALID'), ...(i % 2 ? [] : [a.refFor(id, 'T1', 'VALID')])]));
        const stored = await ds.getRepository(StatusListEntryEntity).find({ where: ids.map((licenceId) => ({ licenceId })) });
        expect(stored).toHaveLength(ids.length);
        const byId = new Map(stored.map((e) => [e.licenceId, { list: e.listId, idx: e.idx }]));
        let k = 0;
        ids.forEach((id, i) => {
          for (let n = i % 2 ? 2 : 3; n > 0; n--) expect(asked[k++]).toEqual(byId.get(id));
        });
        expect(new Set(stored.map((e) => `${e.listId}/${e.idx}`)).size).toBe(ids.length);
        const lists = await ds.getRepository(StatusListEntity).find({ where: { typeCode: 'T1' }, order: { seq: 'ASC' } });
        expect(lists.map((l) => l.seq)).toEqual(lists.map((_, i) => i));
        for (const l of lists) {
          const inList = stored.filter((e) => e.listId === l.listId);
          expect(l.assigned).toBe(inList.length);
          expect(l.assigned).toBeLessThanOrEqual(32);
          expect(inList.every((e) => e.idx >= 0 && e.idx < 64)).toBe(true);
        }
        expect(lists.slice(0, -1).every((l) => l.assigned === 32)).toBe(true);
      });

      it('a status change marks the list dirty in its transaction; the regenerated list says REVOKED with the time, version +1, and verifies with the JWKS', async () => {
        const l = DEMO.find((r) => r.status === 'VALID')!;
        const ref = await index.refFor(l.licenceId, l.typeCode, l.status);
        const first = (await publisher.serve(ref.list))!;
        const c1 = claimsOf(first.jws);
        expect(c1).toMatchObject({ iss: '110000', sub: ref.list, ver: 1, ttl: 60, size: STATUS_LIST_SIZE, statusSize: 2, licenceType: l.typeCode, exp: c1.iat + 60 });
        expect(listedEntry(decodeStatusList(c1), ref.idx)).toEqual({ status: 'VALID', changedAt: null });

        clock.t += 5_000;
        await status.change({ licenceId: l.licenceId, status: 'REVOKED', reason: 'fraud', actor: 'ops' });
        // Not due by age (5 s of a 60 s ttl): only the dirty mark written with the change makes it regenerate.
        const second = (await publisher.serve(ref.list))!;
        const c2 = claimsOf(second.jws);
        expect(c2.ver).toBe(2);
        expect(listedEntry(decodeStatusList(c2), ref.idx)).toEqual({ status: 'REVOKED', changedAt: Math.floor(clock.t / 1000) });

        // Offline, with nothing but the issuer's published JWK Set.
        const v = verifyJwsWithKeySet(second.jws, keys.jwks(), [alg]);
        expect('problem' in v).toBe(false);
        expect(JSON.parse(Buffer.from(second.jws.split('.')[0], 'base64url').toString())).toMatchObject({ alg, typ: STATUS_LIST_TYP });

        // Re-signing without a change (the ttl timer) keeps the version.
        clock.t += 60_000;
        expect(await publisher.refreshDue()).toEqual(expect.arrayContaining([ref.list]));
        const third = claimsOf((await publisher.serve(ref.list))!.jws);
        expect([third.ver, third.iat]).toEqual([2, Math.floor(clock.t / 1000)]);
      });

      it('a licence imported as SUSPENDED is listed SUSPENDED from its first attestation', async () => {
        const s = DEMO.find((r) => r.status === 'SUSPENDED')!;
        const ref = await index.refFor(s.licenceId, s.typeCode, s.status);
        const c = claimsOf((await publisher.serve(ref.list))!.jws);
        expect(listedEntry(decodeStatusList(c), ref.idx).status).toBe('SUSPENDED');
      });
    });
  }
});
