import { generateKeyPairSync, KeyObject, sign as cryptoSign } from 'node:crypto';
import { join } from 'node:path';
import { calculateJwkThumbprint, JWK } from 'jose';
import { DataSource } from 'typeorm';
import { AuditEventEntity, AuditLog } from '@tongban/audit';
import { Clock, ParticipantDirectory } from '@tongban/common';
import type { KeyStore } from '@tongban/keys';
import { buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { PeerEntity, PeerKeyEntity, TrustStore } from '@tongban/trust';
import { ENVELOPE_TYP, ENVELOPE_VERSION } from './envelope-claims';
import { digest, EnvelopeService } from './envelope.service';
import { FederationOptions, MAX_MESSAGE_LIFETIME_SECONDS } from './federation.options';
import { RefusalException } from './refusal';
import type { ReplayStore } from './replay-store.service';
import { SignedTokenVerifier } from './signed-token.verifier';

// A peer key's status as the trust store holds it (admin API, announcements) decides what the
// envelope check does: docs/protocol.md §4.1 steps 14-15, §6.4 and §15.
class TestClock extends Clock {
  constructor(public ms = Date.UTC(2026, 11, 1, 8, 0, 0)) {
    super();
  }
  now(): Date {
    return new Date(this.ms);
  }
}

const SELF = '440000';
const PEER = '110000';
const OPTIONS: FederationOptions = { allowedAlgorithms: ['EdDSA', 'ES256'], messageTtlSeconds: 120, clockSkewSeconds: 60, maxPayloadBytes: 4096, peerDeadlineMs: 3000 };
const GRACE_MS = (MAX_MESSAGE_LIFETIME_SECONDS + OPTIONS.clockSkewSeconds) * 1000;
const participants = ParticipantDirectory.fromFile(join(__dirname, '..', '..', '..', 'data', 'participants.json'));

interface PeerSigningKey {
  kid: string;
  jwk: JWK;
  privateKey: KeyObject;
}

async function newKey(): Promise<PeerSigningKey> {
  const pair = generateKeyPairSync('ed25519');
  const jwk = pair.publicKey.export({ format: 'jwk' }) as JWK;
  return { kid: await calculateJwkThumbprint(jwk, 'sha256'), jwk, privateKey: pair.privateKey };
}

/** A compact JWS signed by the peer's key (as the peer's own KeyStore would sign it). */
function jws(key: PeerSigningKey, typ: string, claims: object): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'EdDSA', kid: key.kid, typ })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${cryptoSign(null, Buffer.from(input, 'ascii'), key.privateKey).toString('base64url')}`;
}

describeEachDatabase('peer key status and the envelope check', (fresh) => {
  let ds: DataSource;
  let clock: TestClock;
  let trust: TrustStore;
  let envelopes: EnvelopeService;
  let verifier: SignedTokenVerifier;
  let n = 0;

  /** A fresh, well-formed request envelope from PEER signed with `key` at the current time. */
  const envelopeBy = (key: PeerSigningKey) => {
    const payload = Buffer.from('hello');
    const iat = Math.floor(clock.ms / 1000);
    const claims = { ver: ENVELOPE_VERSION, iss: PEER, aud: SELF, mty: 'tongban.federation.v1.GetJwksPayload', jti: `m-${++n}`, iat, exp: iat + 120, dig: digest(payload) };
    return { jws: jws(key, ENVELOPE_TYP, claims), payload };
  };
  const open = (key: PeerSigningKey) => envelopes.open(envelopeBy(key), { type: 'tongban.federation.v1.GetJwksPayload', transportPeer: PEER });
  const refusal = (p: Promise<unknown>) =>
    p.then(
      () => 'ACCEPTED',
      (e: unknown) => (e instanceof RefusalException ? e.code : `unexpected ${String(e)}`),
    );

  beforeEach(async () => {
    clock = new TestClock();
    ds = await openDatabase(buildDataSource(fresh(), [PeerEntity, PeerKeyEntity, AuditEventEntity]));
    trust = new TrustStore(ds, clock, participants, SELF, new AuditLog(ds, clock));
    await trust.refresh();
    const seen = new Set<string>();
    const replay = { remember: async (s: string, id: string) => !seen.has(`${s}/${id}`) && !!seen.add(`${s}/${id}`), issuedAfterRestore: () => true } as unknown as ReplayStore;
    const ownKeys = { publicKey: () => undefined } as unknown as KeyStore;
    envelopes = new EnvelopeService(ownKeys, trust, replay, clock, OPTIONS, SELF);
    verifier = new SignedTokenVerifier(ownKeys, trust, OPTIONS, SELF);
  });

  afterEach(async () => {
    if (ds?.isInitialized) await ds.destroy();
  });

  it('a key an administrator retires signs no envelope from that moment; its attestations still verify', async () => {
    const key = await newKey();
    await trust.create({ code: PEER, endpoint: 'h:1', keys: [key.jwk] }, 'admin');
    const attestation = jws(key, 'tongban-attestation+jws', { iss: PEER, sub: 'x' });
    expect(await refusal(open(key))).toBe('ACCEPTED');

    await trust.setKeyStatus(PEER, key.kid, { status: 'RETIRED' }, 'admin');
    // Before the fix the key stayed acceptable for a rotation grace (360 s) after the PATCH.
    expect(await refusal(open(key))).toBe('KEY_RETIRED');
    expect(await verifier.check(attestation, 'tongban-attestation+jws')).toMatchObject({ valid: true, kid: key.kid });

    await trust.setKeyStatus(PEER, key.kid, { status: 'REVOKED' }, 'admin');
    expect(await refusal(open(key))).toBe('KEY_REVOKED');
    expect(await verifier.check(attestation, 'tongban-attestation+jws')).toMatchObject({ valid: false, reason: 'KEY_REVOKED' });
  });

  it('a retirement the peer announced itself leaves its in-flight envelopes acceptable for one lifetime plus skew, then refuses them', async () => {
    const [old, next] = [await newKey(), await newKey()];
    await trust.create({ code: PEER, endpoint: 'h:1', keys: [old.jwk] }, 'admin');
    await runInTransaction(ds, (tx) => trust.applyAnnouncement(tx, PEER, next.jwk, 'ACTIVE', clock.now(), GRACE_MS));
    await runInTransaction(ds, (tx) => trust.applyAnnouncement(tx, PEER, old.jwk, 'RETIRED', clock.now(), GRACE_MS));
    await trust.refresh();
    expect(trust.peer(PEER)!.keys.get(old.kid)).toMatchObject({ status: 'RETIRED', envelopesUntil: new Date(clock.ms + GRACE_MS) });
    expect(await refusal(open(old))).toBe('ACCEPTED');
    clock.ms += GRACE_MS;
    expect(await refusal(open(old))).toBe('ACCEPTED');
    clock.ms += 1;
    expect(await refusal(open(old))).toBe('KEY_RETIRED');
    expect(await refusal(open(next))).toBe('ACCEPTED');
  });

  it('a retirement announced with a future effective time gets no grace beyond now + one lifetime', async () => {
    const key = await newKey();
    await trust.create({ code: PEER, endpoint: 'h:1', keys: [key.jwk] }, 'admin');
    await runInTransaction(ds, (tx) => trust.applyAnnouncement(tx, PEER, key.jwk, 'RETIRED', new Date(clock.ms + 86_400_000), GRACE_MS));
    await trust.refresh();
    expect(trust.peer(PEER)!.keys.get(key.kid)!.envelopesUntil).toEqual(new Date(clock.ms + GRACE_MS));
  });

  it('announcements only move a key forward: a state already known (or passed) is acknowledged and changes nothing', async () => {
    const [a, b] = [await newKey(), await newKey()];
    await trust.create({ code: PEER, endpoint: 'h:1', keys: [a.jwk, b.jwk] }, 'admin');
    // Learnt from the directory or an administrator first.
    await trust.setKeyStatus(PEER, a.kid, { status: 'REVOKED' }, 'admin');
    await trust.setKeyStatus(PEER, b.kid, { status: 'RETIRED' }, 'admin');
    const apply = (k: PeerSigningKey, s: 'ACTIVE' | 'RETIRED' | 'REVOKED') => runInTransaction(ds, (tx) => trust.applyAnnouncement(tx, PEER, k.jwk, s, clock.now(), GRACE_MS));
    expect(await apply(a, 'REVOKED')).toEqual({ kid: a.kid, changed: false });
    expect(await apply(a, 'RETIRED')).toEqual({ kid: a.kid, changed: false });
    expect(await apply(a, 'ACTIVE')).toEqual({ kid: a.kid, changed: false });
    expect(await apply(b, 'RETIRED')).toEqual({ kid: b.kid, changed: false });
    expect(await apply(b, 'ACTIVE')).toEqual({ kid: b.kid, changed: false });
    const rows = await ds.getRepository(PeerKeyEntity).find();
    expect(Object.fromEntries(rows.map((r) => [r.kid, [r.status, r.envelopesUntil]]))).toEqual({ [a.kid]: ['REVOKED', null], [b.kid]: ['RETIRED', null] });
    // Forward moves still apply.
    expect(await apply(b, 'REVOKED')).toEqual({ kid: b.kid, changed: true });
  });
});
