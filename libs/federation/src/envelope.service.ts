import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { Clock, SELF_CODE } from '@tongban/common';
import { KeyStore } from '@tongban/keys';
import { TrustStore } from '@tongban/trust';
import { Envelope } from '@tongban/proto';
import { ENVELOPE_DIGESTS, ENVELOPE_TYP, ENVELOPE_VERSION, EnvelopeClaims, EnvelopeDigestAlg, OpenedEnvelope } from './envelope-claims';
import { FEDERATION_OPTIONS, FederationOptions, MAX_MESSAGE_LIFETIME_SECONDS } from './federation.options';
import { verifyJwsSignature } from './jws-signature';
import { RefusalException } from './refusal';
import { ReplayStore } from './replay-store.service';

const B64URL = /^[A-Za-z0-9_-]*$/;
const KID = /^[A-Za-z0-9_-]{1,64}$/;
const CODE = /^\d{6}$/;
const MAX_JWS_CHARS = 4096;

/** What the receiver expects of an incoming envelope. */
export interface OpenExpectation {
  type: string;
  /** For a response: the request id it must answer, and the peer that must have sent it. */
  replyTo?: { messageId: string; from: string };
  /**
   * The participant the caller's TLS client certificate names (null: none); undefined when the
   * transport is not TLS (development flag). The envelope's sender must be this participant.
   */
  transportPeer?: string | null;
  /**
   * A request whose handler remembers its id in its own transaction (ReplayMark, the Deliver RPC):
   * `open` returns the mark instead of inserting the id. FederationInbox.handle sees it stored.
   */
  rememberInHandler?: boolean;
}

/** Seals outgoing messages and opens incoming ones; every rule of docs/protocol.md §Envelope lives here. */
@Injectable()
export class EnvelopeService {
  constructor(
    private readonly keys: KeyStore,
    private readonly trust: TrustStore,
    private readonly replay: ReplayStore,
    private readonly clock: Clock,
    @Inject(FEDERATION_OPTIONS) private readonly options: FederationOptions,
    @Inject(SELF_CODE) private readonly self: string,
  ) {}

  /** Signs `payload` for `recipient`; returns the envelope and its message id. */
  seal(recipient: string, type: string, payload: Uint8Array, replyTo?: string, signKid?: string): { envelope: Envelope; messageId: string } {
    const iat = this.clock.epochSeconds();
    const dal = this.options.envelopeDigest ?? 'SHA-256';
    const claims: EnvelopeClaims = {
      ver: ENVELOPE_VERSION,
      iss: this.self,
      aud: recipient,
      mty: type,
      jti: randomUUID(),
      iat,
      exp: iat + Math.min(this.options.messageTtlSeconds, MAX_MESSAGE_LIFETIME_SECONDS),
      dig: digest(payload, dal),
      ...(dal === 'SHA-256' ? {} : { dal }),
      ...(replyTo ? { rto: replyTo } : {}),
    };
    const jws = this.keys.signJws(ENVELOPE_TYP, claims, signKid);
    return { envelope: { jws, payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) }, messageId: claims.jti };
  }

  /**
   * Checks an incoming envelope in a fixed order and returns its claims and payload, or throws a
   * RefusalException naming the first rule it breaks. Requests are remembered for replay checks.
   */
  async open(envelope: Envelope | undefined, expect: OpenExpectation): Promise<OpenedEnvelope> {
    if (!envelope || typeof envelope.jws !== 'string' || !envelope.payload) throw new RefusalException('MALFORMED_ENVELOPE', 'envelope, jws and payload are required');
    const payload = Buffer.isBuffer(envelope.payload) ? envelope.payload : Buffer.from(envelope.payload);
    if (payload.length > this.options.maxPayloadBytes) {
      throw new RefusalException('PAYLOAD_TOO_LARGE', `payload is ${payload.length} bytes; the limit is ${this.options.maxPayloadBytes}`);
    }
    const { header, claims: unverified } = parseCompact(envelope.jws);
    const sender = typeof unverified.iss === 'string' && CODE.test(unverified.iss) ? unverified.iss : undefined;
    const messageId = typeof unverified.jti === 'string' ? unverified.jti.slice(0, 64) : undefined;
    let verified = false;
    const refuse = (code: ConstructorParameters<typeof RefusalException>[0], detail: string) => new RefusalException(code, detail, sender, messageId, verified);

    if (header.typ !== ENVELOPE_TYP) throw refuse('MALFORMED_ENVELOPE', `header typ must be ${ENVELOPE_TYP}`);
    if (header.crit !== undefined) throw refuse('MALFORMED_ENVELOPE', 'header crit is not supported');
    if (typeof header.alg !== 'string' || !(this.options.allowedAlgorithms as string[]).includes(header.alg)) {
      throw refuse('ALG_NOT_ALLOWED', `alg must be one of ${this.options.allowedAlgorithms.join(', ')}`);
    }
    if (typeof header.kid !== 'string' || !KID.test(header.kid)) throw refuse('MALFORMED_ENVELOPE', 'header kid must be 1-64 base64url characters');
    if (!sender) throw refuse('MISSING_CLAIM', 'iss must be a 6-digit participant code');
    if (expect.transportPeer !== undefined && expect.transportPeer !== sender) {
      const what =
        expect.transportPeer === null
          ? 'names no participant (or is not issued by the CA the directory lists for it, or in directory mode the directory lists none)'
          : `is for participant ${expect.transportPeer}`;
      throw refuse('TLS_IDENTITY_MISMATCH', `the TLS client certificate ${what}; it may not send as ${sender}`);
    }
    if (expect.replyTo && sender !== expect.replyTo.from) throw refuse('REPLY_MISMATCH', `response must come from ${expect.replyTo.from}`);
    const peer = this.trust.peer(sender);
    if (!peer) throw refuse('UNKNOWN_SENDER', `sender ${sender} is not in the trust store`);
    // Peer policy (PATCH /admin/peers/{code} allowedAlgs), e.g. a province that must see SM2 from this peer.
    if (peer.allowedAlgs && !(peer.allowedAlgs as string[]).includes(header.alg)) {
      throw refuse('ALG_NOT_ALLOWED', `peer ${sender} must sign with ${peer.allowedAlgs.join(' or ')} (peer policy)`);
    }
    const key = peer.keys.get(header.kid);
    if (!key) throw refuse('UNKNOWN_KEY', `key ${header.kid} is not trusted for ${sender}`);
    if (key.status === 'REVOKED') throw refuse('KEY_REVOKED', `key ${header.kid} of ${sender} is revoked`);
    // Envelopes need an ACTIVE key. The one exception: a retirement the peer announced itself (a
    // rotation) leaves its messages signed just before the switch acceptable until envelopesUntil
    // (retirement + one maximum message lifetime + skew). A key retired by an administrator or by
    // the directory signs no envelope from that moment.
    if (key.status === 'RETIRED' && !(key.envelopesUntil && this.clock.now().getTime() <= key.envelopesUntil.getTime())) {
      throw refuse('KEY_RETIRED', `key ${header.kid} of ${sender} is retired`);
    }
    if (key.alg !== header.alg) throw refuse('KEY_ALG_MISMATCH', `key ${header.kid} is an ${key.alg} key`);
    // alg is allow-listed and equals the key's algorithm (both checked above), and crit was refused.
    if (!verifyJwsSignature(envelope.jws, key.key, key.alg)) throw refuse('BAD_SIGNATURE', 'signature does not verify');
    verified = true;
    if (peer.status !== 'ACTIVE') throw refuse('PEER_SUSPENDED', `peer ${sender} is suspended`);
    const claims = checkClaims(unverified, refuse);
    if (claims.aud !== this.self) throw refuse('WRONG_RECIPIENT', `message is addressed to ${claims.aud}, not ${this.self}`);
    if (claims.exp - claims.iat > MAX_MESSAGE_LIFETIME_SECONDS || claims.exp < claims.iat) {
      throw refuse('LIFETIME_TOO_LONG', `exp - iat must be between 0 and ${MAX_MESSAGE_LIFETIME_SECONDS} seconds`);
    }
    const now = this.clock.epochSeconds();
    const skew = this.options.clockSkewSeconds;
    if (now > claims.exp + skew) throw refuse('EXPIRED', 'message has expired');
    if (claims.iat > now + skew) throw refuse('NOT_YET_VALID', `message is issued more than ${skew}s in the future`);
    if (claims.mty !== expect.type) throw refuse('TYPE_MISMATCH', `this method takes ${expect.type}`);
    if (digest(payload, claims.dal ?? 'SHA-256') !== claims.dig) throw refuse('DIGEST_MISMATCH', `payload digest (${claims.dal ?? 'SHA-256'}) does not match the signed dig claim`);
    if (expect.replyTo) {
      if (claims.rto !== expect.replyTo.messageId) throw refuse('REPLY_MISMATCH', 'rto does not name the request');
    } else if (!this.replay.issuedAfterRestore(claims.iat)) {
      throw refuse('REPLAYED', `message ${claims.jti} was issued before this gateway was restored from a backup; send it again in a new envelope`);
    } else if (expect.rememberInHandler) {
      return { claims, payload, replay: this.replay.mark(sender, claims.jti, claims.exp) };
    } else if (!(await this.replay.remember(sender, claims.jti, claims.exp))) {
      throw refuse('REPLAYED', `message id ${claims.jti} was already accepted`);
    }
    return { claims, payload };
  }
}

/** base64url(H(bytes)), the `dig` claim; H is SHA-256 unless `alg` (the `dal` claim) says SM3. */
export function digest(bytes: Uint8Array, alg: EnvelopeDigestAlg = 'SHA-256'): string {
  return createHash(ENVELOPE_DIGESTS[alg]).update(bytes).digest('base64url');
}

function parseCompact(jws: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  if (jws.length > MAX_JWS_CHARS) throw new RefusalException('MALFORMED_ENVELOPE', `jws longer than ${MAX_JWS_CHARS} characters`);
  const parts = jws.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p)) || !parts[0] || !parts[1]) {
    throw new RefusalException('MALFORMED_ENVELOPE', 'jws must be three base64url parts (compact serialisation)');
  }
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (!isObject(header) || !isObject(claims)) throw new Error('not objects');
    return { header, claims };
  } catch {
    throw new RefusalException('MALFORMED_ENVELOPE', 'jws header and claims must be JSON objects');
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkClaims(c: Record<string, unknown>, refuse: (code: 'MISSING_CLAIM' | 'UNSUPPORTED_VERSION' | 'ALG_NOT_ALLOWED', d: string) => RefusalException): EnvelopeClaims {
  if (c.ver !== ENVELOPE_VERSION) throw refuse('UNSUPPORTED_VERSION', `ver must be ${ENVELOPE_VERSION}`);
  for (const name of ['aud', 'mty', 'jti', 'dig'] as const) {
    if (typeof c[name] !== 'string' || !c[name].length) throw refuse('MISSING_CLAIM', `${name} must be a non-empty string`);
  }
  // `dal` names the digest of `dig`; absent means SHA-256 (every envelope before SM3 was an option).
  if (c.dal !== undefined && c.dal !== 'SM3') throw refuse('ALG_NOT_ALLOWED', 'dal must be absent (SHA-256) or "SM3"');
  if (!CODE.test(c.aud as string)) throw refuse('MISSING_CLAIM', 'aud must be a 6-digit participant code');
  if ((c.jti as string).length > 64) throw refuse('MISSING_CLAIM', 'jti must be at most 64 characters');
  for (const name of ['iat', 'exp'] as const) {
    if (!Number.isSafeInteger(c[name])) throw refuse('MISSING_CLAIM', `${name} must be an integer number of seconds`);
  }
  if (c.rto !== undefined && typeof c.rto !== 'string') throw refuse('MISSING_CLAIM', 'rto must be a string');
  return c as unknown as EnvelopeClaims;
}
