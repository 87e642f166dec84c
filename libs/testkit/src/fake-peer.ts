import { createHash, createHmac, createPrivateKey, createPublicKey, createSign, generateKeyPairSync, KeyObject, randomUUID, sign } from 'node:crypto';
import { calculateJwkThumbprint, JWK } from 'jose';
import { ChannelCredentials, credentials, Metadata, ServiceError } from '@grpc/grpc-js';
import { Sm2PublicKey, sm2JwkThumbprint, sm2SignatureFromDer } from '@tongban/gm';
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

export type FakePeerAlg = 'EdDSA' | 'ES256' | 'SM2SM3';

/**
 * A test participant with its own Ed25519, P-256 or SM2 key, able to craft any envelope — honest
 * or hostile — and send it to a gateway over real gRPC.
 */
export class FakePeer {
  readonly privateKey: KeyObject;
  readonly publicJwk: JWK;
  kid = '';
  readonly alg: FakePeerAlg;
  /** For an SM2 party: its public key (Z_A of the default identity). */
  private readonly sm2?: Sm2PublicKey;

  private constructor(
    readonly code: string,
    alg: FakePeerAlg,
    key?: KeyObject,
  ) {
    this.alg = alg;
    const curve = { EdDSA: undefined, ES256: 'P-256', SM2SM3: 'SM2' }[alg];
    const pair = key ? { privateKey: key, publicKey: createPublicKey(key) } : curve ? generateKeyPairSync('ec', { namedCurve: curve }) : generateKeyPairSync('ed25519');
    // An SM2 key straight from generateKeyPair is EC-typed (OpenSSL would sign ECDSA with it); decoded
    // from its PKCS #8 DER it is SM2-typed (as Sm2SigningKey does it in libs/keys).
    this.privateKey = alg === 'SM2SM3' ? createPrivateKey({ key: pair.privateKey.export({ type: 'pkcs8', format: 'der' }), format: 'der', type: 'pkcs8' }) : pair.privateKey;
    if (alg === 'SM2SM3') {
      this.sm2 = Sm2PublicKey.fromKeyObject(pair.publicKey);
      this.publicJwk = this.sm2.jwk();
    } else {
      this.publicJwk = pair.publicKey.export({ format: 'jwk' }) as JWK;
    }
  }

  /** A new party for participant `code`. */
  static async create(code: string, alg: FakePeerAlg = 'EdDSA'): Promise<FakePeer> {
    const p = new FakePeer(code, alg);
    p.kid = await p.thumbprint();
    return p;
  }

  /**
   * The raw JWS signature over `input` with this party's key: EdDSA, ES256 as r‖s (DER when
   * `der`), SM2SM3 as r‖s with Z_A of the default identity (DER when `der`), as docs/protocol.md
   * §3.6 / §16.4 say.
   */
  signInput(input: Uint8Array, der = false): Buffer {
    if (this.alg === 'EdDSA') return sign(null, input, this.privateKey);
    if (this.alg === 'ES256') return sign('sha256', input, { key: this.privateKey, dsaEncoding: der ? 'der' : 'ieee-p1363' });
    const s = createSign('sm3');
    s.update(this.sm2!.za);
    s.update(input);
    const signature = s.sign(this.privateKey);
    return der ? signature : sm2SignatureFromDer(signature);
  }

  /**
   * A party signing with an existing private key (e.g. a real gateway's signing key read from its
   * database, to play that gateway misbehaving); the kid is the key's JWK thumbprint, as KeyStore makes it.
   */
  static async withKey(code: string, privateKey: KeyObject): Promise<FakePeer> {
    const alg = privateKey.asymmetricKeyType === 'ed25519' ? 'EdDSA' : privateKey.asymmetricKeyDetails?.namedCurve === 'SM2' ? 'SM2SM3' : 'ES256';
    const p = new FakePeer(code, alg, privateKey);
    p.kid = await p.thumbprint();
    return p;
  }

  /** RFC 7638 kid, as KeyStore makes it (docs/protocol.md §6.1, §16.3 for SM2). */
  private thumbprint(): Promise<string> {
    return this.sm2 ? Promise.resolve(sm2JwkThumbprint(this.sm2.jwk())) : calculateJwkThumbprint(this.publicJwk, 'sha256');
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
    else sig = this.signInput(input);
    return { jws: `${h}.${c}.${sig.toString('base64url')}`, payload: Buffer.from(o.sendPayload ?? o.payload) };
  }

  /** Sends an envelope to `endpoint` as `rpc` over mutual TLS (as `as`) and reports the outcome. */
  static async send(endpoint: string, rpc: 'verifyLicences' | 'getJwks' | 'deliver' | 'getStatusList', envelope: Envelope | undefined, as?: TlsAs): Promise<RawResult> {
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
