import { KeyObject } from 'node:crypto';
import { PublicJwkError, importPublicJwk, jwkAlgorithm, verifyJwsSignature } from '@tongban/gm';
import { DIRECTORY_MAX_BYTES, DIRECTORY_TYP, DirectoryDocument, directoryDocumentSchema, jwkThumbprint } from './directory-document';

/** Why a directory was not applied (the `reason` of `directory.refused`). */
export type DirectoryRefusalReason = 'BAD_SIGNATURE' | 'NOT_ANCHOR_KEY' | 'ROLLBACK' | 'EXPIRED' | 'NOT_YET_VALID' | 'MALFORMED' | 'UNREACHABLE';

/** A typed refusal: the reason code and a message safe to log and show to admins. */
export interface DirectoryRefusal {
  ok: false;
  reason: DirectoryRefusalReason;
  message: string;
  /** The serial the document claims, when it could be read. */
  serial?: number;
}

/** A document whose signature and content check. */
export interface VerifiedDirectory {
  ok: true;
  document: DirectoryDocument;
  jws: string;
  /** The anchor key that signed it. */
  kid: string;
}

/**
 * The national trust anchor's public key(s), ready to verify with. Usually one; during an anchor
 * rollover the old and the new key are both configured (a JWK Set), and a directory signed by
 * either verifies (docs/operations.md §17.8).
 */
export interface AnchorKey {
  /** The first configured key's kid (for display). */
  kid: string;
  key: KeyObject;
  /** Every configured anchor key by kid. */
  keys: Map<string, KeyObject>;
}

/** At most this many anchor keys at once (old, new, and one spare). */
export const MAX_ANCHOR_KEYS = 3;

/** The directory a gateway holds now (for rollback checks). */
export interface HeldDirectory {
  serial: number;
  issuedAt: string;
  jws: string;
}

const B64URL_PART = /^[A-Za-z0-9_-]*$/;
const refuse = (reason: DirectoryRefusalReason, message: string, serial?: number): DirectoryRefusal => ({ ok: false, reason, message, ...(serial === undefined ? {} : { serial }) });

/**
 * Reads the anchor's public JWK (Ed25519 or SM2), or a JWK Set of them (a rollover; algorithms may differ). Throws with a plain message when it is not one;
 * a JWK with a private part is refused: a gateway must never hold the anchor's private key.
 */
export function loadAnchor(jwk: unknown): AnchorKey {
  const set = jwk as { keys?: unknown } | null;
  if (set && typeof set === 'object' && !Array.isArray(set) && 'keys' in set) {
    if (!Array.isArray(set.keys) || set.keys.length < 1 || set.keys.length > MAX_ANCHOR_KEYS) {
      throw new Error(`an anchor JWK Set must hold 1 to ${MAX_ANCHOR_KEYS} public keys`);
    }
    const loaded = set.keys.map((k, i) => {
      try {
        return loadOneAnchor(k);
      } catch (e) {
        throw new Error(`anchor keys[${i}]: ${(e as Error).message}`);
      }
    });
    return { kid: loaded[0].kid, key: loaded[0].key, keys: new Map(loaded.map((a) => [a.kid, a.key])) };
  }
  const one = loadOneAnchor(jwk);
  return { ...one, keys: new Map([[one.kid, one.key]]) };
}

function loadOneAnchor(jwk: unknown): { kid: string; key: KeyObject } {
  const j = jwk as Record<string, unknown> | null;
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new Error('the anchor key must be a JSON object (a public JWK)');
  if ('d' in j) throw new Error("the anchor key holds a private part (d): give the gateway the anchor's PUBLIC key only");
  const alg = jwkAlgorithm(j);
  if (alg !== 'EdDSA' && alg !== 'SM2SM3') throw new Error('the anchor key must be an Ed25519 public JWK (kty OKP, crv Ed25519) or an SM2 one (kty EC, crv SM2)');
  const kid = jwkThumbprint(j);
  if (j.kid !== undefined && j.kid !== kid) throw new Error('the anchor key has a kid that is not its RFC 7638 thumbprint');
  let key: KeyObject;
  try {
    key = importPublicJwk(j, alg);
  } catch (e) {
    throw new Error(`the anchor key is not a usable ${alg === 'EdDSA' ? 'Ed25519' : 'SM2'} public key${e instanceof PublicJwkError ? ` (${e.code})` : ''}`);
  }
  return { kid, key };
}

/**
 * Checks a signed directory: compact JWS shape, header (`typ`, `alg` EdDSA or SM2SM3, `kid` = an
 * anchor key's), the signature with that key in its own algorithm, then the document. Time and rollback are
 * checked separately (`checkFreshness`). Never throws: every failure is a typed refusal.
 */
export async function verifyDirectory(jws: unknown, anchor: AnchorKey): Promise<VerifiedDirectory | DirectoryRefusal> {
  try {
    if (typeof jws !== 'string') return refuse('MALFORMED', 'not text');
    const token = jws.trim();
    if (token.length === 0 || token.length > DIRECTORY_MAX_BYTES) return refuse('MALFORMED', `empty or larger than ${DIRECTORY_MAX_BYTES} characters`);
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => B64URL_PART.test(p)) || !parts[0] || !parts[1]) return refuse('MALFORMED', 'not a compact JWS (three base64url parts)');
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return refuse('MALFORMED', 'the JWS header is not JSON');
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) return refuse('MALFORMED', 'the JWS header is not a JSON object');
    if (header.typ !== DIRECTORY_TYP) return refuse('MALFORMED', `typ must be ${DIRECTORY_TYP}`);
    if (header.crit !== undefined) return refuse('MALFORMED', 'crit is not supported');
    // Only the anchor's algorithm: alg none, HS256 (the public key as an HMAC secret) and others
    // never reach a verifier.
    if (header.alg !== 'EdDSA' && header.alg !== 'SM2SM3') return refuse('BAD_SIGNATURE', `alg ${String(header.alg).slice(0, 20)} is not allowed (EdDSA or SM2SM3 only)`);
    if (typeof header.kid !== 'string') return refuse('MALFORMED', 'the JWS header has no kid');
    const key = anchor.keys.get(header.kid);
    if (!key) return refuse('NOT_ANCHOR_KEY', `signed by key ${header.kid.slice(0, 64)}, not by the trust anchor ${[...anchor.keys.keys()].join(' or ')}`);
    // The one verification entry of every JWS (@tongban/gm), with the anchor's one algorithm.
    // verifyJwsSignature also refuses an alg that is not the anchor key's own (an EdDSA header on an SM2 key).
    if (!verifyJwsSignature(token, key, header.alg)) return refuse('BAD_SIGNATURE', 'the signature does not verify with the trust anchor key');
    const payload = Buffer.from(parts[1], 'base64url');
    let value: unknown;
    try {
      value = JSON.parse(Buffer.from(payload).toString('utf8'));
    } catch {
      return refuse('MALFORMED', 'the payload is not JSON');
    }
    const parsed = directoryDocumentSchema.safeParse(value);
    const claimed = value && typeof value === 'object' && Number.isSafeInteger((value as { serial?: unknown }).serial) ? (value as { serial: number }).serial : undefined;
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return refuse('MALFORMED', `${issue.path.map(String).join('.') || '(document)'}: ${issue.message}`.slice(0, 300), claimed);
    }
    return { ok: true, document: parsed.data, jws: token, kid: header.kid };
  } catch (e) {
    // A bug in a check must still not take the gateway down; the document is simply not used.
    return refuse('MALFORMED', `unreadable: ${(e as Error)?.message ?? e}`.slice(0, 300));
  }
}

/** Outcome of the time and rollback checks of a verified directory. */
export type Freshness = { ok: true; unchanged: boolean } | DirectoryRefusal;

/**
 * Time and rollback rules of a verified directory against the one held now:
 * serial lower than held → ROLLBACK; the same serial is accepted only as the same bytes (unchanged)
 * or as a re-issue with a later issuedAt; notBefore later than now + skew → NOT_YET_VALID;
 * past notAfter + grace → EXPIRED (within the grace it is still the newest truth and is used).
 */
export function checkFreshness(doc: DirectoryDocument, jws: string, held: HeldDirectory | null, nowMs: number, graceMs: number, skewMs: number): Freshness {
  if (held) {
    if (jws === held.jws) return { ok: true, unchanged: true };
    if (doc.serial < held.serial) return refuse('ROLLBACK', `serial ${doc.serial} is lower than the applied serial ${held.serial}`, doc.serial);
    if (doc.serial === held.serial && !(Date.parse(doc.issuedAt) > Date.parse(held.issuedAt))) {
      return refuse('ROLLBACK', `serial ${doc.serial} is applied already with other content and a later or equal issuedAt`, doc.serial);
    }
  }
  if (Date.parse(doc.notBefore) > nowMs + skewMs) return refuse('NOT_YET_VALID', `not valid before ${doc.notBefore}`, doc.serial);
  if (nowMs > Date.parse(doc.notAfter) + graceMs) return refuse('EXPIRED', `expired at ${doc.notAfter} and its grace period has ended too`, doc.serial);
  return { ok: true, unchanged: false };
}
