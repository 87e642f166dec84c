import { createHash, createHmac, generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import fc from 'fast-check';
import * as federation from '@tongban/federation';
import type { FederationOptions } from '@tongban/federation';
import type { KeyStore } from '@tongban/keys';
import type { TrustedKey, TrustedPeer, TrustStore } from '@tongban/trust';
import { ATTESTATION_TYP, AttestationClaims } from './attestation-claims';
import { AttestationCheck, AttestationService } from './attestation.service';
import { trustedKeys, trustedPeer } from '@tongban/testkit';

type Alg = 'EdDSA' | 'ES256';

interface TestKey {
  kid: string;
  alg: Alg;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

function makeKey(alg: Alg): TestKey {
  const { privateKey, publicKey } = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('base64url');
  return { kid, alg, privateKey, publicKey };
}

const b64json = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function compact(header: object, claims: object, key: TestKey): string {
  const input = `${b64json(header)}.${b64json(claims)}`;
  const data = Buffer.from(input, 'ascii');
  const sig = key.alg === 'EdDSA' ? cryptoSign(null, data, key.privateKey) : cryptoSign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/** Signs like KeyStore.signJws with `active`; knows the public half of every own key. */
function fakeKeyStore(active: TestKey, own: { key: TestKey; status: string }[]): KeyStore {
  return {
    activeKid: () => active.kid,
    algOf: () => active.alg,
    signJws: (typ: string, claims: object) => compact({ alg: active.alg, kid: active.kid, typ }, claims, active),
    publicKey: (kid: string) => {
      const k = own.find((o) => o.key.kid === kid);
      return k ? { key: k.key.publicKey, alg: k.key.alg, status: k.status } : undefined;
    },
  } as unknown as KeyStore;
}

function fakeTrustStore(peers: Record<string, { key: TestKey; status: TrustedKey['status'] }[]>): TrustStore {
  const map = new Map<string, TrustedPeer>(Object.entries(peers).map(([code, ks]): [string, TrustedPeer] => [code, trustedPeer(code, { keys: trustedKeys(ks) })]));
  return { peer: (code: string) => map.get(code) } as unknown as TrustStore;
}

/**
 * AttestationService is being refactored concurrently to check through SignedTokenVerifier
 * (@tongban/federation); build it either way so these specs track the behaviour, not the wiring.
 */
function makeAttestations(keyStore: KeyStore, trust: TrustStore, options: FederationOptions, self: string): AttestationService {
  type Ctor = new (...args: unknown[]) => unknown;
  const Verifier = (federation as unknown as Record<string, Ctor | undefined>).SignedTokenVerifier;
  const Service = AttestationService as unknown as Ctor;
  return (Verifier ? new Service(keyStore, new Verifier(keyStore, trust, options, self)) : new Service(keyStore, trust, options, self)) as AttestationService;
}

const BJ = '110000';
const GD = '440000';
const OPTIONS: FederationOptions = { allowedAlgorithms: ['EdDSA', 'ES256'], messageTtlSeconds: 120, clockSkewSeconds: 60, maxPayloadBytes: 1024, peerDeadlineMs: 3000 };

const keys = {
  own: makeKey('EdDSA'),
  ownRevoked: makeKey('EdDSA'),
  gdEd: makeKey('EdDSA'),
  gdEs: makeKey('ES256'),
  gdRetired: makeKey('EdDSA'),
  gdRevoked: makeKey('EdDSA'),
  stranger: makeKey('EdDSA'),
};

function claims(over: Partial<AttestationClaims> = {}): AttestationClaims {
  return {
    iss: BJ,
    aud: GD,
    jti: '0f8b7f0e-1a8c-4c55-9a51-2b6b0f2d9c11',
    iat: 1795593600,
    rid: 'q-1',
    licenceType: '11100000000013338W009',
    licenceNumber: '京营字2017826165',
    licenceId: '1.2.156.3005.2.11100000000013338W009.11110105093213442W.2017826165.001.Q',
    status: 'VALID',
    holderMatch: { name: 'MATCH', code: 'NOT_CHECKED' },
    purposeHash: createHash('sha256').update('办理变更登记', 'utf8').digest('base64url'),
    organCode: '11110105093213442W',
    checkedAt: '2026-11-25T08:00:00.000Z',
    ...over,
  };
}

const REASONS = new Set(['MALFORMED', 'WRONG_TYPE', 'ALG_NOT_ALLOWED', 'UNKNOWN_ISSUER', 'UNKNOWN_KEY', 'KEY_REVOKED', 'KEY_ALG_MISMATCH', 'BAD_SIGNATURE']);

describe('AttestationService', () => {
  let service: AttestationService;

  beforeEach(() => {
    const keyStore = fakeKeyStore(keys.own, [
      { key: keys.own, status: 'ACTIVE' },
      { key: keys.ownRevoked, status: 'REVOKED' },
    ]);
    const trust = fakeTrustStore({
      [GD]: [
        { key: keys.gdEd, status: 'ACTIVE' },
        { key: keys.gdEs, status: 'ACTIVE' },
        { key: keys.gdRetired, status: 'RETIRED' },
        { key: keys.gdRevoked, status: 'REVOKED' },
      ],
    });
    service = makeAttestations(keyStore, trust, OPTIONS, BJ);
  });

  const peerAttestation = (key: TestKey, over: Partial<AttestationClaims> = {}, header: Record<string, unknown> = {}) =>
    compact({ alg: key.alg, kid: key.kid, typ: ATTESTATION_TYP, ...header }, claims({ iss: GD, aud: BJ, ...over }), key);

  const invalid = (reason: AttestationCheck['reason']) => expect.objectContaining({ valid: false, reason });

  it('checks its own issued attestation as valid and returns the claims and kid', async () => {
    const c = claims();
    const jws = service.issue(c);
    const [h] = jws.split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'EdDSA', kid: keys.own.kid, typ: ATTESTATION_TYP });
    await expect(service.check(jws)).resolves.toEqual({ valid: true, claims: c, kid: keys.own.kid });
  });

  it('checks a peer attestation offline against the trust store (EdDSA and ES256)', async () => {
    await expect(service.check(peerAttestation(keys.gdEd))).resolves.toEqual({ valid: true, claims: claims({ iss: GD, aud: BJ }), kid: keys.gdEd.kid });
    await expect(service.check(peerAttestation(keys.gdEs, { status: 'REVOKED' }))).resolves.toMatchObject({ valid: true, claims: { status: 'REVOKED' } });
  });

  it('still accepts an attestation signed with a peer key that was since RETIRED', async () => {
    await expect(service.check(peerAttestation(keys.gdRetired))).resolves.toMatchObject({ valid: true, kid: keys.gdRetired.kid });
  });

  it('refuses an attestation signed with a REVOKED peer key, or a revoked own key', async () => {
    await expect(service.check(peerAttestation(keys.gdRevoked))).resolves.toEqual({ valid: false, reason: 'KEY_REVOKED', claims: claims({ iss: GD, aud: BJ }), kid: keys.gdRevoked.kid });
    const own = compact({ alg: 'EdDSA', kid: keys.ownRevoked.kid, typ: ATTESTATION_TYP }, claims(), keys.ownRevoked);
    await expect(service.check(own)).resolves.toEqual(invalid('KEY_REVOKED'));
  });

  describe('BAD_SIGNATURE', () => {
    it('refuses claims altered after signing', async () => {
      const jws = service.issue(claims({ status: 'NOT_FOUND' }));
      const [h, , s] = jws.split('.');
      const forged = `${h}.${b64json(claims({ status: 'VALID' }))}.${s}`;
      const r = await service.check(forged);
      expect(r).toEqual(invalid('BAD_SIGNATURE'));
      expect(r.claims?.status).toBe('VALID'); // the (unverified) claims are reported, but not as valid
    });

    it('refuses a signature by another key under a trusted kid', async () => {
      const jws = compact({ alg: 'EdDSA', kid: keys.gdEd.kid, typ: ATTESTATION_TYP }, claims({ iss: GD }), keys.stranger);
      await expect(service.check(jws)).resolves.toEqual(invalid('BAD_SIGNATURE'));
    });

    it('refuses an attestation re-attributed to another issuer', async () => {
      // Signed by GD's key, but claims to be ours (iss = our code, kid = our active key).
      const jws = compact({ alg: 'EdDSA', kid: keys.own.kid, typ: ATTESTATION_TYP }, claims({ iss: BJ }), keys.gdEd);
      await expect(service.check(jws)).resolves.toEqual(invalid('BAD_SIGNATURE'));
    });

    it('refuses an attestation with crit in its header', async () => {
      const jws = compact({ alg: 'EdDSA', kid: keys.own.kid, typ: ATTESTATION_TYP, crit: ['x'], x: 1 }, claims(), keys.own);
      await expect(service.check(jws)).resolves.toMatchObject({ valid: false });
    });
  });

  it('UNKNOWN_ISSUER for an issuer not in the trust store', async () => {
    const jws = compact({ alg: 'EdDSA', kid: keys.stranger.kid, typ: ATTESTATION_TYP }, claims({ iss: '120000' }), keys.stranger);
    await expect(service.check(jws)).resolves.toEqual({ valid: false, reason: 'UNKNOWN_ISSUER', claims: claims({ iss: '120000' }), kid: keys.stranger.kid });
  });

  it('UNKNOWN_KEY for a kid not trusted for the issuer (peer and self)', async () => {
    await expect(service.check(peerAttestation(keys.stranger))).resolves.toEqual(invalid('UNKNOWN_KEY'));
    await expect(service.check(compact({ alg: 'EdDSA', kid: keys.stranger.kid, typ: ATTESTATION_TYP }, claims(), keys.stranger))).resolves.toEqual(invalid('UNKNOWN_KEY'));
    await expect(service.check(peerAttestation(keys.gdEd, {}, { kid: '__proto__' }))).resolves.toEqual(invalid('UNKNOWN_KEY'));
  });

  it('KEY_ALG_MISMATCH for an ES256 key id presented with alg EdDSA', async () => {
    const jws = compact({ alg: 'EdDSA', kid: keys.gdEs.kid, typ: ATTESTATION_TYP }, claims({ iss: GD }), keys.gdEd);
    await expect(service.check(jws)).resolves.toEqual(invalid('KEY_ALG_MISMATCH'));
  });

  it.each([['tongban-envelope+jws'], ['JWT'], [undefined]])('WRONG_TYPE for typ %p', async (typ) => {
    await expect(service.check(peerAttestation(keys.gdEd, {}, { typ }))).resolves.toEqual(invalid('WRONG_TYPE'));
  });

  describe('ALG_NOT_ALLOWED', () => {
    it('refuses alg none with an empty signature', async () => {
      const jws = `${b64json({ alg: 'none', kid: keys.own.kid, typ: ATTESTATION_TYP })}.${b64json(claims())}.`;
      await expect(service.check(jws)).resolves.toEqual(invalid('ALG_NOT_ALLOWED'));
    });

    it('refuses HS256 keyed with the issuer public key', async () => {
      const input = `${b64json({ alg: 'HS256', kid: keys.gdEd.kid, typ: ATTESTATION_TYP })}.${b64json(claims({ iss: GD }))}`;
      const sig = createHmac('sha256', keys.gdEd.publicKey.export({ format: 'der', type: 'spki' }))
        .update(input)
        .digest('base64url');
      await expect(service.check(`${input}.${sig}`)).resolves.toEqual(invalid('ALG_NOT_ALLOWED'));
    });

    it('refuses an algorithm the configuration does not allow', async () => {
      const edOnly = makeAttestations(fakeKeyStore(keys.own, []), fakeTrustStore({ [GD]: [{ key: keys.gdEs, status: 'ACTIVE' }] }), { ...OPTIONS, allowedAlgorithms: ['EdDSA'] }, BJ);
      await expect(edOnly.check(peerAttestation(keys.gdEs))).resolves.toEqual(invalid('ALG_NOT_ALLOWED'));
    });
  });

  describe('MALFORMED', () => {
    it.each([
      ['garbage', 'garbage'],
      ['empty', ''],
      ['two parts', 'a.b'],
      ['non-JSON parts', 'a.b.c'],
      ['five parts (JWE shape)', 'a.b.c.d.e'],
      ['claims not an object', `${b64json({ alg: 'EdDSA', typ: ATTESTATION_TYP })}.${b64json([1, 2])}.c2ln`],
      ['header not an object', `${b64json('x')}.${b64json(claims())}.c2ln`],
      ['longer than 8192 characters', `${b64json({ alg: 'EdDSA', typ: ATTESTATION_TYP })}.${b64json({ pad: 'x'.repeat(9000) })}.c2ln`],
    ])('refuses %s with claims null', async (_name, jws) => {
      await expect(service.check(jws)).resolves.toEqual({ valid: false, reason: 'MALFORMED', claims: null });
    });

    it('refuses a non-string input', async () => {
      await expect(service.check(undefined as unknown as string)).resolves.toMatchObject({ valid: false, reason: 'MALFORMED' });
      await expect(service.check({ jws: 'x' } as unknown as string)).resolves.toMatchObject({ valid: false, reason: 'MALFORMED' });
    });

    it('refuses a kid with path or SQL characters, and a missing iss', async () => {
      await expect(service.check(peerAttestation(keys.gdEd, {}, { kid: '../../etc/passwd' }))).resolves.toEqual(invalid('MALFORMED'));
      await expect(service.check(peerAttestation(keys.gdEd, {}, { kid: "x' OR 1=1" }))).resolves.toEqual(invalid('MALFORMED'));
      await expect(service.check(peerAttestation(keys.gdEd, { iss: 440000 as unknown as string }))).resolves.toEqual(invalid('MALFORMED'));
    });
  });

  describe('properties', () => {
    it('check() never throws on arbitrary strings, and never says valid', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string({ unit: 'binary', maxLength: 400 }),
            fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'), maxLength: 400 }),
            fc
              .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), fc.uint8Array({ maxLength: 80 }))
              .map(([h, c, s]) => `${b64json(h)}.${b64json(c)}.${Buffer.from(s).toString('base64url')}`),
            fc
              .record({
                alg: fc.constantFrom('EdDSA', 'ES256', 'none', 'HS256'),
                kid: fc.constantFrom(keys.own.kid, keys.gdEd.kid, keys.gdEs.kid, keys.gdRevoked.kid, '__proto__'),
                typ: fc.constantFrom(ATTESTATION_TYP, 'JWT'),
                iss: fc.constantFrom(BJ, GD, '120000', 'constructor'),
                sig: fc.uint8Array({ minLength: 64, maxLength: 64 }),
              })
              .map(({ alg, kid, typ, iss, sig }) => `${b64json({ alg, kid, typ })}.${b64json(claims({ iss }))}.${Buffer.from(sig).toString('base64url')}`),
          ),
          async (s) => {
            const r = await service.check(s);
            expect(r.valid).toBe(false);
            expect(REASONS.has(r.reason!)).toBe(true);
          },
        ),
        { numRuns: 500 },
      );
    });

    it('a single-character change to the header or claims of a valid attestation makes it invalid', async () => {
      const jws = service.issue(claims());
      const end = jws.lastIndexOf('.');
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: end - 1 }), fc.constantFrom(...'AQgw_-.=9'), async (i, ch) => {
          fc.pre(jws[i] !== ch);
          const r = await service.check(jws.slice(0, i) + ch + jws.slice(i + 1));
          expect(r.valid).toBe(false);
        }),
        { numRuns: 300 },
      );
    });
  });
});
