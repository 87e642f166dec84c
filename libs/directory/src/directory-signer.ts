import { KeyObject, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { Sm2SigningKey } from '@tongban/keys';
import { DIRECTORY_FORMAT, DIRECTORY_TYP, DirectoryDocument, canonicalJson, directoryProblem, jwkThumbprint } from './directory-document';

// The trust anchor's private key is an OFFLINE key of the national platform's administrators: it is
// generated, read and used only here, by the `tongban directory` commands on an administrator's
// machine, and never stored by a gateway (scripts/check-layers.js allows this one file to touch
// private keys for that reason). Gateways only ever see the anchor's public JWK.

/** A public Ed25519 or SM2 (国密) JWK with its RFC 7638 kid. */
export type AnchorPublicJwk =
  { kty: 'OKP'; crv: 'Ed25519'; x: string; kid: string; alg: 'EdDSA'; use: 'sig' } | { kty: 'EC'; crv: 'SM2'; x: string; y: string; kid: string; alg: 'SM2SM3'; use: 'sig' };

/** Algorithms the trust anchor may sign with. */
export type AnchorAlg = 'EdDSA' | 'SM2SM3';

/** A new anchor key pair (Ed25519 unless `alg` is SM2SM3): the private JWK (to be written to an offline file) and its public JWK. */
export function generateAnchorKey(alg: AnchorAlg = 'EdDSA'): { privateJwk: Record<string, string>; publicJwk: AnchorPublicJwk } {
  if (alg === 'SM2SM3') {
    const jwk = Sm2SigningKey.generate().privateJwk();
    const publicJwk = anchorPublicJwk(jwk);
    return { privateJwk: { ...publicJwk, d: jwk.d }, publicJwk };
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' }) as { kty: 'OKP'; crv: 'Ed25519'; x: string; d: string };
  const kid = jwkThumbprint(jwk);
  const publicJwk: AnchorPublicJwk = { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' };
  return { privateJwk: { ...publicJwk, d: jwk.d }, publicJwk };
}

/** The public half of an anchor JWK (private or public), with its kid. */
export function anchorPublicJwk(jwk: { kty?: unknown; crv?: unknown; x?: unknown; y?: unknown }): AnchorPublicJwk {
  if (jwk.kty === 'EC' && jwk.crv === 'SM2' && typeof jwk.x === 'string' && typeof jwk.y === 'string') {
    return { kty: 'EC', crv: 'SM2', x: jwk.x, y: jwk.y, kid: jwkThumbprint(jwk), alg: 'SM2SM3', use: 'sig' };
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('the anchor key must be an Ed25519 JWK (kty OKP, crv Ed25519) or an SM2 JWK (kty EC, crv SM2)');
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: jwkThumbprint(jwk), alg: 'EdDSA', use: 'sig' };
}

function privateKeyOf(jwk: Record<string, unknown>): { sign: (input: Buffer) => Buffer; kid: string; alg: AnchorAlg } {
  if (typeof jwk.d !== 'string') throw new Error('the key file holds no private key (d): sign with the anchor PRIVATE key');
  const pub = anchorPublicJwk(jwk);
  if (pub.alg === 'SM2SM3') {
    let sm2: Sm2SigningKey;
    try {
      // Checks d in [1, n-2] and that x, y are d·G: a file whose parts disagree would sign documents no gateway accepts.
      sm2 = Sm2SigningKey.fromJwk({ kty: 'EC', crv: 'SM2', x: pub.x, y: pub.y, d: jwk.d });
    } catch (e) {
      throw new Error(`the key file is not a usable SM2 private JWK, or is inconsistent: ${(e as Error).message}`);
    }
    return { sign: (input) => sm2.sign(input), kid: pub.kid, alg: 'SM2SM3' };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', x: pub.x, d: jwk.d }, format: 'jwk' });
  } catch {
    throw new Error('the key file is not a usable Ed25519 private JWK');
  }
  // A file whose d does not belong to its x would sign documents no gateway accepts.
  const derived = createPublicKey(key).export({ format: 'jwk' }) as { x: string };
  if (derived.x !== pub.x) throw new Error('the key file is inconsistent: its private part does not match its public part');
  return { sign: (input) => cryptoSign(null, input, key), kid: pub.kid, alg: 'EdDSA' };
}

/** Options of `signDirectory`. */
export interface SignOptions {
  /** Validity when notAfter is absent, from notBefore (default 30 days). */
  validDays?: number;
  /** Signing time (default now). */
  now?: Date;
}

/**
 * Signs a directory with the anchor private JWK: fills `format`, `issuedAt`, `notBefore`,
 * `notAfter` and key `kid`s when absent, refuses a document a gateway would refuse, and returns
 * the compact JWS over the canonical JSON (header `{alg: EdDSA or SM2SM3, kid, typ}`) and the document signed.
 */
export async function signDirectory(input: unknown, privateJwk: Record<string, unknown>, options: SignOptions = {}): Promise<{ jws: string; document: DirectoryDocument; kid: string }> {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new Error('the directory must be a JSON object');
  const { sign, kid, alg } = privateKeyOf(privateJwk);
  const now = options.now ?? new Date();
  const validDays = options.validDays ?? 30;
  if (!(validDays > 0 && validDays <= 3650)) throw new Error('--valid-days must be more than 0 and at most 3650');
  const doc = structuredClone(input) as Record<string, unknown>;
  doc.format ??= DIRECTORY_FORMAT;
  doc.issuedAt ??= now.toISOString();
  doc.notBefore ??= now.toISOString();
  if (doc.notAfter === undefined && typeof doc.notBefore === 'string' && !Number.isNaN(Date.parse(doc.notBefore))) {
    doc.notAfter = new Date(Date.parse(doc.notBefore) + validDays * 86_400_000).toISOString();
  }
  if (Array.isArray(doc.participants)) {
    for (const p of doc.participants as { keys?: { kid?: string; jwk?: Record<string, unknown> }[] }[]) {
      for (const k of Array.isArray(p?.keys) ? p.keys : []) if (k && k.kid === undefined && k.jwk && typeof k.jwk === 'object') k.kid = jwkThumbprint(k.jwk);
    }
  }
  const problem = directoryProblem(doc);
  if (problem) throw new Error(`the directory is not valid, nothing signed: ${problem}`);
  // Compact JWS (RFC 7515 §7.1) over the canonical JSON, signed in the anchor's algorithm.
  const signingInput = `${Buffer.from(JSON.stringify({ alg, kid, typ: DIRECTORY_TYP })).toString('base64url')}.${Buffer.from(canonicalJson(doc), 'utf8').toString('base64url')}`;
  const jws = `${signingInput}.${sign(Buffer.from(signingInput, 'ascii')).toString('base64url')}`;
  return { jws, document: doc as unknown as DirectoryDocument, kid };
}
