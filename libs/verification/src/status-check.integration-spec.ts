import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AuditCheckpointEntity, AuditEventEntity, AuditLog } from '@tongban/audit';
import { Clock } from '@tongban/common';
import { FederationOptions, PeerClient, SignedTokenVerifier } from '@tongban/federation';
import { KeyStore, SigningKeyEntity, ownPublicKey } from '@tongban/keys';
import {
  LicenceEntity,
  LicenceImporter,
  LicenceRecord,
  LicenceStatusEntity,
  LicenceStatusService,
  StatusListEntity,
  StatusListEntryEntity,
  StatusListIndex,
  StatusListPublisher,
} from '@tongban/licences';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { GetStatusListPayload, StatusListPayload } from '@tongban/proto';
import { describeEachDatabase } from '@tongban/testkit';
import type { TrustStore } from '@tongban/trust';
import { AttestationStatusCheck } from './status-check.service';
import { StatusListCacheEntity } from './status-list-cache.entity';

jest.setTimeout(90_000);

// The asker's status check (docs/protocol-status.md §4) against lists signed by a real issuer
// (KeyStore, StatusListPublisher on a database of its own) with ES256 and SM2SM3 keys. Only the
// transport is replaced: the stand-in PeerClient answers GetStatusList from the issuer's publisher,
// as the issuer's gateway does, or fails as an unreachable one.
class TestClock extends Clock {
  t = Date.UTC(2026, 11, 3, 1, 0, 0);
  now(): Date {
    return new Date(this.t);
  }
}

const BJ = '110000';
const GD = '440000';
const DEMO = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'deploy', 'demo', 'licences-110000.json'), 'utf8')) as LicenceRecord[];
const REVOKED = DEMO.find((r) => r.status === 'REVOKED')!;
const VALID = DEMO.find((r) => r.status === 'VALID' && r.typeCode === REVOKED.typeCode)!;

describeEachDatabase('asker status check with ES256 and SM2SM3 status lists', (fresh) => {
  for (const alg of ['ES256', 'SM2SM3'] as const) {
    describe(alg, () => {
      let issuerDs: DataSource;
      let askerDs: DataSource;
      let clock: TestClock;
      let status: LicenceStatusService;
      let index: StatusListIndex;
      let publisher: StatusListPublisher;
      let check: AttestationStatusCheck;
      let issuerDown = false;
      let fetches = 0;

      beforeEach(async () => {
        clock = new TestClock();
        issuerDs = await openDatabase(
          buildDataSource(fresh(), [LicenceEntity, LicenceStatusEntity, StatusListEntity, StatusListEntryEntity, AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity]),
        );
        await new LicenceImporter(issuerDs, clock).importRecords(DEMO);
        const keys = new KeyStore(issuerDs, clock, { keyEncryptionSecret: 'x'.repeat(32), signingAlg: alg });
        await keys.init();
        status = new LicenceStatusService(issuerDs, clock, new AuditLog(issuerDs, clock));
        index = new StatusListIndex(issuerDs);
        publisher = new StatusListPublisher(issuerDs, clock, keys, status, BJ, { ttlSeconds: 60 });
        status.register(publisher);

        // The asker trusts the issuer's public key as the trust store would hold it.
        const kid = keys.activeKid();
        const trusted = { kid, alg, status: 'ACTIVE', key: ownPublicKey(alg, keys.publicJwk(kid)!) };
        const trust = { peer: (code: string) => (code === BJ ? { code, allowedAlgs: null, keys: new Map([[kid, trusted]]) } : undefined) } as unknown as TrustStore;
        const options: FederationOptions = { allowedAlgorithms: ['EdDSA', 'ES256', 'SM2SM3'], messageTtlSeconds: 120, clockSkewSeconds: 60, maxPayloadBytes: 1 << 20, peerDeadlineMs: 3000 };
        const verifier = new SignedTokenVerifier({ publicKey: () => undefined } as unknown as KeyStore, trust, options, GD);
        issuerDown = false;
        fetches = 0;
        const peers = {
          call: async (peer: string, rpc: string, bytes: Uint8Array) => {
            if (issuerDown || peer !== BJ || rpc !== 'GetStatusList') throw new Error('UNAVAILABLE');
            fetches += 1;
            const { listId } = GetStatusListPayload.decode(bytes);
            const list = (await publisher.serve(listId))!;
            return StatusListPayload.encode({ listId, version: list.version, statusListJws: list.jws }).finish();
          },
        } as unknown as PeerClient;
        askerDs = await openDatabase(buildDataSource(fresh(), [StatusListCacheEntity]));
        check = new AttestationStatusCheck(askerDs, clock, peers, verifier, {} as StatusListPublisher, GD);
      });

      afterEach(async () => {
        await publisher.onModuleDestroy();
        for (const ds of [issuerDs, askerDs]) if (ds?.isInitialized) await ds.destroy();
      });

      const attestedNow = (s: string) => ({ iat: Math.floor(clock.t / 1000), status: s });

      it(`verifies the ${alg} list, follows a revocation once the cached list is older than its ttl, and answers from the cache when the issuer is down`, async () => {
        const ref = await index.refFor(VALID.licenceId, VALID.typeCode, 'VALID');
        const first = await check.currentStatus(BJ, ref, attestedNow('VALID'));
        expect(first).toMatchObject({ status: 'VALID', changedAt: null, list: { id: ref.list, source: 'issuer', fresh: true, ttlSeconds: 60 } });
        const cached = await askerDs.getRepository(StatusListCacheEntity).findOneByOrFail({ issuer: BJ, listId: ref.list });
        expect(JSON.parse(Buffer.from(cached.jws.split('.')[0], 'base64url').toString())).toMatchObject({ alg, typ: 'tongban-status-list+jwt' });

        clock.t += 5_000;
        await status.change({ licenceId: VALID.licenceId, status: 'REVOKED', reason: 'fraud', actor: 'ops' });
        const revokedAt = Math.floor(clock.t / 1000);
        // Within the ttl the cached list answers (the asker's knowledge is as old as the list says).
        expect(await check.currentStatus(BJ, ref)).toMatchObject({ status: 'VALID', list: { source: 'cache', fresh: true } });
        clock.t += 61_000;
        const after = await check.currentStatus(BJ, ref);
        expect(after).toMatchObject({ status: 'REVOKED', changedAt: new Date(revokedAt * 1000).toISOString(), list: { source: 'issuer', fresh: true } });
        expect(after!.list!.version).toBeGreaterThan(first!.list!.version);

        issuerDown = true;
        clock.t += 61_000;
        const offline = await check.currentStatus(BJ, ref);
        expect(offline).toMatchObject({ status: 'REVOKED', reason: 'ISSUER_UNREACHABLE', list: { source: 'cache', fresh: false } });
        expect(offline!.list!.ageSeconds).toBeGreaterThan(60);
      });

      it('a cached list signed before the attestation that says otherwise is not used for it: a newer list is fetched', async () => {
        const validRef = await index.refFor(VALID.licenceId, VALID.typeCode, 'VALID');
        expect(await check.currentStatus(BJ, validRef, attestedNow('VALID'))).toMatchObject({ status: 'VALID', list: { source: 'issuer' } });
        expect(fetches).toBe(1);

        // A licence imported as REVOKED is attested for the first time a second later: its index is
        // handed out after the cached (still fresh) list was signed, so that list says VALID there.
        clock.t += 1_000;
        const revokedRef = await index.refFor(REVOKED.licenceId, REVOKED.typeCode, 'REVOKED');
        expect(revokedRef.list).toBe(validRef.list);
        const current = await check.currentStatus(BJ, revokedRef, attestedNow('REVOKED'));
        expect(current).toMatchObject({ status: 'REVOKED', list: { source: 'issuer', fresh: true } });
        expect(fetches).toBe(2);

        // An attestation the cached list agrees with costs no fetch.
        clock.t += 1_000;
        expect(await check.currentStatus(BJ, validRef, attestedNow('VALID'))).toMatchObject({ status: 'VALID', list: { source: 'cache' } });
        expect(fetches).toBe(2);
      });

      it('the same within one second: a list signed in the second of the attestation, before the licence had its index, is not used for it', async () => {
        // iat is whole seconds: a list cached earlier in the same second as the attestation is no newer
        // news than it (the mixed-algorithms e2e met this at random, answering VALID for a REVOKED licence).
        const validRef = await index.refFor(VALID.licenceId, VALID.typeCode, 'VALID');
        expect(await check.currentStatus(BJ, validRef, attestedNow('VALID'))).toMatchObject({ status: 'VALID', list: { source: 'issuer' } });
        clock.t += 300;
        const revokedRef = await index.refFor(REVOKED.licenceId, REVOKED.typeCode, 'REVOKED');
        expect(revokedRef.list).toBe(validRef.list);
        expect(await check.currentStatus(BJ, revokedRef, attestedNow('REVOKED'))).toMatchObject({ status: 'REVOKED', list: { source: 'issuer', fresh: true } });
        expect(fetches).toBe(2);
      });
    });
  }
});
