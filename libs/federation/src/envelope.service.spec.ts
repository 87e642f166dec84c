import { createHash, createHmac, generateKeyPairSync, JsonWebKey, KeyObject, randomUUID, sign as cryptoSign } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import fc from 'fast-check';
import { Clock } from '@tongban/common';
import type { KeyStore } from '@tongban/keys';
import type { TrustedKey, TrustedPeer, TrustStore } from '@tongban/trust';
import type { Envelope } from '@tongban/proto';
import { ENVELOPE_TYP, ENVELOPE_VERSION, EnvelopeClaims } from './envelope-claims';
import { digest, EnvelopeService, OpenExpectation } from './envelope.service';
import { FederationOptions } from './federation.options';
import { RefusalCode, RefusalException } from './refusal';
import type { ReplayStore } from './replay-store.service';
import { trustedKeys, trustedPeer } from '@tongban/testkit';

// ---------------------------------------------------------------------------------------------
// Fakes and helpers
// ---------------------------------------------------------------------------------------------

type Alg = 'EdDSA' | 'ES256';

interface TestKey {
  kid: string;
  alg: Alg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: JsonWebKey;
}

function makeKey(alg: Alg): TestKey {
  const { privateKey, publicKey } = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = createHash('sha256')
    .update(publicKey.export({ format: 'der', type: 'spki' }))
    .digest('base64url');
  return { kid, alg, privateKey, publicKey, jwk: publicKey.export({ format: 'jwk' }) };
}

const b64json = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
const b64text = (s: string): string => Buffer.from(s, 'utf8').toString('base64url');

/** Raw signature over `signingInput`, made with `key` as `alg` would be. */
function signInput(signingInput: string, key: TestKey): string {
  const data = Buffer.from(signingInput, 'ascii');
  const sig = key.alg === 'EdDSA' ? cryptoSign(null, data, key.privateKey) : cryptoSign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return sig.toString('base64url');
}

/** A compact JWS with exactly this header and these claims, signed by `key` (whatever the header says). */
function compact(header: object, claims: object, key: TestKey): string {
  const input = `${b64json(header)}.${b64json(claims)}`;
  return `${input}.${signInput(input, key)}`;
}

/** A KeyStore that signs the way the real one does (header {alg, kid, typ}), with one key. */
function fakeKeyStore(key: TestKey): KeyStore {
  return {
    activeKid: () => key.kid,
    algOf: () => key.alg,
    signJws: (typ: string, claims: object) => compact({ alg: key.alg, kid: key.kid, typ }, claims, key),
  } as unknown as KeyStore;
}

class MemoryReplayStore {
  readonly seen = new Set<string>();
  restoredAtSeconds = 0;
  issuedAfterRestore(iat: number): boolean {
    return iat >= this.restoredAtSeconds;
  }
  readonly calls: { sender: string; id: string; exp: number }[] = [];
  async remember(sender: string, id: string, exp: number): Promise<boolean> {
    this.calls.push({ sender, id, exp });
    const k = `${sender}/${id}`;
    if (this.seen.has(k)) return false;
    this.seen.add(k);
    return true;
  }
}

class FakeClock extends Clock {
  constructor(public ms: number) {
    super();
  }
  now(): Date {
    return new Date(this.ms);
  }
  advanceSeconds(s: number): void {
    this.ms += s * 1000;
  }
}

class FakeTrustStore {
  readonly peers = new Map<string, TrustedPeer>();
  peer(code: string): TrustedPeer | undefined {
    return this.peers.get(code);
  }
  add(code: string, keys: { key: TestKey; status: TrustedKey['status'] }[], status: TrustedPeer['status'] = 'ACTIVE'): TrustedPeer {
    const peer = trustedPeer(code, { name: `peer ${code}`, status, keys: trustedKeys(keys) });
    this.peers.set(code, peer);
    return peer;
  }
}

const GD = '440000'; // sender
const BJ = '110000'; // receiver
const HB = '130000'; // a second trusted peer
const REQ = 'tongban.federation.v1.VerifyLicencesPayload';
const RES = 'tongban.federation.v1.VerifyLicencesResultPayload';
const OPTIONS: FederationOptions = { allowedAlgorithms: ['EdDSA', 'ES256'], messageTtlSeconds: 120, clockSkewSeconds: 60, maxPayloadBytes: 1024, peerDeadlineMs: 3000 };
const START_MS = Date.UTC(2026, 10, 25, 8, 0, 0, 250);
const PAYLOAD = Buffer.from('\x0a\x15hello from guangdong\x12\x03abc', 'binary');
const B64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

// Keys are generated once; every test gets fresh stores and clock.
const keys = {
  gdEd: makeKey('EdDSA'),
  gdEs: makeKey('ES256'),
  gdRetired: makeKey('EdDSA'),
  gdRevoked: makeKey('EdDSA'),
  gdUnregistered: makeKey('EdDSA'),
  bjEd: makeKey('EdDSA'),
  hbEd: makeKey('EdDSA'),
};

interface Fixture {
  clock: FakeClock;
  trust: FakeTrustStore;
  replay: MemoryReplayStore;
  receiver: EnvelopeService;
  sender: EnvelopeService;
  senderTrust: FakeTrustStore;
  senderReplay: MemoryReplayStore;
}

function setup(options: FederationOptions = OPTIONS): Fixture {
  const clock = new FakeClock(START_MS);
  // The receiver's (Beijing's) view of its peers.
  const trust = new FakeTrustStore();
  trust.add(GD, [
    { key: keys.gdEd, status: 'ACTIVE' },
    { key: keys.gdEs, status: 'ACTIVE' },
    { key: keys.gdRetired, status: 'RETIRED' },
    { key: keys.gdRevoked, status: 'REVOKED' },
  ]);
  trust.add(HB, [{ key: keys.hbEd, status: 'ACTIVE' }]);
  const replay = new MemoryReplayStore();
  const receiver = new EnvelopeService(fakeKeyStore(keys.bjEd), trust as unknown as TrustStore, replay as unknown as ReplayStore, clock, options, BJ);
  // The sender's (Guangdong's) view: it trusts Beijing.
  const senderTrust = new FakeTrustStore();
  senderTrust.add(BJ, [{ key: keys.bjEd, status: 'ACTIVE' }]);
  const senderReplay = new MemoryReplayStore();
  const sender = new EnvelopeService(fakeKeyStore(keys.gdEd), senderTrust as unknown as TrustStore, senderReplay as unknown as ReplayStore, clock, options, GD);
  return { clock, trust, replay, receiver, sender, senderTrust, senderReplay };
}

/** Claims of a well-formed request from GD to BJ at the fixture's current time; `over` replaces or (with undefined) removes claims. */
function claimsAt(clock: Clock, over: Record<string, unknown> = {}, payload: Uint8Array = PAYLOAD): Record<string, unknown> {
  const iat = clock.epochSeconds();
  return { ver: ENVELOPE_VERSION, iss: GD, aud: BJ, mty: REQ, jti: randomUUID(), iat, exp: iat + 120, dig: digest(payload), ...over };
}

function envelopeFrom(claims: Record<string, unknown>, opts: { key?: TestKey; header?: Record<string, unknown>; payload?: Buffer } = {}): Envelope {
  const key = opts.key ?? keys.gdEd;
  const header = { alg: key.alg, kid: key.kid, typ: ENVELOPE_TYP, ...opts.header };
  return { jws: compact(header, claims, key), payload: opts.payload ?? PAYLOAD };
}

/** Awaits `p`, which must reject with a RefusalException; returns it. */
async function refusal(p: Promise<unknown>): Promise<RefusalException> {
  let resolved: unknown;
  try {
    resolved = await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RefusalException);
    return e as RefusalException;
  }
  throw new Error(`expected a RefusalException, but open() resolved with ${JSON.stringify(resolved)}`);
}

// ---------------------------------------------------------------------------------------------

describe('EnvelopeService', () => {
  let f: Fixture;
  const request: OpenExpectation = { type: REQ };

  beforeEach(() => {
    f = setup();
  });

  /** Opens `env` at the receiver, expects refusal `code`, and checks the replay store was not written. */
  async function expectRefused(env: Envelope | undefined, code: RefusalCode, expect_: OpenExpectation = request, service = f.receiver, replay = f.replay): Promise<RefusalException> {
    const before = [...replay.seen];
    const e = await refusal(service.open(env, expect_));
    expect(e.code).toBe(code);
    expect(e.message.startsWith(`${code}: `)).toBe(true);
    expect([...replay.seen]).toEqual(before);
    return e;
  }

  describe('seal and open', () => {
    it('round-trips a request with the documented claims', async () => {
      const { envelope, messageId } = f.sender.seal(BJ, REQ, PAYLOAD);
      const [h] = envelope.jws.split('.');
      expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'EdDSA', kid: keys.gdEd.kid, typ: ENVELOPE_TYP });

      const opened = await f.receiver.open(envelope, request);
      const iat = Math.floor(START_MS / 1000);
      expect(opened.claims).toEqual<EnvelopeClaims>({ ver: 1, iss: GD, aud: BJ, mty: REQ, jti: messageId, iat, exp: iat + 120, dig: digest(PAYLOAD) });
      expect(opened.claims.dig).toBe(createHash('sha256').update(PAYLOAD).digest('base64url'));
      expect(Buffer.compare(opened.payload, PAYLOAD)).toBe(0);
      expect(f.replay.calls).toEqual([{ sender: GD, id: messageId, exp: iat + 120 }]);
    });

    it('gives every sealed message a fresh UUID id', () => {
      const a = f.sender.seal(BJ, REQ, PAYLOAD).messageId;
      const b = f.sender.seal(BJ, REQ, PAYLOAD).messageId;
      expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(a).not.toBe(b);
    });

    it('seals only the bytes of a payload view, not its whole backing buffer', async () => {
      const backing = Buffer.from('xxxxPAYLOADyyyy');
      const view = new Uint8Array(backing.buffer, backing.byteOffset + 4, 7);
      const { envelope } = f.sender.seal(BJ, REQ, view);
      expect(Buffer.from(envelope.payload).toString()).toBe('PAYLOAD');
      const opened = await f.receiver.open(envelope, request);
      expect(opened.payload.toString()).toBe('PAYLOAD');
      expect(opened.claims.dig).toBe(digest(Buffer.from('PAYLOAD')));
    });

    it('caps the lifetime of sealed messages at 300 s whatever the configured TTL', () => {
      const g = setup({ ...OPTIONS, messageTtlSeconds: 900 });
      const { envelope } = g.sender.seal(BJ, REQ, PAYLOAD);
      const claims = JSON.parse(Buffer.from(envelope.jws.split('.')[1], 'base64url').toString()) as { exp: number; iat: number };
      expect(claims.exp - claims.iat).toBe(300);
    });

    it('accepts an ES256-signed envelope from a trusted ES256 key', async () => {
      const opened = await f.receiver.open(envelopeFrom(claimsAt(f.clock), { key: keys.gdEs }), request);
      expect(opened.claims.iss).toBe(GD);
    });

    it('round-trips a response bound to its request with rto, without touching the replay store', async () => {
      const { envelope: req, messageId } = f.sender.seal(BJ, REQ, PAYLOAD);
      await f.receiver.open(req, request);
      const answer = Buffer.from('answer');
      const { envelope: res } = f.receiver.seal(GD, RES, answer, messageId);
      const opened = await f.sender.open(res, { type: RES, replyTo: { messageId, from: BJ } });
      expect(opened.claims).toMatchObject({ iss: BJ, aud: GD, mty: RES, rto: messageId });
      expect(opened.payload.toString()).toBe('answer');
      expect(f.senderReplay.calls).toHaveLength(0);
    });

    it('accepts a payload of exactly maxPayloadBytes', async () => {
      const big = Buffer.alloc(1024, 7);
      await expect(f.receiver.open(envelopeFrom(claimsAt(f.clock, {}, big), { payload: big }), request)).resolves.toMatchObject({ payload: big });
    });

    it('accepts a message issued within the tolerated skew (iat = now + 59 and now + 60)', async () => {
      const now = f.clock.epochSeconds();
      for (const ahead of [59, 60]) {
        const opened = await f.receiver.open(envelopeFrom(claimsAt(f.clock, { iat: now + ahead, exp: now + ahead + 120 })), request);
        expect(opened.claims.iat).toBe(now + ahead);
      }
    });

    it('accepts a lifetime of exactly 300 s and of 0 s', async () => {
      const now = f.clock.epochSeconds();
      await expect(f.receiver.open(envelopeFrom(claimsAt(f.clock, { exp: now + 300 })), request)).resolves.toBeDefined();
      await expect(f.receiver.open(envelopeFrom(claimsAt(f.clock, { exp: now })), request)).resolves.toBeDefined();
    });

    it('accepts a message up to the last millisecond of exp + skew', async () => {
      const now = f.clock.epochSeconds();
      const a = envelopeFrom(claimsAt(f.clock, { iat: now, exp: now + 120 }));
      const b = envelopeFrom(claimsAt(f.clock, { iat: now, exp: now + 120 }));
      f.clock.ms = (now + 120 + 60) * 1000 + 999;
      await expect(f.receiver.open(a, request)).resolves.toBeDefined();
      f.clock.ms += 1;
      await expectRefused(b, 'EXPIRED');
    });
  });

  describe('refusals', () => {
    describe('MALFORMED_ENVELOPE', () => {
      it('refuses a missing envelope, jws or payload', async () => {
        await expectRefused(undefined, 'MALFORMED_ENVELOPE');
        await expectRefused({ jws: undefined as unknown as string, payload: PAYLOAD }, 'MALFORMED_ENVELOPE');
        await expectRefused({ jws: 42 as unknown as string, payload: PAYLOAD }, 'MALFORMED_ENVELOPE');
        const { envelope } = f.sender.seal(BJ, REQ, PAYLOAD);
        await expectRefused({ jws: envelope.jws, payload: undefined as unknown as Buffer }, 'MALFORMED_ENVELOPE');
      });

      it.each([
        ['no dots', 'abc'],
        ['two parts', 'eyJhIjoxfQ.eyJhIjoxfQ'],
        ['four parts', 'eyJhIjoxfQ.eyJhIjoxfQ.c2ln.c2ln'],
        ['empty string', ''],
        ['empty header', '.eyJhIjoxfQ.c2ln'],
        ['empty claims', 'eyJhIjoxfQ..c2ln'],
        ['standard base64 characters', 'eyJhIjoxfQ==.eyJhIjoxfQ.c2ln'],
        ['whitespace', 'eyJhIjoxfQ .eyJhIjoxfQ.c2ln'],
      ])('refuses a jws that is not three base64url parts (%s)', async (_name, jws) => {
        await expectRefused({ jws, payload: PAYLOAD }, 'MALFORMED_ENVELOPE');
      });

      it('refuses a jws longer than 4096 characters before parsing it', async () => {
        const env = envelopeFrom(claimsAt(f.clock, { pad: 'x'.repeat(4000) }));
        expect(env.jws.length).toBeGreaterThan(4096);
        await expectRefused(env, 'MALFORMED_ENVELOPE');
      });

      it('refuses a header or claims segment that is not a JSON object', async () => {
        const claims = b64json(claimsAt(f.clock));
        await expectRefused({ jws: `${b64text('not json')}.${claims}.c2ln`, payload: PAYLOAD }, 'MALFORMED_ENVELOPE');
        await expectRefused({ jws: `${b64json(['EdDSA'])}.${claims}.c2ln`, payload: PAYLOAD }, 'MALFORMED_ENVELOPE');
        await expectRefused({ jws: `${b64json(null)}.${claims}.c2ln`, payload: PAYLOAD }, 'MALFORMED_ENVELOPE');
        const header = b64json({ alg: 'EdDSA', kid: keys.gdEd.kid, typ: ENVELOPE_TYP });
        await expectRefused({ jws: `${header}.${b64text('{"iss":"440000"')}.c2ln`, payload: PAYLOAD }, 'MALFORMED_ENVELOPE');
        await expectRefused({ jws: `${header}.${b64json('440000')}.c2ln`, payload: PAYLOAD }, 'MALFORMED_ENVELOPE');
      });

      it.each([['JWT'], ['tongban-attestation+jwt'], ['TONGBAN-ENVELOPE+JWS'], [undefined]])('refuses header typ %p', async (typ) => {
        await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { typ } }), 'MALFORMED_ENVELOPE');
      });

      it('refuses a header with crit, even a validly signed one', async () => {
        await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { crit: ['exp'], exp: 1 } }), 'MALFORMED_ENVELOPE');
        await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { crit: [] } }), 'MALFORMED_ENVELOPE');
      });

      it.each([
        ['path traversal', '../../etc/passwd'],
        ['SQL', "x' OR 1=1 --"],
        ['empty', ''],
        ['65 characters', 'a'.repeat(65)],
        ['a number', 12345],
        ['null', null],
        ['a unicode letter', 'kéy'],
        ['a slash', 'a/b'],
      ])('refuses kid with %s', async (_name, kid) => {
        const e = await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { kid } }), 'MALFORMED_ENVELOPE');
        expect(e.detail).toBe('header kid must be 1-64 base64url characters');
      });

      it('does not echo a hostile kid back in the refusal detail', async () => {
        const e = await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { kid: "x' OR 1=1" } }), 'MALFORMED_ENVELOPE');
        expect(e.detail).not.toContain('OR 1=1');
      });
    });

    it('PAYLOAD_TOO_LARGE: refuses a payload one byte over the limit, before looking at the jws', async () => {
      const big = Buffer.alloc(1025, 1);
      await expectRefused(envelopeFrom(claimsAt(f.clock, {}, big), { payload: big }), 'PAYLOAD_TOO_LARGE');
      await expectRefused({ jws: 'garbage', payload: big }, 'PAYLOAD_TOO_LARGE');
    });

    describe('ALG_NOT_ALLOWED', () => {
      it('refuses alg none with an empty signature', async () => {
        const jws = `${b64json({ alg: 'none', kid: keys.gdEd.kid, typ: ENVELOPE_TYP })}.${b64json(claimsAt(f.clock))}.`;
        await expectRefused({ jws, payload: PAYLOAD }, 'ALG_NOT_ALLOWED');
      });

      it('refuses HS256 keyed with the sender public key bytes (key confusion)', async () => {
        const input = `${b64json({ alg: 'HS256', kid: keys.gdEd.kid, typ: ENVELOPE_TYP })}.${b64json(claimsAt(f.clock))}`;
        for (const secret of [Buffer.from(keys.gdEd.jwk.x!, 'base64url'), keys.gdEd.publicKey.export({ format: 'der', type: 'spki' }), Buffer.from(JSON.stringify(keys.gdEd.jwk))]) {
          const sig = createHmac('sha256', secret).update(input).digest('base64url');
          await expectRefused({ jws: `${input}.${sig}`, payload: PAYLOAD }, 'ALG_NOT_ALLOWED');
        }
      });

      it('refuses a missing or non-string alg', async () => {
        await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { alg: undefined } }), 'ALG_NOT_ALLOWED');
        await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { alg: ['EdDSA'] } }), 'ALG_NOT_ALLOWED');
        await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { alg: 'eddsa' } }), 'ALG_NOT_ALLOWED');
      });

      it('refuses a valid ES256 envelope when only EdDSA is allowed', async () => {
        const g = setup({ ...OPTIONS, allowedAlgorithms: ['EdDSA'] });
        const env = envelopeFrom(claimsAt(g.clock), { key: keys.gdEs });
        await expect(f.receiver.open(env, request)).resolves.toBeDefined(); // same envelope is fine where ES256 is allowed
        const e = await expectRefused(env, 'ALG_NOT_ALLOWED', request, g.receiver, g.replay);
        expect(e.detail).toContain('EdDSA');
      });

      it('would still refuse HS256 by key type if a misconfiguration allowed it', async () => {
        const g = setup({ ...OPTIONS, allowedAlgorithms: ['EdDSA', 'ES256', 'HS256'] as never });
        const input = `${b64json({ alg: 'HS256', kid: keys.gdEd.kid, typ: ENVELOPE_TYP })}.${b64json(claimsAt(g.clock))}`;
        const sig = createHmac('sha256', Buffer.from(keys.gdEd.jwk.x!, 'base64url')).update(input).digest('base64url');
        await expectRefused({ jws: `${input}.${sig}`, payload: PAYLOAD }, 'KEY_ALG_MISMATCH', request, g.receiver, g.replay);
      });
    });

    it('UNKNOWN_SENDER: refuses an iss that is not in the trust store (even our own code)', async () => {
      const e = await expectRefused(envelopeFrom(claimsAt(f.clock, { iss: '120000' })), 'UNKNOWN_SENDER');
      expect(e.sender).toBe('120000');
      await expectRefused(envelopeFrom(claimsAt(f.clock, { iss: BJ })), 'UNKNOWN_SENDER');
    });

    it('UNKNOWN_KEY: refuses a validly signed envelope under a kid not trusted for the sender', async () => {
      await expectRefused(envelopeFrom(claimsAt(f.clock), { key: keys.gdUnregistered }), 'UNKNOWN_KEY');
      // Hebei's key is trusted, but not for Guangdong.
      await expectRefused(envelopeFrom(claimsAt(f.clock), { key: keys.hbEd }), 'UNKNOWN_KEY');
    });

    it('UNKNOWN_KEY: a kid like __proto__ or constructor is just unknown', async () => {
      await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { kid: '__proto__' } }), 'UNKNOWN_KEY');
      await expectRefused(envelopeFrom(claimsAt(f.clock), { header: { kid: 'constructor' } }), 'UNKNOWN_KEY');
    });

    it('KEY_REVOKED: refuses a validly signed envelope under a revoked key', async () => {
      await expectRefused(envelopeFrom(claimsAt(f.clock), { key: keys.gdRevoked }), 'KEY_REVOKED');
    });

    it('KEY_RETIRED: refuses a validly signed envelope under a retired key', async () => {
      await expectRefused(envelopeFrom(claimsAt(f.clock), { key: keys.gdRetired }), 'KEY_RETIRED');
    });

    it('KEY_ALG_MISMATCH: refuses an ES256 key id presented with alg EdDSA', async () => {
      // Signed with an Ed25519 key so that the signature would be "valid EdDSA" bytes.
      const claims = claimsAt(f.clock);
      const jws = compact({ alg: 'EdDSA', kid: keys.gdEs.kid, typ: ENVELOPE_TYP }, claims, keys.gdEd);
      await expectRefused({ jws, payload: PAYLOAD }, 'KEY_ALG_MISMATCH');
      // and the converse: an EdDSA kid with alg ES256
      const jws2 = compact({ alg: 'ES256', kid: keys.gdEd.kid, typ: ENVELOPE_TYP }, claimsAt(f.clock), keys.gdEs);
      await expectRefused({ jws: jws2, payload: PAYLOAD }, 'KEY_ALG_MISMATCH');
    });

    describe('BAD_SIGNATURE', () => {
      it('refuses a claims segment altered and re-encoded after signing', async () => {
        const { envelope } = f.sender.seal(BJ, REQ, PAYLOAD);
        const [h, c, s] = envelope.jws.split('.');
        const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as { exp: number };
        for (const change of [{ exp: claims.exp + 1 }, { mty: RES }, { jti: randomUUID() }, { extra: true }]) {
          await expectRefused({ jws: `${h}.${b64json({ ...claims, ...change })}.${s}`, payload: PAYLOAD }, 'BAD_SIGNATURE');
        }
        // the untouched envelope is still accepted: the refusals did not consume its id
        await expect(f.receiver.open(envelope, request)).resolves.toBeDefined();
      });

      it('refuses a header altered and re-encoded after signing', async () => {
        const { envelope } = f.sender.seal(BJ, REQ, PAYLOAD);
        const [h, c, s] = envelope.jws.split('.');
        const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
        await expectRefused({ jws: `${b64json({ ...header, x5u: 'https://evil.example/' })}.${c}.${s}`, payload: PAYLOAD }, 'BAD_SIGNATURE');
        // same JSON, different serialisation (key order): the signature covers the bytes
        await expectRefused({ jws: `${b64json({ typ: header.typ, kid: header.kid, alg: header.alg })}.${c}.${s}`, payload: PAYLOAD }, 'BAD_SIGNATURE');
      });

      it('refuses a signature made by another key under a trusted kid', async () => {
        const claims = claimsAt(f.clock);
        await expectRefused({ jws: compact({ alg: 'EdDSA', kid: keys.gdEd.kid, typ: ENVELOPE_TYP }, claims, keys.gdUnregistered), payload: PAYLOAD }, 'BAD_SIGNATURE');
        await expectRefused({ jws: compact({ alg: 'EdDSA', kid: keys.gdEd.kid, typ: ENVELOPE_TYP }, claims, keys.hbEd), payload: PAYLOAD }, 'BAD_SIGNATURE');
      });

      it('refuses a signature copied from another envelope, and an empty or truncated one', async () => {
        const a = f.sender.seal(BJ, REQ, PAYLOAD).envelope.jws.split('.');
        const b = f.sender.seal(BJ, REQ, PAYLOAD).envelope.jws.split('.');
        await expectRefused({ jws: `${a[0]}.${a[1]}.${b[2]}`, payload: PAYLOAD }, 'BAD_SIGNATURE');
        await expectRefused({ jws: `${a[0]}.${a[1]}.`, payload: PAYLOAD }, 'BAD_SIGNATURE');
        await expectRefused({ jws: `${a[0]}.${a[1]}.${a[2].slice(0, -2)}`, payload: PAYLOAD }, 'BAD_SIGNATURE');
      });

      it('checks the signature before any claim, so unsigned claims cannot select a refusal', async () => {
        // A forged message addressed elsewhere, expired and with a wrong digest reports only BAD_SIGNATURE.
        const claims = claimsAt(f.clock, { aud: HB, iat: 1, exp: 2, dig: 'x' });
        await expectRefused({ jws: compact({ alg: 'EdDSA', kid: keys.gdEd.kid, typ: ENVELOPE_TYP }, claims, keys.gdUnregistered), payload: PAYLOAD }, 'BAD_SIGNATURE');
      });
    });

    describe('MISSING_CLAIM', () => {
      it.each<[string, Record<string, unknown>]>([
        ['no iss', { iss: undefined }],
        ['iss of 5 digits', { iss: '44000' }],
        ['iss as a number', { iss: 440000 }],
        ['no jti', { jti: undefined }],
        ['empty jti', { jti: '' }],
        ['jti of 65 characters', { jti: 'j'.repeat(65) }],
        ['no aud', { aud: undefined }],
        ['aud not 6 digits', { aud: '11000' }],
        ['aud with letters', { aud: '11000a' }],
        ['no mty', { mty: undefined }],
        ['no dig', { dig: undefined }],
        ['iat not an integer', { iat: 1795593600.5 }],
        ['iat as a string', { iat: '1795593600' }],
        ['no exp', { exp: undefined }],
        ['exp beyond the safe integers', { exp: 2 ** 60 }],
        ['rto as a number', { rto: 7 }],
      ])('refuses %s', async (_name, over) => {
        await expectRefused(envelopeFrom(claimsAt(f.clock, over)), 'MISSING_CLAIM');
      });
    });

    it.each([[2], [0], ['1'], [undefined]])('UNSUPPORTED_VERSION: refuses ver %p', async (ver) => {
      await expectRefused(envelopeFrom(claimsAt(f.clock, { ver })), 'UNSUPPORTED_VERSION');
    });

    it('WRONG_RECIPIENT: refuses a message addressed to another participant, naming sender and id', async () => {
      const claims = claimsAt(f.clock, { aud: HB });
      const e = await expectRefused(envelopeFrom(claims), 'WRONG_RECIPIENT');
      expect(e.sender).toBe(GD);
      expect(e.messageId).toBe(claims.jti);
      expect(e.grpcStatus).toBe(grpcStatus.FAILED_PRECONDITION);
    });

    it('EXPIRED: refuses a sealed message once the clock passes exp + skew', async () => {
      const { envelope } = f.sender.seal(BJ, REQ, PAYLOAD);
      f.clock.advanceSeconds(120 + 60 + 1);
      const e = await expectRefused(envelope, 'EXPIRED');
      expect(e.grpcStatus).toBe(grpcStatus.UNAUTHENTICATED);
    });

    it('NOT_YET_VALID: refuses iat more than skew in the future', async () => {
      const now = f.clock.epochSeconds();
      await expectRefused(envelopeFrom(claimsAt(f.clock, { iat: now + 61, exp: now + 61 + 120 })), 'NOT_YET_VALID');
    });

    describe('LIFETIME_TOO_LONG', () => {
      it('refuses exp - iat = 301', async () => {
        const now = f.clock.epochSeconds();
        await expectRefused(envelopeFrom(claimsAt(f.clock, { iat: now, exp: now + 301 })), 'LIFETIME_TOO_LONG');
      });

      it('refuses exp before iat', async () => {
        const now = f.clock.epochSeconds();
        await expectRefused(envelopeFrom(claimsAt(f.clock, { iat: now, exp: now - 1 })), 'LIFETIME_TOO_LONG');
      });
    });

    it('TYPE_MISMATCH: refuses a message of another type than the method takes', async () => {
      const { envelope } = f.sender.seal(BJ, 'tongban.federation.v1.GetJwksPayload', PAYLOAD);
      await expectRefused(envelope, 'TYPE_MISMATCH');
    });

    describe('DIGEST_MISMATCH', () => {
      it('refuses a payload with one byte changed', async () => {
        const { envelope } = f.sender.seal(BJ, REQ, PAYLOAD);
        const tampered = Buffer.from(PAYLOAD);
        tampered[3] ^= 0x01;
        await expectRefused({ jws: envelope.jws, payload: tampered }, 'DIGEST_MISMATCH');
      });

      it('refuses a truncated, extended or empty payload', async () => {
        const { envelope } = f.sender.seal(BJ, REQ, PAYLOAD);
        await expectRefused({ jws: envelope.jws, payload: PAYLOAD.subarray(1) }, 'DIGEST_MISMATCH');
        await expectRefused({ jws: envelope.jws, payload: Buffer.concat([PAYLOAD, Buffer.from([0])]) }, 'DIGEST_MISMATCH');
        await expectRefused({ jws: envelope.jws, payload: new Uint8Array(0) as Buffer }, 'DIGEST_MISMATCH'); // a plain Uint8Array, not a Buffer
      });
    });

    describe('SM3 payload digest (dal, docs/protocol.md §3.5)', () => {
      const sm3 = (b: Uint8Array) => createHash('sm3').update(b).digest('base64url');

      it('a sender set to SM3 writes dal "SM3" and an SM3 dig, and the receiver (set to SHA-256) accepts it', async () => {
        const sender = new EnvelopeService(
          fakeKeyStore(keys.gdEd),
          f.senderTrust as unknown as TrustStore,
          f.senderReplay as unknown as ReplayStore,
          f.clock,
          { ...OPTIONS, envelopeDigest: 'SM3' },
          GD,
        );
        const { envelope } = sender.seal(BJ, REQ, PAYLOAD);
        const opened = await f.receiver.open(envelope, request);
        expect(opened.claims.dal).toBe('SM3');
        expect(opened.claims.dig).toBe(sm3(PAYLOAD));
        expect(opened.claims.dig).not.toBe(digest(PAYLOAD));
        expect(Object.keys(opened.claims)).toEqual(['ver', 'iss', 'aud', 'mty', 'jti', 'iat', 'exp', 'dig', 'dal']);
      });

      it('a SHA-256 sender writes no dal at all (envelopes unchanged from before SM3 was an option)', () => {
        const { envelope } = f.sender.seal(BJ, REQ, PAYLOAD);
        expect(JSON.parse(Buffer.from(envelope.jws.split('.')[1], 'base64url').toString())).not.toHaveProperty('dal');
      });

      it('the empty-payload SM3 digest is the one the document gives', () => {
        expect(digest(new Uint8Array(0), 'SM3')).toBe('GrIdg1XPoX-OYRlIMegajyK-yMco_vt0ftA161CCqis');
      });

      it('DIGEST_MISMATCH: an SM3 dig over changed bytes, or a SHA-256 dig labelled SM3, or an SM3 dig without dal', async () => {
        const tampered = Buffer.from(PAYLOAD);
        tampered[0] ^= 1;
        await expectRefused(envelopeFrom(claimsAt(f.clock, { dig: sm3(PAYLOAD), dal: 'SM3' }), { payload: tampered }), 'DIGEST_MISMATCH');
        await expectRefused(envelopeFrom(claimsAt(f.clock, { dig: digest(PAYLOAD), dal: 'SM3' })), 'DIGEST_MISMATCH');
        await expectRefused(envelopeFrom(claimsAt(f.clock, { dig: sm3(PAYLOAD) })), 'DIGEST_MISMATCH');
      });

      it('ALG_NOT_ALLOWED: any other dal, even with a digest that would match (no MD5, no "sha256" spelling, no non-string)', async () => {
        const md5 = createHash('md5').update(PAYLOAD).digest('base64url');
        for (const [dal, dig] of [
          ['MD5', md5],
          ['sha256', digest(PAYLOAD)],
          ['SHA-256', digest(PAYLOAD)],
          ['sm3', sm3(PAYLOAD)],
          [null, digest(PAYLOAD)],
          [['SM3'], sm3(PAYLOAD)],
        ] as [unknown, string][]) {
          const e = await expectRefused(envelopeFrom(claimsAt(f.clock, { dig, dal })), 'ALG_NOT_ALLOWED');
          expect(e.message).toContain('dal');
        }
      });
    });

    it('PEER_SUSPENDED: refuses a correctly signed message from a suspended peer', async () => {
      f.trust.peers.get(GD)!.status = 'SUSPENDED';
      const e = await expectRefused(f.sender.seal(BJ, REQ, PAYLOAD).envelope, 'PEER_SUSPENDED');
      expect(e.grpcStatus).toBe(grpcStatus.PERMISSION_DENIED);
    });

    describe('REPLAYED', () => {
      it('refuses the same envelope opened twice', async () => {
        const { envelope, messageId } = f.sender.seal(BJ, REQ, PAYLOAD);
        await f.receiver.open(envelope, request);
        const e = await expectRefused(envelope, 'REPLAYED');
        expect(e.messageId).toBe(messageId);
        expect(e.grpcStatus).toBe(grpcStatus.ALREADY_EXISTS);
      });

      it('refuses a new, correctly signed message that reuses an accepted jti with another payload', async () => {
        const jti = randomUUID();
        await f.receiver.open(envelopeFrom(claimsAt(f.clock, { jti })), request);
        const other = Buffer.from('a different request');
        await expectRefused(envelopeFrom(claimsAt(f.clock, { jti }, other), { payload: other }), 'REPLAYED');
      });

      it('keys replay on (sender, jti): the same jti from another sender is a different message', async () => {
        const jti = randomUUID();
        await f.receiver.open(envelopeFrom(claimsAt(f.clock, { jti })), request);
        await expect(f.receiver.open(envelopeFrom(claimsAt(f.clock, { jti, iss: HB }), { key: keys.hbEd }), request)).resolves.toBeDefined();
        expect(f.replay.calls.map((c) => c.sender)).toEqual([GD, HB]);
      });
    });

    describe('REPLY_MISMATCH', () => {
      it('refuses a response whose rto names another request, or none', async () => {
        const { messageId } = f.sender.seal(BJ, REQ, PAYLOAD);
        const other = f.receiver.seal(GD, RES, PAYLOAD, randomUUID()).envelope;
        await expectRefused(other, 'REPLY_MISMATCH', { type: RES, replyTo: { messageId, from: BJ } }, f.sender, f.senderReplay);
        const none = f.receiver.seal(GD, RES, PAYLOAD).envelope;
        await expectRefused(none, 'REPLY_MISMATCH', { type: RES, replyTo: { messageId, from: BJ } }, f.sender, f.senderReplay);
      });

      it('refuses a response from another sender than the one asked', async () => {
        const { messageId } = f.sender.seal(BJ, REQ, PAYLOAD);
        // Beijing answers correctly, but Guangdong asked Hebei.
        const res = f.receiver.seal(GD, RES, PAYLOAD, messageId).envelope;
        const e = await expectRefused(res, 'REPLY_MISMATCH', { type: RES, replyTo: { messageId, from: HB } }, f.sender, f.senderReplay);
        expect(e.detail).toContain(HB);
      });
    });
  });

  describe('replay store is written only after every check passed', () => {
    it('a message refused for its type, payload or recipient can still be accepted once, then not again', async () => {
      const { envelope } = f.sender.seal(BJ, REQ, PAYLOAD);
      await expectRefused(envelope, 'TYPE_MISMATCH', { type: RES });
      await expectRefused({ jws: envelope.jws, payload: Buffer.from('other') }, 'DIGEST_MISMATCH');
      expect(f.replay.calls).toHaveLength(0);
      expect(f.replay.seen.size).toBe(0);
      await expect(f.receiver.open(envelope, request)).resolves.toBeDefined();
      expect(f.replay.seen.size).toBe(1);
      await expectRefused(envelope, 'REPLAYED');
    });

    it('a message refused while its peer was suspended is accepted after reinstatement', async () => {
      const { envelope } = f.sender.seal(BJ, REQ, PAYLOAD);
      f.trust.peers.get(GD)!.status = 'SUSPENDED';
      await expectRefused(envelope, 'PEER_SUSPENDED');
      f.trust.peers.get(GD)!.status = 'ACTIVE';
      await expect(f.receiver.open(envelope, request)).resolves.toBeDefined();
    });

    it('an early (NOT_YET_VALID) message does not burn its id', async () => {
      const now = f.clock.epochSeconds();
      const env = envelopeFrom(claimsAt(f.clock, { iat: now + 100, exp: now + 200 }));
      await expectRefused(env, 'NOT_YET_VALID');
      f.clock.advanceSeconds(50);
      await expect(f.receiver.open(env, request)).resolves.toBeDefined();
    });
  });

  // The replay store keeps an id until (exp + skew + 1) s, covering the whole last accepted second:
  // see replay-store.integration-spec.ts ('purge removes only ids whose expiry … has passed').

  describe('properties', () => {
    const validKids = [keys.gdEd.kid, keys.gdEs.kid, keys.gdRetired.kid, keys.gdRevoked.kid, keys.hbEd.kid];

    /** Runs `open` and returns either the result or the RefusalException; anything else fails. */
    async function outcome(service: EnvelopeService, env: Envelope, exp: OpenExpectation = request): Promise<{ ok: true } | { ok: false; code: RefusalCode }> {
      try {
        await service.open(env, exp);
        return { ok: true };
      } catch (e) {
        if (!(e instanceof RefusalException)) throw new Error(`open() threw a non-refusal: ${String(e)}`);
        return { ok: false, code: e.code };
      }
    }

    it('open() of an arbitrary string only ever refuses', async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ unit: fc.constantFrom(...B64URL_ALPHABET, '.'), maxLength: 300 })), async (jws) => {
          const r = await outcome(setup().receiver, { jws, payload: PAYLOAD });
          expect(r.ok).toBe(false);
        }),
        { numRuns: 300 },
      );
    });

    it('open() of hostile but well-formed header/claims/signature only ever refuses', async () => {
      const now = Math.floor(START_MS / 1000);
      const json = fc.jsonValue({ maxDepth: 2 });
      const header = fc.oneof(
        json,
        fc.record(
          {
            alg: fc.oneof(fc.constantFrom('EdDSA', 'ES256', 'none', 'HS256', 'RS256'), json),
            kid: fc.oneof(fc.constantFrom(...validKids), fc.string()),
            typ: fc.oneof(fc.constant(ENVELOPE_TYP), fc.string()),
            crit: json,
            b64: fc.boolean(),
          },
          { requiredKeys: [] },
        ),
      );
      const claims = fc.oneof(
        json,
        fc.record(
          {
            ver: fc.oneof(fc.constant(1), json),
            iss: fc.oneof(fc.constantFrom(GD, HB, BJ, '999999'), json),
            aud: fc.oneof(fc.constant(BJ), json),
            mty: fc.oneof(fc.constant(REQ), json),
            jti: fc.oneof(fc.uuid(), json),
            iat: fc.oneof(fc.constant(now), fc.integer(), json),
            exp: fc.oneof(fc.constant(now + 100), fc.integer(), json),
            dig: fc.oneof(fc.constant(digest(PAYLOAD)), json),
            rto: json,
          },
          { requiredKeys: [] },
        ),
      );
      const sig = fc.oneof(
        fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b).toString('base64url')),
        fc.string({ maxLength: 20 }),
      );
      await fc.assert(
        fc.asyncProperty(header, claims, sig, async (h, c, s) => {
          const r = await outcome(setup().receiver, { jws: `${b64json(h ?? null)}.${b64json(c ?? null)}.${s}`, payload: PAYLOAD });
          expect(r.ok).toBe(false);
        }),
        { numRuns: 300 },
      );
    });

    it('anything open() accepts from correctly signed arbitrary claims satisfies every envelope rule', async () => {
      const now = Math.floor(START_MS / 1000);
      const json = fc.jsonValue({ maxDepth: 1 });
      // Mostly valid values, so that the accepting path is reached often.
      const mostly = <T>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<unknown>) => fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: other });
      const base = fc.record(
        {
          ver: mostly(fc.constant(1), json),
          iss: mostly(fc.constant(GD), fc.oneof(fc.constantFrom(HB, BJ), json)),
          aud: mostly(fc.constant(BJ), fc.oneof(fc.constant(HB), json)),
          mty: mostly(fc.constant(REQ), fc.oneof(fc.constant(RES), json)),
          jti: mostly(fc.uuid(), fc.oneof(fc.string({ maxLength: 70 }), json)),
          dig: mostly(fc.constant(digest(PAYLOAD)), fc.string()),
          rto: fc.oneof(fc.uuid(), json),
        },
        { requiredKeys: ['ver', 'iss', 'aud', 'mty', 'jti', 'dig'] },
      );
      const times = mostly(
        fc.tuple(fc.integer({ min: -250, max: 80 }), fc.integer({ min: -5, max: 310 })).map(([offset, life]) => ({ iat: now + offset, exp: now + offset + life })),
        fc.record({ iat: json, exp: json }),
      );
      const claims = fc.tuple(base, times).map(([c, t]): Record<string, unknown> => ({ ...c, ...(t as object) }));
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(claims, async (c) => {
          const g = setup();
          const r = await outcome(g.receiver, { jws: compact({ alg: 'EdDSA', kid: keys.gdEd.kid, typ: ENVELOPE_TYP }, c, keys.gdEd), payload: PAYLOAD });
          if (!r.ok) return;
          accepted++;
          expect(c.ver).toBe(1);
          expect(c.iss).toBe(GD);
          expect(c.aud).toBe(BJ);
          expect(c.mty).toBe(REQ);
          expect(c.dig).toBe(digest(PAYLOAD));
          expect(typeof c.jti === 'string' && c.jti.length >= 1 && c.jti.length <= 64).toBe(true);
          const iat = c.iat as number;
          const exp = c.exp as number;
          expect(exp - iat).toBeGreaterThanOrEqual(0);
          expect(exp - iat).toBeLessThanOrEqual(300);
          expect(now).toBeLessThanOrEqual(exp + 60);
          expect(iat).toBeLessThanOrEqual(now + 60);
          expect(g.replay.seen.size).toBe(1);
        }),
        { numRuns: 400 },
      );
      expect(accepted).toBeGreaterThan(0); // the generator does reach the accepting path
    });

    it('open() with arbitrary payload bytes resolves only for the signed bytes', async () => {
      const base = setup();
      const { envelope } = base.sender.seal(BJ, REQ, PAYLOAD);
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 1100 }), fc.constant(new Uint8Array(PAYLOAD))), async (bytes) => {
          const r = await outcome(setup().receiver, { jws: envelope.jws, payload: bytes as Buffer }); // plain Uint8Array
          if (Buffer.from(bytes).equals(PAYLOAD)) expect(r).toEqual({ ok: true });
          else expect(r).toEqual({ ok: false, code: bytes.length > 1024 ? 'PAYLOAD_TOO_LARGE' : 'DIGEST_MISMATCH' });
        }),
        { numRuns: 300 },
      );
    });

    it('a single-character mutation of a valid jws is refused unless it leaves every decoded segment unchanged', async () => {
      const base = setup();
      const { envelope } = base.sender.seal(BJ, REQ, PAYLOAD);
      const jws = envelope.jws;
      const [h, c, s] = jws.split('.');
      const sigStart = h.length + c.length + 2;
      let noOps = 0;
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: jws.length - 1 }), fc.constantFrom(...B64URL_ALPHABET, '.', '=', '+', '/', ' ', 'é'), async (i, ch) => {
          const mutated = jws.slice(0, i) + ch + jws.slice(i + 1);
          const g = setup();
          const r = await outcome(g.receiver, { jws: mutated, payload: PAYLOAD });
          // Only the signature segment is decoded (not signed); a base64url character that differs
          // only in the unused low bits of the last character decodes to the same signature bytes.
          const newSig = mutated.slice(sigStart);
          const noOp = mutated === jws || (i >= sigStart && /^[A-Za-z0-9_-]+$/.test(newSig) && Buffer.from(newSig, 'base64url').equals(Buffer.from(s, 'base64url')));
          if (noOp) {
            noOps++;
            expect(r).toEqual({ ok: true });
          } else {
            expect(r.ok).toBe(false);
            expect(g.replay.seen.size).toBe(0);
          }
        }),
        { numRuns: 1000 },
      );
      expect(noOps).toBeLessThan(1000);
    });

    it('every single-character mutation of the header and claims segments is refused (exhaustive)', async () => {
      const base = setup();
      const { envelope } = base.sender.seal(BJ, REQ, PAYLOAD);
      const jws = envelope.jws;
      const end = jws.lastIndexOf('.');
      for (let i = 0; i < end; i++) {
        for (const ch of ['A', 'g', '_', '.', '=']) {
          if (jws[i] === ch) continue;
          const mutated = jws.slice(0, i) + ch + jws.slice(i + 1);
          const r = await outcome(base.receiver, { jws: mutated, payload: PAYLOAD });
          if (r.ok) throw new Error(`mutation at ${i} to ${ch} was accepted`);
        }
      }
      expect(base.replay.seen.size).toBe(0);
    });
  });
});
