import { createHash, createHmac, createPublicKey, generateKeyPairSync, KeyObject, randomUUID, sign } from 'node:crypto';
import { calculateJwkThumbprint, JWK } from 'jose';
import { ChannelCredentials, credentials, Metadata, ServiceError } from '@grpc/grpc-js';
import { Envelope, FederationServiceClient } from '@tongban/proto';
import { TestPki, testCredentials } from './test-pki';

/**
 * Who a test party is at the TLS layer: a participant code, null (a certificate naming no
 * participant), 'no-certificate', 'insecure' (plaintext, for gateways on the development flag),
 * or a certificate for a participant from a CA nobody trusts. Unset: the envelope's iss (an
 * honest peer), or 000000 when the envelope has none.
 */
export type TlsAs = string | null | { untrustedCa: string };

/** Client credentials for `as` (see TlsAs); `envelope` supplies the default identity. */
export async function credentialsFor(as: TlsAs | undefined, envelope?: Envelope): Promise<ChannelCredentials> {
  if (as === 'insecure') return credentials.createInsecure();
  if (as !== null && typeof as === 'object') return (await (await TestPki.get()).other()).credentials(as.untrustedCa);
  return testCredentials(as === undefined ? (issOf(envelope) ?? '000000') : as);
}

function issOf(envelope: Envelope | undefined): string | undefined {
  try {
    const iss = (JSON.parse(Buffer.from(String(envelope?.jws ?? '').split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: unknown } | null)?.iss;
    return typeof iss === 'string' && /^\d{6}$/.test(iss) ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** What a hostile or honest test party can vary when it builds an envelope. */
export interface CraftOptions {
  aud: string;
  mty: string;
  payload: Uint8Array;
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  /** Replace the signature: 'none' = empty, 'hs256' = HMAC with the public key as secret. */
  signature?: 'none' | 'hs256';
  /** Payload actually sent (to tamper after signing). */
  sendPayload?: Uint8Array;
}

/** Outcome of a raw gRPC call: either a response envelope or a status with the refusal code. */
export interface RawResult {
  envelope?: Envelope;
  code?: number;
  refusal?: string;
  details?: string;
}

/**
 * A test participant with its own Ed25519 (or P-256) key, able to craft any envelope — honest
 * or hostile — and send it to a gateway over real gRPC.
 */
export class FakePeer {
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
  kid = '';
  readonly alg: 'EdDSA' | 'ES256';

  private constructor(
    readonly code: string,
    alg: 'EdDSA' | 'ES256',
    key?: KeyObject,
  ) {
    this.alg = alg;
    const pair = key ? { privateKey: key, publicKey: createPublicKey(key) } : alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.privateKey = pair.privateKey;
    this.publicJwk = pair.publicKey.export({ format: 'jwk' }) as JWK;
  }

  /** A new party for participant `code`. */
  static async create(code: string, alg: 'EdDSA' | 'ES256' = 'EdDSA'): Promise<FakePeer> {
    const p = new FakePeer(code, alg);
    p.kid = await calculateJwkThumbprint(p.publicJwk, 'sha256');
    return p;
  }

  /**
   * A party signing with an existing private key (e.g. a real gateway's signing key read from its
   * database, to play that gateway misbehaving); the kid is the key's JWK thumbprint, as KeyStore makes it.
   */
  static async withKey(code: string, privateKey: KeyObject): Promise<FakePeer> {
    const p = new FakePeer(code, privateKey.asymmetricKeyType === 'ed25519' ? 'EdDSA' : 'ES256', privateKey);
    p.kid = await calculateJwkThumbprint(p.publicJwk, 'sha256');
    return p;
  }

  /** The public JWK to register in a gateway's trust store. */
  jwk(): JWK {
    return { ...this.publicJwk, kid: this.kid, alg: this.alg, use: 'sig' };
  }

  /** Builds an envelope; by default honest, with every claim overridable. */
  craft(o: CraftOptions): Envelope {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: this.alg, kid: this.kid, typ: 'tongban-envelope+jws', ...o.header };
    const claims = {
      ver: 1,
      iss: this.code,
      aud: o.aud,
      mty: o.mty,
      jti: randomUUID(),
      iat: now,
      exp: now + 120,
      dig: createHash('sha256').update(o.payload).digest('base64url'),
      ...o.claims,
    };
    const h = b64(JSON.stringify(header));
    const c = b64(JSON.stringify(claims));
    const input = Buffer.from(`${h}.${c}`);
    let sig: Buffer;
    if (o.signature === 'none') sig = Buffer.alloc(0);
    else if (o.signature === 'hs256')
      sig = createHmac('sha256', Buffer.from(JSON.stringify(this.publicJwk)))
        .update(input)
        .digest();
    else sig = this.alg === 'EdDSA' ? sign(null, input, this.privateKey) : sign('sha256', input, { key: this.privateKey, dsaEncoding: 'ieee-p1363' });
    return { jws: `${h}.${c}.${sig.toString('base64url')}`, payload: Buffer.from(o.sendPayload ?? o.payload) };
  }

  /** Sends an envelope to `endpoint` as `rpc` over mutual TLS (as `as`) and reports the outcome. */
  static async send(endpoint: string, rpc: 'verifyLicences' | 'getJwks' | 'deliver', envelope: Envelope | undefined, as?: TlsAs): Promise<RawResult> {
    const client = new FederationServiceClient(endpoint, await credentialsFor(as, envelope));
    return new Promise<RawResult>((resolve) => {
      client[rpc]({ envelope }, new Metadata(), { deadline: Date.now() + 5000 }, (err: ServiceError | null, res?: { envelope?: Envelope }) => {
        client.close();
        if (err) resolve({ code: err.code, refusal: String(err.metadata?.get('tongban-refusal')?.[0] ?? ''), details: err.details });
        else resolve({ envelope: res?.envelope });
      });
    });
  }
}

function b64(s: string): string {
  return Buffer.from(s).toString('base64url');
}
