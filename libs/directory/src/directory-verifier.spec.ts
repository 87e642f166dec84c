import { createHmac, generateKeyPairSync } from 'node:crypto';
import { CompactSign, calculateJwkThumbprint, importJWK, JWK } from 'jose';
import fc from 'fast-check';
import { DIRECTORY_TYP, DirectoryDocument, canonicalJson, jwkThumbprint } from './directory-document';
import { anchorPublicJwk, generateAnchorKey, signDirectory } from './directory-signer';
import { DirectoryRefusalReason, checkFreshness, loadAnchor, verifyDirectory } from './directory-verifier';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 25, 0, 0, 0);
const REASONS: DirectoryRefusalReason[] = ['BAD_SIGNATURE', 'NOT_ANCHOR_KEY', 'ROLLBACK', 'EXPIRED', 'NOT_YET_VALID', 'MALFORMED', 'UNREACHABLE'];

const anchorPair = generateAnchorKey();
const anchor = loadAnchor(anchorPair.publicJwk);

function peerKey(kind: 'ed25519' | 'p256' = 'ed25519'): { kid: string; jwk: JWK } {
  const pair = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pair.publicKey.export({ format: 'jwk' }) as JWK;
  const kid = jwkThumbprint(jwk);
  return { kid, jwk: { ...jwk, kid, alg: kind === 'ed25519' ? 'EdDSA' : 'ES256', use: 'sig' } };
}

const BJ = peerKey();
const HB = peerKey('p256');

function directory(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    format: 'tongban-directory/1',
    serial: 5,
    issuedAt: new Date(T0).toISOString(),
    notBefore: new Date(T0).toISOString(),
    notAfter: new Date(T0 + 30 * DAY).toISOString(),
    participants: [
      { code: '110000', name: '北京市', endpoint: 'bj.example.cn:9011', status: 'ACTIVE', keys: [{ kid: BJ.kid, jwk: BJ.jwk, status: 'ACTIVE' }] },
      { code: '130000', name: '河北省', endpoint: '10.0.0.13:9013', status: 'ACTIVE', keys: [{ kid: HB.kid, jwk: HB.jwk, status: 'ACTIVE' }] },
    ],
    ...overrides,
  };
}

/** Signs anything with the anchor key, bypassing the signer's checks (what a broken signer could emit). */
async function rawSign(payload: string | Uint8Array, header: Record<string, unknown> = {}, key: Record<string, unknown> = anchorPair.privateJwk): Promise<string> {
  const k = await importJWK(key as unknown as JWK, 'EdDSA');
  return new CompactSign(typeof payload === 'string' ? Buffer.from(payload) : payload).setProtectedHeader({ alg: 'EdDSA', kid: anchor.kid, typ: DIRECTORY_TYP, ...header }).sign(k);
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

async function refusal(jws: unknown): Promise<DirectoryRefusalReason> {
  const r = await verifyDirectory(jws, anchor);
  if (r.ok) throw new Error('expected a refusal');
  return r.reason;
}

describe('signDirectory / verifyDirectory', () => {
  it('round-trips: the JWS payload is the canonical document, the header names the anchor', async () => {
    const { jws, document, kid } = await signDirectory(directory(), anchorPair.privateJwk);
    expect(kid).toBe(anchor.kid);
    const [h, p] = jws.split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'EdDSA', kid: anchor.kid, typ: 'tongban-directory+jws' });
    expect(Buffer.from(p, 'base64url').toString()).toBe(canonicalJson(document));
    const v = await verifyDirectory(`${jws}\n`, anchor);
    expect(v).toMatchObject({ ok: true, jws });
    if (v.ok) expect(v.document).toEqual(document);
  });

  it('fills format, issuedAt, notBefore, notAfter (valid-days) and key kids when absent', async () => {
    const input = directory();
    delete input.format;
    delete input.issuedAt;
    delete input.notBefore;
    delete input.notAfter;
    delete (input.participants as { keys: { kid?: string }[] }[])[0].keys[0].kid;
    const now = new Date(T0);
    const { document } = await signDirectory(input, anchorPair.privateJwk, { validDays: 10, now });
    expect(document).toMatchObject({ format: 'tongban-directory/1', issuedAt: now.toISOString(), notBefore: now.toISOString(), notAfter: new Date(T0 + 10 * DAY).toISOString() });
    expect(document.participants[0].keys[0].kid).toBe(BJ.kid);
    expect(input.notAfter).toBeUndefined(); // the input is not modified
  });

  it('refuses to sign what a gateway would refuse, or with a key that is not a private anchor key', async () => {
    await expect(signDirectory(directory({ serial: -1 }), anchorPair.privateJwk)).rejects.toThrow(/serial/);
    await expect(signDirectory(directory({ notAfter: new Date(T0 - DAY).toISOString() }), anchorPair.privateJwk)).rejects.toThrow(/notAfter: must be after notBefore/);
    await expect(signDirectory(directory(), anchorPair.publicJwk as never)).rejects.toThrow(/no private key/);
    await expect(signDirectory(directory(), { ...anchorPair.privateJwk, x: generateAnchorKey().publicJwk.x })).rejects.toThrow(/inconsistent/);
    await expect(signDirectory(directory(), anchorPair.privateJwk, { validDays: 0 })).rejects.toThrow(/valid-days/);
  });

  it('a directory signed by another key is NOT_ANCHOR_KEY; another key claiming the anchor kid is BAD_SIGNATURE', async () => {
    const other = generateAnchorKey();
    const { jws } = await signDirectory(directory(), other.privateJwk);
    expect(await refusal(jws)).toBe('NOT_ANCHOR_KEY');
    expect(await refusal(await rawSign(canonicalJson(directory()), {}, other.privateJwk))).toBe('BAD_SIGNATURE');
  });

  it('anchor rollover: with a JWK Set of the old and the new anchor, a directory signed by either verifies; a third key is NOT_ANCHOR_KEY', async () => {
    const next = generateAnchorKey();
    const both = loadAnchor({ keys: [anchorPair.publicJwk, next.publicJwk] });
    expect([...both.keys.keys()]).toEqual([anchorPair.publicJwk.kid, next.publicJwk.kid]);
    for (const signer of [anchorPair, next]) {
      const v = await verifyDirectory((await signDirectory(directory(), signer.privateJwk)).jws, both);
      expect(v).toMatchObject({ ok: true, kid: signer.publicJwk.kid });
    }
    const stranger = await verifyDirectory((await signDirectory(directory(), generateAnchorKey().privateJwk)).jws, both);
    expect(stranger).toMatchObject({ ok: false, reason: 'NOT_ANCHOR_KEY' });
    // The new key alone (after the rollover) refuses what only the old one signed.
    const after = loadAnchor({ keys: [next.publicJwk] });
    expect(await verifyDirectory((await signDirectory(directory(), anchorPair.privateJwk)).jws, after)).toMatchObject({ ok: false, reason: 'NOT_ANCHOR_KEY' });
  });

  it('an anchor JWK Set must hold 1 to 3 public Ed25519 keys', () => {
    const k = () => generateAnchorKey().publicJwk;
    expect(() => loadAnchor({ keys: [] })).toThrow(/1 to 3/);
    expect(() => loadAnchor({ keys: [k(), k(), k(), k()] })).toThrow(/1 to 3/);
    expect(() => loadAnchor({ keys: [k(), anchorPair.privateJwk] })).toThrow(/keys\[1\]: .*private part/);
    expect(() => loadAnchor({ keys: [k(), { kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] })).toThrow(/keys\[1\]: .*Ed25519/);
  });

  it('a tampered payload, header or signature is BAD_SIGNATURE', async () => {
    const { jws } = await signDirectory(directory(), anchorPair.privateJwk);
    const [h, p, s] = jws.split('.');
    const evil = JSON.parse(Buffer.from(p, 'base64url').toString()) as { participants: { endpoint: string }[] };
    evil.participants[0].endpoint = 'attacker.example:9011';
    expect(await refusal(`${h}.${b64(canonicalJson(evil))}.${s}`)).toBe('BAD_SIGNATURE');
    expect(await refusal(`${b64({ alg: 'EdDSA', kid: anchor.kid, typ: DIRECTORY_TYP, x: 1 })}.${p}.${s}`)).toBe('BAD_SIGNATURE');
    const flipped = Buffer.from(s, 'base64url');
    flipped[0] ^= 1;
    expect(await refusal(`${h}.${p}.${flipped.toString('base64url')}`)).toBe('BAD_SIGNATURE');
    expect(await refusal(`${h}.${p}.`)).toBe('BAD_SIGNATURE');
  });

  it('alg none and HS256 (the public key as an HMAC secret) are refused', async () => {
    const payload = b64(canonicalJson(directory()));
    const none = `${b64({ alg: 'none', kid: anchor.kid, typ: DIRECTORY_TYP })}.${payload}.`;
    expect(await refusal(none)).toBe('BAD_SIGNATURE');
    const hsHeader = b64({ alg: 'HS256', kid: anchor.kid, typ: DIRECTORY_TYP });
    for (const secret of [JSON.stringify(anchorPair.publicJwk), anchorPair.publicJwk.x, Buffer.from(anchorPair.publicJwk.x, 'base64url')]) {
      const mac = createHmac('sha256', secret).update(`${hsHeader}.${payload}`).digest('base64url');
      expect(await refusal(`${hsHeader}.${payload}.${mac}`)).toBe('BAD_SIGNATURE');
    }
    expect(await refusal(`${b64({ alg: 'ES256', kid: anchor.kid, typ: DIRECTORY_TYP })}.${payload}.AAAA`)).toBe('BAD_SIGNATURE');
  });

  it('checks typ, crit, kid and the JWS shape before the signature', async () => {
    const doc = canonicalJson(directory());
    expect(await refusal(await rawSign(doc, { typ: 'JWT' }))).toBe('MALFORMED');
    expect(await refusal(await rawSign(doc, { typ: undefined }))).toBe('MALFORMED');
    expect(await refusal(await rawSign(doc, { kid: undefined }))).toBe('MALFORMED');
    const crit = `${b64({ alg: 'EdDSA', kid: anchor.kid, typ: DIRECTORY_TYP, crit: ['exp'], exp: 1 })}.${b64(doc)}.AAAA`;
    expect(await refusal(crit)).toBe('MALFORMED');
    for (const bad of ['', 'a.b', 'a.b.c.d', '..', 'a=.b.c', ' . . ', 42, null, { jws: 'x' }]) expect(await refusal(bad)).toBe('MALFORMED');
  });

  it('a validly signed payload that is not a valid directory is MALFORMED, naming the rule', async () => {
    const cases: [unknown, RegExp][] = [
      ['not json', /not JSON/],
      [[1, 2], /document/],
      [directory({ format: 'tongban-directory/2' }), /format/],
      [directory({ serial: 1.5 }), /serial/],
      [directory({ notAfter: 'tomorrow' }), /notAfter/],
      [directory({ participants: [{ code: '110000', name: 'x', endpoint: 'no-port', status: 'ACTIVE', keys: [] }] }), /participants\.0\.endpoint/],
      [directory({ participants: [{ code: '110000', name: 'x', endpoint: 'h:70000', status: 'ACTIVE', keys: [] }] }), /endpoint/],
      [directory({ participants: [{ code: '110000', name: 'x', endpoint: 'h:1', status: 'GONE', keys: [] }] }), /status/],
      [directory({ participants: [{ code: '110000', name: 'x', endpoint: 'h:1', status: 'ACTIVE', keys: [{ kid: HB.kid, jwk: BJ.jwk, status: 'ACTIVE' }] }] }), /kid/],
      [directory({ participants: [{ code: '110000', name: 'x', endpoint: 'h:1', status: 'ACTIVE', keys: [{ kid: BJ.kid, jwk: { ...BJ.jwk, d: 'secret' }, status: 'ACTIVE' }] }] }), /private key/],
      [
        directory({
          participants: [
            {
              code: '110000',
              name: 'x',
              endpoint: 'h:1',
              status: 'ACTIVE',
              keys: [
                { kid: BJ.kid, jwk: BJ.jwk, status: 'ACTIVE' },
                { kid: BJ.kid, jwk: BJ.jwk, status: 'ACTIVE' },
              ],
            },
          ],
        }),
        /twice/,
      ],
      [directory({ participants: [...(directory().participants as unknown[]), (directory().participants as unknown[])[0]] }), /twice/],
      [directory({ participants: [{ code: '110000', name: 'x', endpoint: 'h:1', status: 'ACTIVE', keys: [], tlsCa: 'not a pem' }] }), /tlsCa/],
    ];
    for (const [payload, message] of cases) {
      const r = await verifyDirectory(await rawSign(typeof payload === 'string' ? payload : canonicalJson(payload)), anchor);
      expect(r).toMatchObject({ ok: false, reason: 'MALFORMED' });
      if (!r.ok) expect(r.message).toMatch(message);
    }
  });

  it('ignores unknown members (a later format that only adds members stays readable)', async () => {
    const v = await verifyDirectory(await rawSign(canonicalJson(directory({ extra: { any: 1 } }))), anchor);
    expect(v.ok).toBe(true);
  });

  it('computes RFC 7638 thumbprints as jose does and signs canonical JSON', async () => {
    for (const k of [BJ, HB]) expect(jwkThumbprint(k.jwk)).toBe(await calculateJwkThumbprint(k.jwk, 'sha256'));
    expect(canonicalJson({ b: [{ d: 1, c: null }], a: 'x', u: undefined })).toBe('{"a":"x","b":[{"c":null,"d":1}]}');
  });

  it('loadAnchor takes an Ed25519 public JWK only', () => {
    expect(loadAnchor(anchorPair.publicJwk).kid).toBe(anchorPair.publicJwk.kid);
    expect(anchorPublicJwk(anchorPair.privateJwk)).toEqual(anchorPair.publicJwk);
    expect(() => loadAnchor(anchorPair.privateJwk)).toThrow(/PUBLIC key only/);
    expect(() => loadAnchor(HB.jwk)).toThrow(/Ed25519/);
    expect(() => loadAnchor({ ...anchorPair.publicJwk, kid: HB.kid })).toThrow(/thumbprint/);
    expect(() => loadAnchor({ kty: 'OKP', crv: 'Ed25519', x: 'AAAA' })).toThrow(/usable/);
    expect(() => loadAnchor('x')).toThrow(/JSON object/);
  });
});

describe('checkFreshness', () => {
  const doc = (o: Record<string, unknown> = {}) => directory(o) as unknown as DirectoryDocument;
  const held = { serial: 5, issuedAt: new Date(T0).toISOString(), jws: 'held.jws.x' };
  const GRACE = 7 * DAY;

  it('a lower serial is a ROLLBACK; the same bytes are unchanged; the same serial needs a later issuedAt', () => {
    expect(checkFreshness(doc({ serial: 4 }), 'a', held, T0, GRACE, 0)).toMatchObject({ ok: false, reason: 'ROLLBACK', serial: 4 });
    expect(checkFreshness(doc(), held.jws, held, T0, GRACE, 0)).toEqual({ ok: true, unchanged: true });
    expect(checkFreshness(doc(), 'other', held, T0, GRACE, 0)).toMatchObject({ ok: false, reason: 'ROLLBACK' });
    expect(checkFreshness(doc({ issuedAt: new Date(T0 + 1000).toISOString() }), 'reissued', held, T0, GRACE, 0)).toEqual({ ok: true, unchanged: false });
    expect(checkFreshness(doc({ serial: 6 }), 'newer', held, T0, GRACE, 0)).toEqual({ ok: true, unchanged: false });
    expect(checkFreshness(doc({ serial: 0 }), 'first', null, T0, GRACE, 0)).toEqual({ ok: true, unchanged: false });
  });

  it('not yet valid beyond the clock skew; usable past notAfter within the grace; EXPIRED after it', () => {
    const later = doc({ notBefore: new Date(T0 + 120_000).toISOString() });
    expect(checkFreshness(later, 'x', null, T0, GRACE, 60_000)).toMatchObject({ ok: false, reason: 'NOT_YET_VALID' });
    expect(checkFreshness(later, 'x', null, T0 + 60_000, GRACE, 60_000)).toMatchObject({ ok: true });
    const notAfter = T0 + 30 * DAY;
    expect(checkFreshness(doc(), 'x', null, notAfter + DAY, GRACE, 0)).toEqual({ ok: true, unchanged: false });
    expect(checkFreshness(doc(), 'x', null, notAfter + GRACE + 1, GRACE, 0)).toMatchObject({ ok: false, reason: 'EXPIRED' });
  });
});

describe('hostile input (property)', () => {
  const isRefusal = (r: Awaited<ReturnType<typeof verifyDirectory>>) => !r.ok && REASONS.includes(r.reason) && typeof r.message === 'string';
  const b64part = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), maxLength: 200 });

  it('arbitrary strings and values are a typed refusal, never an exception', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 500 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.anything()), async (input) => {
        expect(isRefusal(await verifyDirectory(input, anchor))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary three-part tokens (headers that may claim the anchor) are a typed refusal', async () => {
    const header = fc.oneof(
      b64part,
      fc.record({ alg: fc.constantFrom('EdDSA', 'none', 'HS256', 'ES256', 1), kid: fc.constantFrom(anchor.kid, 'x', undefined), typ: fc.constantFrom(DIRECTORY_TYP, 'JWT', undefined) }).map(b64),
    );
    await fc.assert(
      fc.asyncProperty(
        header,
        fc.oneof(
          b64part,
          fc.jsonValue().map((v) => b64(JSON.stringify(v))),
        ),
        b64part,
        async (h, p, s) => {
          expect(isRefusal(await verifyDirectory(`${h}.${p}.${s}`, anchor))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('any JSON the anchor signs is either a valid directory or MALFORMED', async () => {
    const mutated = fc.record({
      serial: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(undefined)),
      notAfter: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        fc.string(),
        fc.constant(undefined),
      ),
      participants: fc.oneof(fc.constant(directory().participants), fc.array(fc.jsonValue(), { maxLength: 3 }), fc.jsonValue()),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue(),
          mutated.map((m) => directory(m)),
        ),
        async (value) => {
          const r = await verifyDirectory(await rawSign(JSON.stringify(value) ?? 'null'), anchor);
          expect(r.ok || r.reason === 'MALFORMED').toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('an SM2 (国密) trust anchor, and SM2 participant keys', () => {
  const sm2Anchor = generateAnchorKey('SM2SM3');
  const sm2Participant = (() => {
    const jwk = generateAnchorKey('SM2SM3').publicJwk;
    return { kid: jwk.kid, jwk: { ...jwk } as JWK };
  })();

  it('signs with SM2SM3 (r‖s, 64 bytes) and the directory verifies, SM2 participant keys included', async () => {
    expect(sm2Anchor.publicJwk).toMatchObject({ kty: 'EC', crv: 'SM2', alg: 'SM2SM3', use: 'sig' });
    const doc = directory({
      participants: [{ code: '130000', name: '河北省', endpoint: '10.0.0.13:9013', status: 'ACTIVE', keys: [{ kid: sm2Participant.kid, jwk: sm2Participant.jwk, status: 'ACTIVE' }] }],
    });
    const { jws } = await signDirectory(doc, sm2Anchor.privateJwk, { now: new Date(T0) });
    const [h, , s] = jws.split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'SM2SM3', kid: sm2Anchor.publicJwk.kid, typ: DIRECTORY_TYP });
    expect(Buffer.from(s, 'base64url')).toHaveLength(64);
    const verified = await verifyDirectory(jws, loadAnchor(sm2Anchor.publicJwk));
    expect(verified).toMatchObject({ ok: true });
    // The same directory is refused by another anchor, and with an altered signature.
    expect(await verifyDirectory(jws, anchor)).toMatchObject({ ok: false, reason: 'NOT_ANCHOR_KEY' });
    const sig = Buffer.from(s, 'base64url');
    sig[3] ^= 1;
    expect(await verifyDirectory(`${jws.slice(0, jws.lastIndexOf('.'))}.${sig.toString('base64url')}`, loadAnchor(sm2Anchor.publicJwk))).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
  });

  it('an EdDSA header on an SM2 anchor key (or the reverse) does not verify', async () => {
    const { jws } = await signDirectory(directory(), sm2Anchor.privateJwk, { now: new Date(T0) });
    const [, p, s] = jws.split('.');
    const relabelled = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: sm2Anchor.publicJwk.kid, typ: DIRECTORY_TYP })).toString('base64url')}.${p}.${s}`;
    expect(await verifyDirectory(relabelled, loadAnchor(sm2Anchor.publicJwk))).toMatchObject({ ok: false, reason: 'BAD_SIGNATURE' });
  });

  it('refuses an SM2 anchor key off the curve, and a key file whose d does not match', async () => {
    const pub = sm2Anchor.publicJwk as { y: string };
    const y = Buffer.from(pub.y, 'base64url');
    y[31] ^= 1;
    expect(() => loadAnchor({ ...sm2Anchor.publicJwk, kid: undefined, y: y.toString('base64url') })).toThrow(/SM2_POINT_NOT_ON_CURVE/);
    await expect(signDirectory(directory(), { ...sm2Anchor.privateJwk, d: generateAnchorKey('SM2SM3').privateJwk.d })).rejects.toThrow(/inconsistent/);
  });
});
