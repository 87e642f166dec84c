import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { calculateJwkThumbprint, JWK } from 'jose';
import { DataSource } from 'typeorm';
import { AuditEventEntity, AuditLog } from '@tongban/audit';
import { Clock, DomainException, ParticipantDirectory, ValidationException } from '@tongban/common';
import { DatabaseTarget, buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { PeerEntity } from './peer.entity';
import { PeerKeyEntity } from './peer-key.entity';
import { TrustStore } from './trust-store.service';

class TestClock extends Clock {
  constructor(private t = Date.UTC(2025, 2, 1, 0, 0, 0)) {
    super();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const SELF = '440000';
const ADMIN = 'admin:alice';
const participants = ParticipantDirectory.fromFile(join(__dirname, '..', '..', '..', 'data', 'participants.json'));
const BIZ_LICENCE = '11100000000013338W009';

/** A fresh public JWK (no kid) and its RFC 7638 thumbprint. */
async function newKey(kind: 'ed25519' | 'p256' = 'ed25519'): Promise<{ jwk: JWK; kid: string; privateJwk: JWK }> {
  const pair = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pair.publicKey.export({ format: 'jwk' }) as JWK;
  return { jwk, kid: await calculateJwkThumbprint(jwk, 'sha256'), privateJwk: pair.privateKey.export({ format: 'jwk' }) as JWK };
}

async function caught(p: Promise<unknown>): Promise<DomainException> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DomainException);
  return e as DomainException;
}

describeEachDatabase('TrustStore', (fresh) => {
  const open: DataSource[] = [];
  let clock: TestClock;
  let ds: DataSource;
  let target: DatabaseTarget;
  let audit: AuditLog;
  let store: TrustStore;

  const connect = async (t: DatabaseTarget) => {
    const d = buildDataSource(t, [PeerEntity, PeerKeyEntity, AuditEventEntity]);
    open.push(d);
    return openDatabase(d);
  };
  const newStore = async (d: DataSource) => {
    const s = new TrustStore(d, clock, participants, SELF, new AuditLog(d, clock));
    await s.refresh();
    return s;
  };
  const dbState = async (d = ds) => ({
    peers: (await d.getRepository(PeerEntity).find({ order: { code: 'ASC' } })).map((p) => ({ ...p })),
    keys: (await d.getRepository(PeerKeyEntity).find({ order: { peerCode: 'ASC', kid: 'ASC' } })).map((k) => ({ ...k })),
  });

  beforeEach(async () => {
    clock = new TestClock();
    target = fresh();
    ds = await connect(target);
    audit = new AuditLog(ds, clock);
    store = new TrustStore(ds, clock, participants, SELF, audit);
    await store.refresh();
  });

  afterEach(async () => {
    for (const d of open.splice(0)) if (d.isInitialized) await d.destroy();
  });

  it('a reload that fails is tried again until one succeeds: a committed change does not stay out of the snapshot', async () => {
    // Another writer (a replica, the CLI, the directory) suspends a peer this store holds as ACTIVE.
    await store.create({ code: '110000', endpoint: 'gw.bj.example:9443' }, ADMIN);
    await (await newStore(ds)).update('110000', { status: 'SUSPENDED' }, ADMIN);
    expect(store.peer('110000')!.status).toBe('ACTIVE');
    const find = jest.spyOn(ds.getRepository(PeerEntity), 'find').mockRejectedValueOnce(new Error('SQLITE_IOERR: disk I/O error'));
    try {
      const reloaded = new Promise<void>((resolve) => {
        const off = store.onRefresh(() => {
          off();
          resolve();
        });
      });
      // The caller is told; the store tries again by itself (first after 0.5 s).
      await expect(store.refresh()).rejects.toThrow('disk I/O error');
      expect(store.peer('110000')!.status).toBe('ACTIVE');
      await reloaded;
      expect(store.peer('110000')!.status).toBe('SUSPENDED');
      expect(find).toHaveBeenCalledTimes(2);
    } finally {
      find.mockRestore();
    }
  });

  it('creates, lists, gets and updates peers', async () => {
    expect(store.list()).toEqual([]);
    const bj = await store.create({ code: '110000', endpoint: 'gw.bj.example:9443' }, ADMIN);
    expect(bj).toEqual({
      code: '110000',
      name: '北京市',
      endpoint: 'gw.bj.example:9443',
      status: 'ACTIVE',
      allowedLicenceTypes: ['*'],
      allowedItems: ['*'],
      allowedRoles: ['*'],
      rateLimitPerSecond: null,
      allowedAlgs: null,
      allowNotices: true,
      keys: [],
    });
    clock.advance(1000);
    await store.create({ code: '130000', name: 'Hebei GW', endpoint: '10.0.0.3:9001', allowedLicenceTypes: [BIZ_LICENCE], status: 'SUSPENDED' }, ADMIN);

    expect(store.list().map((p) => [p.code, p.name, p.status])).toEqual([
      ['110000', '北京市', 'ACTIVE'],
      ['130000', 'Hebei GW', 'SUSPENDED'],
    ]);
    expect(store.get('130000').allowedLicenceTypes).toEqual([BIZ_LICENCE]);
    const hebei = store.peer('130000')!;
    expect(store.allowsLicenceType(hebei, BIZ_LICENCE)).toBe(true);
    expect(store.allowsLicenceType(hebei, '11100000000013338W011')).toBe(false);
    expect(store.allowsLicenceType(store.peer('110000')!, '11100000000013338W011')).toBe(true);
    expect((await caught(Promise.resolve().then(() => store.get('120000')))).code).toBe('NOT_FOUND');

    clock.advance(5000);
    const updated = await store.update('130000', { status: 'ACTIVE', endpoint: 'gw.he.example:9443', allowedLicenceTypes: ['*'] }, ADMIN);
    expect(updated).toMatchObject({ code: '130000', name: 'Hebei GW', status: 'ACTIVE', endpoint: 'gw.he.example:9443', allowedLicenceTypes: ['*'] });
    // Per-peer algorithm policy round-trips through the database (and back to null).
    expect((await store.update('130000', { allowedAlgs: ['SM2SM3'] }, ADMIN)).allowedAlgs).toEqual(['SM2SM3']);
    expect(store.peer('130000')!.allowedAlgs).toEqual(['SM2SM3']);
    expect((await caught(store.update('130000', { allowedAlgs: ['none'] }, ADMIN))).code).toBe('VALIDATION_FAILED');
    expect((await store.update('130000', { allowedAlgs: null }, ADMIN)).allowedAlgs).toBeNull();
    const row = await ds.getRepository(PeerEntity).findOneByOrFail({ code: '130000' });
    expect(row).toMatchObject({ status: 'ACTIVE', endpoint: 'gw.he.example:9443', allowedLicenceTypes: ['*'] });
    expect(row.createdAt.getTime()).toBe(Date.UTC(2025, 2, 1, 0, 0, 1));
    expect(row.updatedAt.getTime()).toBe(clock.now().getTime());

    expect((await caught(store.update('120000', { status: 'ACTIVE' }, ADMIN))).code).toBe('NOT_FOUND');
    const bad = await caught(store.update('130000', { endpoint: 'no-port' }, ADMIN));
    expect(bad).toBeInstanceOf(ValidationException);
    expect(bad.details.field).toBe('endpoint');
    expect((await ds.getRepository(PeerEntity).findOneByOrFail({ code: '130000' })).endpoint).toBe('gw.he.example:9443');
  });

  it('computes kid as the RFC 7638 thumbprint and stores only public parts', async () => {
    const ed = await newKey('ed25519');
    const ec = await newKey('p256');
    const view = await store.create({ code: '110000', endpoint: 'h:1', keys: [ed.jwk, { ...ec.jwk, kid: ec.kid, alg: 'ES256', use: 'sig' }] }, ADMIN);
    expect(view.keys.map((k) => [k.kid, k.alg, k.status]).sort()).toEqual(
      [
        [ed.kid, 'EdDSA', 'ACTIVE'],
        [ec.kid, 'ES256', 'ACTIVE'],
      ].sort(),
    );
    const keys = store.peer('110000')!.keys;
    expect(keys.get(ed.kid)!.jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: ed.jwk.x, kid: ed.kid, alg: 'EdDSA', use: 'sig' });
    expect(keys.get(ec.kid)!.key.asymmetricKeyType).toBe('ec');
    expect(keys.get(ed.kid)!.addedAt.getTime()).toBe(clock.now().getTime());
    const rows = await ds.getRepository(PeerKeyEntity).findBy({ peerCode: '110000' });
    expect(rows.map((r) => r.kid).sort()).toEqual([ed.kid, ec.kid].sort());
    for (const r of rows) expect(JSON.parse(r.publicJwk)).not.toHaveProperty('d');
  });

  it('rejects a wrong kid, private key material, an unknown participant and its own code, writing nothing', async () => {
    const k = await newKey();
    const other = await newKey();
    const wrongKid = await caught(store.create({ code: '110000', endpoint: 'h:1', keys: [{ ...k.jwk, kid: other.kid }] }, ADMIN));
    expect(wrongKid).toBeInstanceOf(ValidationException);
    expect(wrongKid.details).toEqual({ field: 'keys.0.kid', rule: 'KID_THUMBPRINT' });

    const second = await caught(store.create({ code: '110000', endpoint: 'h:1', keys: [k.jwk, { ...other.jwk, kid: k.kid }] }, ADMIN));
    expect(second.details).toEqual({ field: 'keys.1.kid', rule: 'KID_THUMBPRINT' });

    const priv = await caught(store.create({ code: '110000', endpoint: 'h:1', keys: [k.privateJwk] }, ADMIN));
    expect(priv).toBeInstanceOf(ValidationException);
    expect(priv.details.rule).toBe('PRIVATE_KEY_MATERIAL');
    expect(priv.details.field).toBe('keys.0.d');
    expect(priv.message).not.toContain(k.privateJwk.d);

    const unknown = await caught(store.create({ code: '990000', endpoint: 'h:1' }, ADMIN));
    expect(unknown).toBeInstanceOf(ValidationException);
    expect(unknown.details).toEqual({ field: 'code', rule: 'UNKNOWN_PARTICIPANT' });

    const self = await caught(store.create({ code: SELF, endpoint: 'h:1' }, ADMIN));
    expect(self).toBeInstanceOf(ValidationException);
    expect(self.details).toEqual({ field: 'code', rule: 'SELF' });

    expect(await dbState()).toEqual({ peers: [], keys: [] });
    expect(await audit.list()).toEqual([]);
    expect(store.list()).toEqual([]);
  });

  it('refuses a duplicate create with CONFLICT and leaves the database unchanged', async () => {
    const k = await newKey();
    await store.create({ code: '110000', name: 'first', endpoint: 'h:1', keys: [k.jwk] }, ADMIN);
    const before = await dbState();
    const auditBefore = (await audit.list()).length;

    clock.advance(60_000);
    const other = await newKey();
    const dup = await caught(store.create({ code: '110000', name: 'second', endpoint: 'h:2', allowedLicenceTypes: [BIZ_LICENCE], keys: [other.jwk] }, ADMIN));
    expect(dup.code).toBe('CONFLICT');
    expect(dup).not.toBeInstanceOf(ValidationException);

    expect(await dbState()).toEqual(before);
    expect(before.keys.map((r) => r.kid)).toEqual([k.kid]);
    expect((await audit.list()).length).toBe(auditBefore);
    expect(store.get('110000')).toMatchObject({ name: 'first', endpoint: 'h:1', allowedLicenceTypes: ['*'] });
  });

  it('addKey and setKeyStatus are reflected in peer(code).keys and in the database', async () => {
    const a = await newKey();
    await store.create({ code: '110000', endpoint: 'h:1', keys: [a.jwk] }, ADMIN);
    const b = await newKey('p256');
    clock.advance(1000);
    const view = await store.addKey('110000', { ...b.jwk, kid: b.kid }, ADMIN);
    expect(view.keys.map((k) => k.kid).sort()).toEqual([a.kid, b.kid].sort());
    expect(store.peer('110000')!.keys.get(b.kid)).toMatchObject({ alg: 'ES256', status: 'ACTIVE' });
    expect(store.peer('110000')!.keys.get(b.kid)!.addedAt.getTime()).toBe(clock.now().getTime());

    expect((await caught(store.addKey('110000', a.jwk, ADMIN))).code).toBe('CONFLICT');
    const badKid = await caught(store.addKey('110000', { ...(await newKey()).jwk, kid: a.kid }, ADMIN));
    expect(badKid.details).toEqual({ field: 'kid', rule: 'KID_THUMBPRINT' });
    expect((await caught(store.addKey('120000', (await newKey()).jwk, ADMIN))).code).toBe('NOT_FOUND');

    clock.advance(1000);
    const retiredAt = clock.now().getTime();
    await store.setKeyStatus('110000', a.kid, { status: 'RETIRED' }, ADMIN);
    expect(store.peer('110000')!.keys.get(a.kid)!.status).toBe('RETIRED');
    clock.advance(1000);
    await store.setKeyStatus('110000', b.kid, { status: 'REVOKED' }, ADMIN);
    expect(store.peer('110000')!.keys.get(b.kid)!.status).toBe('REVOKED');
    expect(
      store
        .get('110000')
        .keys.map((k) => [k.kid, k.status])
        .sort(),
    ).toEqual(
      [
        [a.kid, 'RETIRED'],
        [b.kid, 'REVOKED'],
      ].sort(),
    );
    const rows = await ds.getRepository(PeerKeyEntity).find();
    expect(rows.find((r) => r.kid === a.kid)).toMatchObject({ status: 'RETIRED' });
    expect(rows.find((r) => r.kid === a.kid)!.retiredAt!.getTime()).toBe(retiredAt);
    expect(rows.find((r) => r.kid === b.kid)!.retiredAt!.getTime()).toBe(clock.now().getTime());

    await store.setKeyStatus('110000', a.kid, { status: 'ACTIVE' }, ADMIN);
    expect(store.peer('110000')!.keys.get(a.kid)!.status).toBe('ACTIVE');
    expect((await ds.getRepository(PeerKeyEntity).findOneByOrFail({ kid: a.kid })).retiredAt).toBeNull();

    expect((await caught(store.setKeyStatus('110000', 'nope', { status: 'RETIRED' }, ADMIN))).code).toBe('NOT_FOUND');
    const badStatus = await caught(store.setKeyStatus('110000', a.kid, { status: 'DELETED' }, ADMIN));
    expect(badStatus.details.field).toBe('status');
    expect(store.peer('110000')!.keys.get(a.kid)!.status).toBe('ACTIVE');
  });

  it('a second TrustStore on the same database sees changes after refresh()', async () => {
    const replicaDs = await connect(target);
    const replica = await newStore(replicaDs);
    expect(replica.list()).toEqual([]);

    const k = await newKey();
    await store.create({ code: '110000', endpoint: 'h:1', keys: [k.jwk] }, ADMIN);
    // Reads come from the snapshot: nothing yet.
    expect(replica.peer('110000')).toBeUndefined();
    await replica.refresh();
    expect(replica.get('110000')).toEqual(store.get('110000'));

    await store.update('110000', { status: 'SUSPENDED' }, ADMIN);
    await store.setKeyStatus('110000', k.kid, { status: 'REVOKED' }, ADMIN);
    expect(replica.peer('110000')!.status).toBe('ACTIVE');
    expect(replica.peer('110000')!.keys.get(k.kid)!.status).toBe('ACTIVE');
    await replica.refresh();
    expect(replica.peer('110000')!.status).toBe('SUSPENDED');
    expect(replica.peer('110000')!.keys.get(k.kid)!.status).toBe('REVOKED');

    // And the other way round.
    await replica.create({ code: '130000', endpoint: 'h:3' }, 'admin:bob');
    await store.refresh();
    expect(store.list().map((p) => p.code)).toEqual(['110000', '130000']);
  });

  it('calls refresh listeners with the new snapshot after an admin change and a periodic refresh (what preconnect follows)', async () => {
    const seen: string[][] = [];
    const stop = store.onRefresh(() => seen.push([...store.allPeers()].map((p) => `${p.code}@${p.endpoint}`)));
    await store.create({ code: '110000', endpoint: 'h:1' }, ADMIN);
    await store.update('110000', { endpoint: 'h:2' }, ADMIN);
    await store.refresh();
    stop();
    await store.refresh();
    expect(seen).toEqual([['110000@h:1'], ['110000@h:2'], ['110000@h:2']]);
  });

  it('a refresh keeps the key object of an unchanged key and imports a changed one anew', async () => {
    const k = await newKey();
    await store.create({ code: '110000', endpoint: 'h:1', keys: [k.jwk] }, ADMIN);
    const before = store.peer('110000')!.keys.get(k.kid)!.key;
    await store.update('110000', { status: 'SUSPENDED' }, ADMIN);
    await store.refresh();
    // The same object (what it caches, e.g. an SM2 comb table, survives), with the new snapshot around it.
    expect(store.peer('110000')!.status).toBe('SUSPENDED');
    expect(store.peer('110000')!.keys.get(k.kid)!.key).toBe(before);

    // The stored JWK changed under the same kid (written by another replica or by hand): a new import of the new key.
    const other = await newKey();
    await ds.getRepository(PeerKeyEntity).update({ peerCode: '110000', kid: k.kid }, { publicJwk: JSON.stringify(other.jwk) });
    await store.refresh();
    const after = store.peer('110000')!.keys.get(k.kid)!.key;
    expect(after).not.toBe(before);
    expect(after.export({ format: 'jwk' })).toMatchObject({ x: other.jwk.x });
  });

  it('writes an audit row for every admin change', async () => {
    const k = await newKey();
    const k2 = await newKey();
    await store.create({ code: '110000', endpoint: 'h:1', keys: [k.jwk] }, ADMIN);
    clock.advance(1);
    await store.update('110000', { name: 'BJ', status: 'SUSPENDED' }, 'admin:bob');
    clock.advance(1);
    await store.addKey('110000', k2.jwk, ADMIN);
    clock.advance(1);
    await store.setKeyStatus('110000', k.kid, { status: 'RETIRED' }, ADMIN);
    // Failed changes are not audited as changes.
    await store.create({ code: '110000', endpoint: 'h:1' }, ADMIN).catch(() => undefined);

    const rows = await audit.list();
    expect(rows.map((r) => [r.event, r.actor, r.subject, r.outcome])).toEqual([
      ['admin.peer.created', ADMIN, '110000', 'OK'],
      ['admin.peer.updated', 'admin:bob', '110000', 'OK'],
      ['admin.peer.key.added', ADMIN, `110000/${k2.kid}`, 'OK'],
      ['admin.peer.key.status_changed', ADMIN, `110000/${k.kid}`, 'OK'],
    ]);
    const t0 = Date.UTC(2025, 2, 1, 0, 0, 0);
    expect(rows.map((r) => r.at.getTime())).toEqual([t0, t0 + 1, t0 + 2, t0 + 3]);
    expect(JSON.parse(rows[0].details!)).toEqual({ endpoint: 'h:1', keys: k.kid });
    expect(JSON.parse(rows[1].details!)).toEqual({ changed: 'name,status', status: 'SUSPENDED' });
    expect(JSON.parse(rows[3].details!)).toEqual({ status: 'RETIRED' });
    // Written before the call returned, not batched: the rows are there without flushing.
    expect(await ds.getRepository(AuditEventEntity).count()).toBe(4);
  });
});
