import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { JWK } from 'jose';
import { DataSource } from 'typeorm';
import { Clock, ParticipantDirectory } from '@tongban/common';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { PeerEntity, PeerKeyEntity, TrustStore } from '@tongban/trust';
import { DirectoryApplier } from './directory-applier';
import { DirectoryDocument, jwkThumbprint } from './directory-document';
import { DirectoryStateEntity } from './directory-state.entity';
import { generateAnchorKey, signDirectory } from './directory-signer';

const SELF = '440000';
const T0 = Date.UTC(2026, 10, 25);
const participants = ParticipantDirectory.fromFile(join(__dirname, '..', '..', '..', 'data', 'participants.json'));
const anchor = generateAnchorKey();

function newKey(): { kid: string; jwk: JWK } {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as JWK;
  return { kid: jwkThumbprint(jwk), jwk };
}

type Entry = { code: string; name?: string; endpoint: string; status?: 'ACTIVE' | 'SUSPENDED'; keys: { key: { kid: string; jwk: JWK }; status: 'ACTIVE' | 'RETIRED' | 'REVOKED' }[] };

async function signed(serial: number, entries: Entry[]): Promise<{ doc: DirectoryDocument; jws: string }> {
  const { document, jws } = await signDirectory(
    {
      serial,
      issuedAt: new Date(T0).toISOString(),
      notBefore: new Date(T0).toISOString(),
      notAfter: new Date(T0 + 30 * 86_400_000).toISOString(),
      participants: entries.map((e) => ({
        code: e.code,
        name: e.name ?? `P${e.code}`,
        endpoint: e.endpoint,
        status: e.status ?? 'ACTIVE',
        keys: e.keys.map((k) => ({ kid: k.key.kid, jwk: k.key.jwk, status: k.status })),
      })),
    },
    anchor.privateJwk,
  );
  return { doc: document, jws };
}

class FixedClock extends Clock {
  now(): Date {
    return new Date(T0);
  }
}

describeEachDatabase('DirectoryApplier', (fresh) => {
  let ds: DataSource;
  let applier: DirectoryApplier;
  const at = new Date(T0);
  const always = async () => true;

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [PeerEntity, PeerKeyEntity, DirectoryStateEntity]));
    applier = new DirectoryApplier(ds, participants, SELF);
  });
  afterEach(async () => {
    await ds.destroy();
  });

  const peer = (code: string) => ds.getRepository(PeerEntity).findOneBy({ code });
  const keyStatus = async (code: string, kid: string) => (await ds.getRepository(PeerKeyEntity).findOneBy({ peerCode: code, kid }))?.status;
  const localPeer = async (code: string, endpoint: string, status: 'ACTIVE' | 'SUSPENDED', keys: [{ kid: string; jwk: JWK }, 'ACTIVE' | 'RETIRED' | 'REVOKED'][]) => {
    await ds.getRepository(PeerEntity).insert({
      code,
      name: `local ${code}`,
      endpoint,
      status,
      allowedLicenceTypes: ['11100000000013338W009'],
      allowedItems: ['HUKOU_WORK_TRANSFER'],
      rateLimitPerSecond: 5,
      createdAt: at,
      updatedAt: at,
    });
    for (const [k, s] of keys) {
      await ds.getRepository(PeerKeyEntity).insert({
        peerCode: code,
        kid: k.kid,
        alg: 'EdDSA',
        publicJwk: JSON.stringify({ ...k.jwk, kid: k.kid, alg: 'EdDSA', use: 'sig' }),
        status: s,
        addedAt: at,
        retiredAt: s === 'ACTIVE' ? null : at,
      });
    }
  };

  it('starts with an empty state row', async () => {
    expect(await applier.load()).toEqual({ serial: null, jws: null, appliedAt: null, notAfter: null });
  });

  it('adds new participants with their keys (not ourselves, not unknown codes), usable by the trust store, and records the state', async () => {
    const [bj1, bj2, gd] = [newKey(), newKey(), newKey()];
    const { doc, jws } = await signed(7, [
      {
        code: '110000',
        name: '北京市',
        endpoint: 'bj.example.cn:9011',
        keys: [
          { key: bj1, status: 'ACTIVE' },
          { key: bj2, status: 'REVOKED' },
        ],
      },
      { code: SELF, endpoint: 'gd.example.cn:9044', keys: [{ key: gd, status: 'ACTIVE' }] },
      { code: '990000', endpoint: 'x.example:1', keys: [] },
      { code: '130000', endpoint: 'hb.example.cn:9013', status: 'SUSPENDED', keys: [] },
    ]);
    await localPeer('650000', 'xj.example.cn:9065', 'ACTIVE', []);
    const changes = await applier.apply(doc, jws, at, always);
    expect(changes).toEqual({ added: ['110000', '130000'], updated: [], keysAdded: 2, keysChanged: 0, skipped: ['990000'], notListed: ['650000'] });
    expect(await peer('110000')).toMatchObject({ name: '北京市', endpoint: 'bj.example.cn:9011', status: 'ACTIVE', allowedLicenceTypes: ['*'], allowedItems: ['*'], rateLimitPerSecond: null });
    expect(await peer('130000')).toMatchObject({ status: 'SUSPENDED' });
    expect(await peer(SELF)).toBeNull();
    expect(await peer('990000')).toBeNull();
    expect(await peer('650000')).toMatchObject({ endpoint: 'xj.example.cn:9065' });
    expect(await applier.load()).toEqual({ serial: 7, jws, appliedAt: at, notAfter: new Date(doc.notAfter) });

    const trust = new TrustStore(ds, new FixedClock(), participants, SELF, {} as never);
    await trust.refresh();
    const keys = trust.peer('110000')!.keys;
    expect([...keys.values()].map((k) => [k.kid, k.status, k.alg, k.jwk.use])).toEqual(
      expect.arrayContaining([
        [bj1.kid, 'ACTIVE', 'EdDSA', 'sig'],
        [bj2.kid, 'REVOKED', 'EdDSA', 'sig'],
      ]),
    );
  });

  it('on first listing of a known peer: directory endpoint and name, local suspension and policy kept, key statuses only tightened', async () => {
    const [a, b, c, d] = [newKey(), newKey(), newKey(), newKey()];
    await localPeer('130000', 'old.example:9013', 'SUSPENDED', [
      [a, 'RETIRED'],
      [b, 'ACTIVE'],
      [c, 'REVOKED'],
    ]);
    const { doc, jws } = await signed(1, [
      {
        code: '130000',
        name: '河北省',
        endpoint: 'hb.example.cn:9013',
        keys: [
          { key: a, status: 'ACTIVE' },
          { key: b, status: 'RETIRED' },
          { key: c, status: 'ACTIVE' },
          { key: d, status: 'ACTIVE' },
        ],
      },
    ]);
    expect(await applier.apply(doc, jws, at, always)).toMatchObject({ added: [], updated: ['130000'], keysAdded: 1, keysChanged: 1 });
    expect(await peer('130000')).toMatchObject({
      name: '河北省',
      endpoint: 'hb.example.cn:9013',
      status: 'SUSPENDED',
      allowedLicenceTypes: ['11100000000013338W009'],
      allowedItems: ['HUKOU_WORK_TRANSFER'],
      rateLimitPerSecond: 5,
    });
    expect([await keyStatus('130000', a.kid), await keyStatus('130000', b.kid), await keyStatus('130000', c.kid), await keyStatus('130000', d.kid)]).toEqual([
      'RETIRED',
      'RETIRED',
      'REVOKED',
      'ACTIVE',
    ]);
  });

  it('later directories apply their changes only; local overrides stand until the directory changes the same thing; never un-revoke', async () => {
    const [a, b, c] = [newKey(), newKey(), newKey()];
    const v1 = await signed(1, [
      {
        code: '110000',
        endpoint: 'bj-1.example:9011',
        keys: [
          { key: a, status: 'ACTIVE' },
          { key: b, status: 'ACTIVE' },
          { key: c, status: 'ACTIVE' },
        ],
      },
    ]);
    await applier.apply(v1.doc, v1.jws, at, always);
    // A local admin moves the endpoint, retires a, revokes b and suspends the peer.
    await ds.getRepository(PeerEntity).update({ code: '110000' }, { endpoint: 'private-line:9011', status: 'SUSPENDED' });
    await ds.getRepository(PeerKeyEntity).update({ peerCode: '110000', kid: a.kid }, { status: 'RETIRED' });
    await ds.getRepository(PeerKeyEntity).update({ peerCode: '110000', kid: b.kid }, { status: 'REVOKED' });

    // Serial 2 changes nothing about 110000: every local decision stands.
    const v2 = await signed(2, [
      {
        code: '110000',
        endpoint: 'bj-1.example:9011',
        keys: [
          { key: a, status: 'ACTIVE' },
          { key: b, status: 'ACTIVE' },
          { key: c, status: 'ACTIVE' },
        ],
      },
    ]);
    expect(await applier.apply(v2.doc, v2.jws, at, always)).toMatchObject({ updated: [], keysChanged: 0 });
    expect(await peer('110000')).toMatchObject({ endpoint: 'private-line:9011', status: 'SUSPENDED' });

    // Serial 3 moves the endpoint, suspends then (serial 4) lifts its own suspension, revokes c.
    const v3 = await signed(3, [
      {
        code: '110000',
        endpoint: 'bj-2.example:9011',
        status: 'SUSPENDED',
        keys: [
          { key: a, status: 'ACTIVE' },
          { key: b, status: 'ACTIVE' },
          { key: c, status: 'REVOKED' },
        ],
      },
    ]);
    await ds.getRepository(PeerEntity).update({ code: '110000' }, { status: 'ACTIVE' });
    expect(await applier.apply(v3.doc, v3.jws, at, always)).toMatchObject({ updated: ['110000'], keysChanged: 1 });
    expect(await peer('110000')).toMatchObject({ endpoint: 'bj-2.example:9011', status: 'SUSPENDED' });
    expect(await keyStatus('110000', c.kid)).toBe('REVOKED');

    const v4 = await signed(4, [
      {
        code: '110000',
        endpoint: 'bj-2.example:9011',
        status: 'ACTIVE',
        keys: [
          { key: a, status: 'RETIRED' },
          { key: b, status: 'RETIRED' },
          { key: c, status: 'ACTIVE' },
        ],
      },
    ]);
    await applier.apply(v4.doc, v4.jws, at, always);
    expect(await peer('110000')).toMatchObject({ status: 'ACTIVE' });
    // a: the directory changed it (ACTIVE → RETIRED) and it is RETIRED; b and c: revoked here, never back.
    expect([await keyStatus('110000', a.kid), await keyStatus('110000', b.kid), await keyStatus('110000', c.kid)]).toEqual(['RETIRED', 'REVOKED', 'REVOKED']);

    // The directory brings a key back only when it changed it itself (RETIRED → ACTIVE).
    const v5 = await signed(5, [{ code: '110000', endpoint: 'bj-2.example:9011', keys: [{ key: a, status: 'ACTIVE' }] }]);
    await applier.apply(v5.doc, v5.jws, at, always);
    expect(await keyStatus('110000', a.kid)).toBe('ACTIVE');
  });

  it('applies nothing when the check inside the transaction says the stored directory is not older', async () => {
    const v1 = await signed(1, [{ code: '110000', endpoint: 'bj.example:9011', keys: [] }]);
    await applier.apply(v1.doc, v1.jws, at, always);
    const v2 = await signed(2, [{ code: '110000', endpoint: 'moved.example:9011', keys: [] }]);
    let seen: unknown;
    expect(
      await applier.apply(v2.doc, v2.jws, at, async (stored) => {
        seen = stored;
        return false;
      }),
    ).toBeNull();
    expect(seen).toMatchObject({ serial: 1, jws: v1.jws });
    expect(await peer('110000')).toMatchObject({ endpoint: 'bj.example:9011' });
    expect((await applier.load()).serial).toBe(1);
  });
});
