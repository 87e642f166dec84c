import { createHash, createPublicKey, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Metadata, ServiceError, status } from '@grpc/grpc-js';
import {
  CaseOpened,
  DeliveryPayload,
  Envelope,
  GetStatusListPayload,
  KeyAnnouncement,
  LicenceQuery,
  LicenceStatus,
  LicenceStatusChanged,
  StepOutcome,
  StepStatusChanged,
  VerifyLicencesPayload,
} from '@tongban/proto';
import { buildLicenceId, creditCodeCheckChar, parseLicenceId } from '@tongban/identifiers';
import { noticeStream } from '@tongban/notices';
import { SM2_N, sm2SignatureFromDer, toBytes32 } from '@tongban/gm';
import { FakePeer, RawResult, TlsAs, credentialsFor } from '@tongban/testkit';

// The hostile-input corpus (test/fixtures/federation/{ok,not-ok}/*.json) and the small language
// its `attack` members are written in. Everything here builds bytes; test/corpus.e2e-spec.ts sends
// them to a real gateway and checks what happened.

export type Rpc = 'verifyLicences' | 'getJwks' | 'deliver' | 'getStatusList';

export const RPC_NAME: Record<Rpc, string> = { verifyLicences: 'VerifyLicences', getJwks: 'GetJwks', deliver: 'Deliver', getStatusList: 'GetStatusList' };
export const REQUEST_TYPE: Record<Rpc, string> = {
  verifyLicences: 'tongban.federation.v1.VerifyLicencesPayload',
  getJwks: 'tongban.federation.v1.GetJwksPayload',
  deliver: 'tongban.federation.v1.DeliveryPayload',
  getStatusList: 'tongban.federation.v1.GetStatusListPayload',
};
export const RESPONSE_TYPE: Record<Rpc, string> = {
  verifyLicences: 'tongban.federation.v1.VerifyLicencesResultPayload',
  getJwks: 'tongban.federation.v1.JwksPayload',
  deliver: 'tongban.federation.v1.DeliveryReceiptPayload',
  getStatusList: 'tongban.federation.v1.StatusListPayload',
};
const METHOD_PATH: Record<Rpc, string> = {
  verifyLicences: '/tongban.federation.v1.FederationService/VerifyLicences',
  getJwks: '/tongban.federation.v1.FederationService/GetJwks',
  deliver: '/tongban.federation.v1.FederationService/Deliver',
  getStatusList: '/tongban.federation.v1.FederationService/GetStatusList',
};

/** Refusals taken after the replay insert (docs/protocol.md §4.2 "Id consumed?"). */
export const CONSUMES_ID = new Set(['MALFORMED_PAYLOAD', 'LICENCE_TYPE_NOT_ALLOWED', 'UNKNOWN_STATUS_LIST', 'REPLAYED', 'OUT_OF_ORDER', 'RATE_LIMITED']);

/** `+N` / `-N` (seconds, relative) or an absolute value. */
type Rel = number | string;

export interface DeliverySpec {
  messageId?: string;
  stream?: string;
  seq?: string;
  type?: string;
  bodyHex?: string;
  /** Body = a KeyAnnouncement of a fresh Ed25519 key; `kid: "thumbprint"` uses the real one. */
  keyAnnouncement?: { kid?: string; status?: string; effectiveAt?: Rel; privateKeyMaterial?: boolean; jwkJson?: string };
  /** Body = a case message (type set accordingly); unset fields take proto defaults. */
  caseOpened?: Partial<CaseOpened>;
  stepOutcome?: Partial<StepOutcome>;
  stepStatusChanged?: Partial<StepStatusChanged>;
  /**
   * Body = a LicenceStatusChanged (type and stream set accordingly: the licence's own stream) about
   * `noticeLicence`; these members override the honest defaults (REVOKED, was VALID, version 1,
   * changed now). `precededBy`: notices sent first on the same stream (seq 1, 2, …), each accepted.
   */
  licenceStatusChanged?: Partial<Omit<LicenceStatusChanged, 'changedAt'>> & { changedAtSeconds?: string; changedAtNanos?: number };
  noticeLicence?: NoticeLicence;
  precededBy?: (Partial<Omit<LicenceStatusChanged, 'changedAt'>> & { changedAtSeconds?: string })[];
}

/** A licence a notice is about: issued in the sender's province (`peer`) or the gateway's, with its own serial (so its own stream). */
export interface NoticeLicence {
  issuedBy: 'peer' | 'gateway';
  serial: string;
}

export interface Attack {
  /** Who signs: the peer's EdDSA key (default), its ES256 key, a key made for `setup.keyStatus`, … */
  signer?: 'ed' | 'es' | 'sm2' | 'impostor' | 'stranger' | 'es256-as-eddsa' | 'ed-with-es-kid' | 'sm2-as-es256' | 'setup-key';
  /** Participant code of the `stranger` signer (default 150000). */
  strangerCode?: string;
  header?: Record<string, unknown>;
  omitHeader?: string[];
  kid?: string;
  claims?: Record<string, unknown>;
  /** Same as claims, for iat/exp given relative to now ("+1000", "-880"). */
  clock?: { iat?: Rel; exp?: Rel };
  omitClaims?: string[];
  /** 'sm3': `dig` is the SM3 digest and `dal` is "SM3" (docs/protocol.md §3.5); claims/omitClaims still apply. */
  digest?: 'sm3';
  mty?: string;
  /**
   * none / hs256 / der / truncated / flipped; for SM2 also: r or s replaced by 0 or n (out of range),
   * r‖s swapped, and 'sm2-empty-identity' — OpenSSL's one-shot SM2 (Z computed with an EMPTY
   * identity, not 1234567812345678), which verifies nowhere that follows GB/T 35276.
   */
  signature?: 'none' | 'hs256' | 'der' | 'truncated' | 'flipped' | 'sm2-r-zero' | 'sm2-s-n' | 'sm2-swapped' | 'sm2-empty-identity';
  /** After signing: `payload` sends other bytes than were digested; `claims` edits the signed claims. */
  tamper?: 'payload' | 'claims' | 'header';
  tamperClaims?: Record<string, Rel>;
  tamperHeader?: Record<string, unknown>;
  /** Breaks the compact serialisation itself. */
  jws?: 'two-parts' | 'four-parts' | 'padded' | 'std-base64' | 'too-long' | 'header-array' | 'claims-not-json' | 'empty' | 'empty-claims' | 'whitespace';
  envelope?: 'absent';
  /** Bytes of the whole gRPC request message, bypassing the envelope codec (hex). */
  rawRequestHex?: string;
  payload?:
    | { kind: 'hex'; hex: string }
    | { kind: 'non-utf8-string'; field?: 'query_id' | 'licence_type' | 'licence_number' | 'licence_id' | 'purpose' }
    | { kind: 'queries'; count: number }
    | { kind: 'query'; query: Partial<LicenceQuery> };
  payloadBytes?: 'oversize' | 'over-transport-limit';
  /** true: the honest message is sent once (accepted), then again. 'different-payload': same jti, new payload, re-signed. 'other-rpc': same jti on GetJwks. */
  replay?: true | 'different-payload' | 'other-rpc';
  /** Honest messages (each accepted) sent just before the attack, to use up a rate-limit burst. */
  burst?: number;
  delivery?: DeliverySpec;
  /** GetStatusList: the list_id asked for (default: list 0 of the demo licence's type). */
  listId?: string;
  /**
   * Who the sender is at the TLS layer (default: a certificate for the envelope's iss):
   * a participant code, null (a CA-issued certificate naming no participant), "no-certificate",
   * "insecure" (plaintext), or {"untrustedCa": code} (a certificate from a CA the gateway does not trust).
   */
  tls?: TlsAs;
}

export interface Setup {
  peerStatus?: 'ACTIVE' | 'SUSPENDED';
  allowedLicenceTypes?: string[];
  keyStatus?: 'ACTIVE' | 'RETIRED' | 'REVOKED';
  /**
   * With keyStatus RETIRED: makes the retirement one the peer announced itself this long ago
   * (retired_at and envelopes_until = retired_at + 360 s, written to the gateway's SQLite file, as a
   * KeyAnnouncement would set them). Without it the key was retired by an administrator: no grace.
   */
  announcedRetiredAgoSeconds?: number;
  rateLimitPerSecond?: number;
  allowedItems?: string[];
  allowedRoles?: string[];
  /**
   * A live subscription of the gateway (as the asker) to this licence of the peer, as a verification
   * with `notify: true` would have recorded it (written to the gateway's database, behind its back:
   * the corpus has one gateway, so there is no issuer to subscribe at).
   */
  noticeSubscription?: NoticeLicence;
}

export interface NotOkExpect {
  grpcStatus: string;
  /** null for a rejection by the gRPC library before the envelope layer (no trailer, no audit). */
  refusal: string | null;
  /** Expected audit actor of the refusal (`claimed:<code>` before the signature checked, `unknown` …). */
  auditActor?: string;
  /** null: the refusal came before the JWS parsed, so the audit row has no messageId. */
  auditMessageId?: null;
}

export interface OkExpect {
  ok: true;
  /** Deliver: expected `sta` of the signed receipt, and a part of its reason (`rsn`). */
  receipt?: 'ACCEPTED' | 'REJECTED';
  receiptReason?: string;
  /** VerifyLicences: expected status of the first result. */
  licenceStatus?: string;
  /** VerifyLicences: expected query_id echoed by the first result. */
  queryIdEchoed?: string;
  /** peer_keys rows the message adds (default 0; only a pinned known issue sets it). */
  keyRowsAdded?: number;
  /** Deliver of a notice: the subscription (setup.noticeSubscription) afterwards, and the licence.notice.received audit reason. */
  subscriptionAfter?: { lastVersion: number; lastStatus: string | null };
  noticeAudit?: { outcome: 'OK' | 'REFUSED'; reason: string };
}

export interface CorpusCase {
  file: string;
  kind: 'ok' | 'not-ok';
  name: string;
  description: string;
  rpc: Rpc;
  expect: NotOkExpect | OkExpect;
  setup?: Setup;
  attack: Attack;
  /** A behaviour of the gateway that looks wrong; the test pins what it does today. */
  knownIssue?: string;
}

const ATTACK_KEYS = [
  'signer',
  'strangerCode',
  'digest',
  'header',
  'omitHeader',
  'kid',
  'claims',
  'clock',
  'omitClaims',
  'mty',
  'signature',
  'tamper',
  'tamperClaims',
  'tamperHeader',
  'jws',
  'envelope',
  'rawRequestHex',
  'payload',
  'payloadBytes',
  'replay',
  'burst',
  'delivery',
  'listId',
  'tls',
];
const SETUP_KEYS = ['peerStatus', 'allowedLicenceTypes', 'keyStatus', 'announcedRetiredAgoSeconds', 'rateLimitPerSecond', 'allowedItems', 'allowedRoles', 'noticeSubscription'];

export const CORPUS_DIR = join(__dirname, '..', 'fixtures', 'federation');

/** Reads one corpus folder; rejects files that do not follow the format (so typos fail loudly). */
export function loadCorpus(kind: 'ok' | 'not-ok'): CorpusCase[] {
  const dir = join(CORPUS_DIR, kind);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const c = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CorpusCase;
      const where = `${kind}/${file}`;
      if (typeof c.name !== 'string' || typeof c.description !== 'string') throw new Error(`${where}: name and description are required`);
      if (!['verifyLicences', 'getJwks', 'deliver', 'getStatusList'].includes(c.rpc)) throw new Error(`${where}: rpc must be verifyLicences, getJwks, deliver or getStatusList`);
      if (typeof c.attack !== 'object' || c.attack === null) throw new Error(`${where}: attack is required (use {} for an honest message)`);
      const known = ['name', 'description', 'rpc', 'expect', 'setup', 'attack', 'knownIssue'];
      for (const k of Object.keys(c)) if (!known.includes(k)) throw new Error(`${where}: unknown member ${k}`);
      for (const k of Object.keys(c.attack)) if (!ATTACK_KEYS.includes(k)) throw new Error(`${where}: unknown attack member ${k}`);
      for (const k of Object.keys(c.setup ?? {})) if (!SETUP_KEYS.includes(k)) throw new Error(`${where}: unknown setup member ${k}`);
      if (kind === 'ok') {
        if ((c.expect as OkExpect).ok !== true) throw new Error(`${where}: expect.ok must be true`);
      } else {
        const e = c.expect as NotOkExpect;
        if (!(e.grpcStatus in status)) throw new Error(`${where}: ${e.grpcStatus} is not a gRPC status name`);
        if (e.refusal !== null && typeof e.refusal !== 'string') throw new Error(`${where}: expect.refusal must be a code or null`);
      }
      return { ...c, file, kind };
    });
}

/** Parties that sign corpus messages. */
export interface Parties {
  self: string;
  gateway: string;
  ed: FakePeer;
  es: FakePeer;
  /** The peer's SM2SM3 key (trusted beside ed and es). */
  sm2: FakePeer;
  impostor: FakePeer;
  stranger: (code: string) => Promise<FakePeer>;
  setupKey?: FakePeer;
  /** The subscription setup.noticeSubscription made, if any. */
  subscriptionId?: string;
  demoQuery: LicenceQuery;
}

/** What the test sends: the request(s) to send first (primes), then the attack. */
export interface Built {
  primes: { rpc: Rpc; envelope: Envelope }[];
  /** The RPC the attack goes to (c.rpc, except for a replay across RPCs). */
  rpc: Rpc;
  envelope?: Envelope;
  raw?: Buffer;
  /** jti of the attack message, when it has one. */
  jti?: string;
  /** For deliveries: the message id in the DeliveryPayload. */
  deliveryMessageId?: string;
  /** The TLS identity the attack is sent with (attack.tls). */
  tls?: TlsAs;
}

export function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

export function dig(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url');
}

function rel(v: Rel | undefined, base: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string' && /^[+-]\d+$/.test(v)) return base + Number(v);
  return v as number;
}

/** Protobuf field bytes (length-delimited wire type) built by hand. */
export function ldField(field: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), Buffer.from(bytes)]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

const FIELD_NUMBER = { query_id: 1, licence_type: 2, licence_number: 3, licence_id: 4, purpose: 6 } as const;
const FIELD_KEY = { query_id: 'queryId', licence_type: 'licenceType', licence_number: 'licenceNumber', licence_id: 'licenceId', purpose: 'purpose' } as const;

/** The payload an attack asks for (honest by default). */
export function payloadFor(rpc: Rpc, a: Attack, p: Parties, delivery: () => Uint8Array): Uint8Array {
  if (a.payloadBytes === 'oversize') return Buffer.alloc(1024 * 1024 + 1, 0x41); // 1 byte over the 1 MiB envelope limit, under gRPC's +64 KiB
  if (a.payloadBytes === 'over-transport-limit') return Buffer.alloc(2 * 1024 * 1024 + 70 * 1024, 0x41); // over the server's 2 × maxPayloadBytes + 64 KiB
  const pl = a.payload;
  if (pl?.kind === 'hex') return Buffer.from(pl.hex, 'hex');
  if (pl?.kind === 'non-utf8-string') {
    const field = pl.field ?? 'licence_type';
    const honest = LicenceQuery.encode({ ...p.demoQuery, [FIELD_KEY[field]]: '' }).finish();
    // 0xff 0xfe can never appear in UTF-8.
    const query = Buffer.concat([Buffer.from(honest), ldField(FIELD_NUMBER[field], Buffer.from([0xff, 0xfe]))]);
    return ldField(1, query);
  }
  if (pl?.kind === 'queries') return VerifyLicencesPayload.encode({ queries: Array.from({ length: pl.count }, (_, i) => ({ ...p.demoQuery, queryId: `q${i + 1}` })) }).finish();
  if (pl?.kind === 'query') return VerifyLicencesPayload.encode({ queries: [{ ...p.demoQuery, ...pl.query }] }).finish();
  if (rpc === 'verifyLicences') return VerifyLicencesPayload.encode({ queries: [p.demoQuery] }).finish();
  if (rpc === 'getJwks') return new Uint8Array(0);
  if (rpc === 'getStatusList') return GetStatusListPayload.encode({ listId: a.listId ?? `${p.demoQuery.licenceType}-0` }).finish();
  return delivery();
}

/** The licence a notice case is about: the demo licence's type and version, issued in the peer's (or the gateway's) province. */
export function noticeLicenceId(l: NoticeLicence, p: Pick<Parties, 'self' | 'gateway' | 'demoQuery'>): string {
  const demo = parseLicenceId(p.demoQuery.licenceId);
  const province = (l.issuedBy === 'peer' ? p.self : p.gateway).slice(0, 2);
  const first17 = `${demo.issuerCode.slice(0, 2)}${province}0101${demo.issuerCode.slice(8, 17)}`;
  return buildLicenceId({ typeCode: demo.typeCode, issuerCode: first17 + creditCodeCheckChar(first17), serial: l.serial, version: demo.version });
}

/** An honest LicenceStatusChanged about `licenceId`, with the spec's members over the defaults. */
function noticeBody(licenceId: string, n: NonNullable<DeliverySpec['licenceStatusChanged']>): Uint8Array {
  const { changedAtSeconds, changedAtNanos, ...fields } = n;
  const notice: LicenceStatusChanged = {
    licenceId,
    licenceType: parseLicenceId(licenceId).typeCode,
    status: LicenceStatus.LICENCE_STATUS_REVOKED,
    previous: LicenceStatus.LICENCE_STATUS_VALID,
    version: '1',
    changedAt: { seconds: changedAtSeconds ?? String(Math.floor(Date.now() / 1000)), nanos: changedAtNanos ?? 0 },
    reason: '吊销营业执照',
    ...fields,
  };
  return LicenceStatusChanged.encode(notice).finish();
}

/** A DeliveryPayload as the attack describes it (a fresh stream, seq 1, a type nobody handles, by default). */
export function deliveryPayload(d: DeliverySpec | undefined, stream: string, seqOverride?: string, noticeLicence?: string): { bytes: Uint8Array; messageId: string } {
  const messageId = d?.messageId ?? `corpus-${randomUUID()}`;
  let body = Buffer.from(d?.bodyHex ?? '', 'hex');
  let type = d?.type ?? 'tongban.corpus.v1.NobodyHandlesThis';
  if (noticeLicence) {
    body = Buffer.from(noticeBody(noticeLicence, d?.licenceStatusChanged ?? {}));
    type = d?.type ?? 'tongban.federation.v1.LicenceStatusChanged';
    stream = noticeStream(noticeLicence);
  }
  if (d?.keyAnnouncement) body = Buffer.from(keyAnnouncementBody(d.keyAnnouncement));
  if (d?.caseOpened) {
    body = Buffer.from(CaseOpened.encode(CaseOpened.fromJSON(d.caseOpened)).finish());
    type = d.type ?? 'tongban.cases.v1.CaseOpened';
  }
  if (d?.stepOutcome) {
    body = Buffer.from(StepOutcome.encode(StepOutcome.fromJSON(d.stepOutcome)).finish());
    type = d.type ?? 'tongban.cases.v1.StepOutcome';
  }
  if (d?.stepStatusChanged) {
    body = Buffer.from(StepStatusChanged.encode(StepStatusChanged.fromJSON(d.stepStatusChanged)).finish());
    type = d.type ?? 'tongban.cases.v1.StepStatusChanged';
  }
  const bytes = DeliveryPayload.encode({ messageId, stream: d?.stream ?? stream, seq: seqOverride ?? d?.seq ?? '1', type, body }).finish();
  return { bytes, messageId };
}

/** The public JWK and thumbprint of the key announced by the last keyAnnouncementBody call. */
export const announced: { jwk?: Record<string, unknown>; kid?: string; privateKey?: import('node:crypto').KeyObject } = {};

function keyAnnouncementBody(k: NonNullable<DeliverySpec['keyAnnouncement']>): Uint8Array {
  const pair = generateKeyPairSync('ed25519');
  const jwk = pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
  const thumb = createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x }))
    .digest('base64url');
  const published = k.privateKeyMaterial ? (pair.privateKey.export({ format: 'jwk' }) as Record<string, unknown>) : jwk;
  announced.jwk = jwk;
  announced.kid = thumb;
  announced.privateKey = pair.privateKey;
  const now = Math.floor(Date.now() / 1000);
  return KeyAnnouncement.encode({
    kid: k.kid === undefined || k.kid === 'thumbprint' ? thumb : k.kid,
    jwkJson: k.jwkJson ?? JSON.stringify(published),
    status: k.status ?? 'ACTIVE',
    effectiveAt: { seconds: String(rel(k.effectiveAt, now) ?? now), nanos: 0 },
    reason: 'corpus',
  }).finish();
}

/** Signs header.claims with `signer`'s private key as the attack says (proper P1363 for ES256). */
export function signParts(signer: FakePeer, header: Record<string, unknown>, claims: Record<string, unknown>, how?: Attack['signature']): string {
  const h = b64(JSON.stringify(header));
  const c = b64(JSON.stringify(claims));
  const input = Buffer.from(`${h}.${c}`);
  let sig: Buffer;
  if (how === 'none') sig = Buffer.alloc(0);
  else if (how === 'sm2-empty-identity') {
    const der = sign('sm3', input, signer.privateKey);
    // The attack is only worth something if it is a genuine signature under the other identity.
    if (!verify('sm3', input, createPublicKey(signer.privateKey), der)) throw new Error('sm2-empty-identity: OpenSSL one-shot SM2 did not produce a signature it verifies');
    sig = sm2SignatureFromDer(der);
  } else sig = signer.signInput(input, how === 'der');
  if (how === 'sm2-r-zero') sig.fill(0, 0, 32);
  if (how === 'sm2-s-n') toBytes32(SM2_N).copy(sig, 32);
  if (how === 'sm2-swapped') sig = Buffer.concat([sig.subarray(32), sig.subarray(0, 32)]);
  if (how === 'truncated') sig = sig.subarray(0, sig.length - 2);
  if (how === 'flipped') sig[sig.length - 1] ^= 0x01;
  return `${h}.${c}.${b64(sig)}`;
}

function decodePart(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Claims of a compact JWS, unverified. */
export function claimsOf(jws: string): Record<string, unknown> {
  return decodePart(jws.split('.')[1]);
}

/** Builds the message(s) of one corpus case (each case gets its own delivery stream and jti). */
export async function build(c: CorpusCase, p: Parties): Promise<Built> {
  const a = c.attack;
  if (a.envelope === 'absent') return { primes: [], rpc: c.rpc, envelope: undefined };
  const stream = `corpus-${c.name}-${randomUUID().slice(0, 8)}`;
  let deliveryMessageId: string | undefined;
  const noticeLicence = a.delivery?.noticeLicence ? noticeLicenceId(a.delivery.noticeLicence, p) : undefined;
  const preceding = a.delivery?.precededBy ?? [];
  const delivery = () => {
    const d = deliveryPayload(a.delivery, stream, preceding.length ? String(preceding.length + 1) : undefined, noticeLicence);
    deliveryMessageId = d.messageId;
    return d.bytes;
  };

  let signer: FakePeer;
  const header: Record<string, unknown> = {};
  switch (a.signer ?? (c.setup?.keyStatus ? 'setup-key' : 'ed')) {
    case 'ed':
      signer = p.ed;
      break;
    case 'es':
      signer = p.es;
      break;
    case 'sm2':
      signer = p.sm2;
      break;
    case 'sm2-as-es256':
      // The SM2 key trusted for the peer signs (SM2), but the header claims ES256.
      signer = p.sm2;
      header.alg = 'ES256';
      break;
    case 'impostor':
      signer = p.impostor;
      break;
    case 'stranger':
      signer = await p.stranger(a.strangerCode ?? '150000');
      break;
    case 'setup-key':
      if (!p.setupKey) throw new Error(`${c.file}: signer setup-key needs setup.keyStatus`);
      signer = p.setupKey;
      break;
    case 'es256-as-eddsa':
      // The ES256 key trusted for the peer signs, but the header claims EdDSA.
      signer = p.es;
      header.alg = 'EdDSA';
      break;
    case 'ed-with-es-kid':
      // The EdDSA key signs, but the header names the ES256 key (and its algorithm).
      signer = p.ed;
      header.alg = 'ES256';
      header.kid = p.es.kid;
      break;
    default:
      throw new Error(`${c.file}: unknown signer ${a.signer}`);
  }

  const payload = payloadFor(c.rpc, a, p, delivery);
  const now = Math.floor(Date.now() / 1000);
  const fullHeader: Record<string, unknown> = { alg: signer.alg, kid: signer.kid, typ: 'tongban-envelope+jws', ...header, ...(a.kid !== undefined ? { kid: a.kid } : {}), ...a.header };
  for (const k of a.omitHeader ?? []) delete fullHeader[k];
  const claims: Record<string, unknown> = {
    ver: 1,
    iss: signer.code,
    aud: p.gateway,
    mty: a.mty ?? REQUEST_TYPE[c.rpc],
    jti: randomUUID(),
    iat: now,
    exp: now + 120,
    ...(a.digest === 'sm3' ? { dig: createHash('sm3').update(payload).digest('base64url'), dal: 'SM3' } : { dig: dig(payload) }),
    ...a.claims,
  };
  for (const k of ['iat', 'exp'] as const) {
    const v = a.clock?.[k] ?? (typeof a.claims?.[k] === 'string' ? a.claims[k] : undefined);
    if (v !== undefined && /^[+-]\d+$/.test(String(v))) claims[k] = rel(v, now);
  }
  for (const k of a.omitClaims ?? []) delete claims[k];

  let jws: string;
  if (a.signature === 'hs256') {
    // FakePeer's own HS256 forgery: HMAC keyed with the public JWK it is trusted under.
    jws = signer.craft({ aud: String(claims.aud), mty: String(claims.mty), payload, claims, header: { ...fullHeader, alg: 'HS256' }, signature: 'hs256' }).jws;
  } else {
    jws = signParts(signer, fullHeader, claims, a.signature);
  }
  let sent: Uint8Array = payload;

  if (a.tamper === 'payload') {
    // Bytes differ from what was digested and signed; the receiver must notice.
    const other =
      c.rpc === 'verifyLicences' ? VerifyLicencesPayload.encode({ queries: [{ ...p.demoQuery, purpose: '篡改后的用途' }] }).finish() : Buffer.concat([Buffer.from(payload), Buffer.from([0x08, 0x01])]);
    sent = other;
  } else if (a.tamper === 'claims') {
    const [h, , s] = jws.split('.');
    const edited = { ...claims };
    for (const [k, v] of Object.entries(a.tamperClaims ?? { exp: '+100' })) edited[k] = typeof v === 'string' && /^[+-]\d+$/.test(v) ? (claims[k] as number) + Number(v) : v;
    jws = `${h}.${b64(JSON.stringify(edited))}.${s}`;
  } else if (a.tamper === 'header') {
    const [, cl, s] = jws.split('.');
    jws = `${b64(JSON.stringify({ ...fullHeader, ...(a.tamperHeader ?? { jku: 'https://attacker.example/jwks.json' }) }))}.${cl}.${s}`;
  }

  const [h, cl, s] = jws.split('.');
  switch (a.jws) {
    case 'two-parts':
      jws = `${h}.${cl}`;
      break;
    case 'four-parts':
      jws = `${h}.${cl}.${s}.${s}`;
      break;
    case 'padded':
      jws = `${h}.${cl}==.${s}`;
      break;
    case 'std-base64':
      jws = `${h}.${cl}.${Buffer.from(s, 'base64url').toString('base64').replace(/=+$/, '')}+/`;
      break;
    case 'whitespace':
      jws = `${h}. ${cl}.${s}`;
      break;
    case 'too-long': {
      // Valid JSON, validly signed, just beyond the 4096-character cap.
      const big = { ...claims, pad: 'x'.repeat(3200) };
      jws = signParts(signer, fullHeader, big);
      break;
    }
    case 'header-array':
      jws = `${b64(JSON.stringify([fullHeader]))}.${cl}.${s}`;
      break;
    case 'claims-not-json':
      jws = `${h}.${b64('{"iss":"120000",')}.${s}`;
      break;
    case 'empty-claims':
      jws = `${h}..${s}`;
      break;
    case 'empty':
      jws = '';
      break;
  }

  const primes: Built['primes'] = [];
  preceding.forEach((n, i) => {
    const { bytes } = deliveryPayload({ ...a.delivery, messageId: undefined, licenceStatusChanged: n }, stream, String(i + 1), noticeLicence);
    primes.push({ rpc: c.rpc, envelope: { jws: signParts(signer, fullHeader, { ...claims, jti: randomUUID(), dig: dig(bytes) }), payload: Buffer.from(bytes) } });
  });
  for (let i = 0; i < (a.burst ?? 0); i++) {
    const honest = payloadFor(c.rpc, {}, p, delivery);
    primes.push({ rpc: c.rpc, envelope: { jws: signParts(signer, fullHeader, { ...claims, jti: randomUUID(), dig: dig(honest) }), payload: Buffer.from(honest) } });
  }
  let envelope: Envelope = { jws, payload: Buffer.from(sent) };
  if (a.replay) {
    // The honest message goes first and is accepted; the attack reuses its jti.
    primes.push({ rpc: c.rpc, envelope });
    if (a.replay === 'different-payload') {
      const other = c.rpc === 'verifyLicences' ? VerifyLicencesPayload.encode({ queries: [{ ...p.demoQuery, queryId: 'q-replayed' }] }).finish() : delivery();
      envelope = { jws: signParts(signer, fullHeader, { ...claims, dig: dig(other) }), payload: Buffer.from(other) };
    } else if (a.replay === 'other-rpc') {
      const empty = new Uint8Array(0);
      envelope = { jws: signParts(signer, fullHeader, { ...claims, mty: REQUEST_TYPE.getJwks, dig: dig(empty) }), payload: Buffer.from(empty) };
    }
  }
  const jti = typeof claims.jti === 'string' ? claims.jti.slice(0, 64) : undefined;

  const rpc: Rpc = a.replay === 'other-rpc' ? 'getJwks' : c.rpc;
  if (a.rawRequestHex !== undefined) return { primes, rpc, raw: Buffer.from(a.rawRequestHex, 'hex'), tls: a.tls };
  return { primes, rpc, envelope, jti: a.omitClaims?.includes('jti') ? undefined : jti, deliveryMessageId, tls: a.tls };
}

/** Sends pre-serialised request bytes (a broken wrapper message) and reports like FakePeer.send. */
export async function sendRaw(endpoint: string, rpc: Rpc, bytes: Buffer, as?: TlsAs): Promise<RawResult> {
  const client = new Client(endpoint, await credentialsFor(as ?? '000000'));
  return new Promise<RawResult>((resolve) => {
    client.makeUnaryRequest(
      METHOD_PATH[rpc],
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      new Metadata(),
      { deadline: Date.now() + 5000 },
      (err: ServiceError | null, res?: Buffer) => {
        client.close();
        if (err) resolve({ code: err.code, refusal: String(err.metadata?.get('tongban-refusal')?.[0] ?? ''), details: err.details });
        else resolve({ envelope: res as unknown as Envelope });
      },
    );
  });
}

/** The name of a gRPC status code (`UNAUTHENTICATED` for 16). */
export function statusName(code: number | undefined): string {
  return code === undefined ? 'OK' : ((status as unknown as Record<number, string>)[code] ?? String(code));
}
