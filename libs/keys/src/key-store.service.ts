import { Inject, Injectable, Logger } from '@nestjs/common';
import { KeyObject, createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { calculateJwkThumbprint, JWK } from 'jose';
import { DataSource, Repository } from 'typeorm';
import { Clock } from '@tongban/common';
import { KeyEncryption } from './key-encryption';
import { SigningKeyEntity } from './signing-key.entity';
import { KEYS_OPTIONS, KeysOptions, SigningAlg } from './keys.options';

interface LoadedKey {
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject | null;
  publicKey: KeyObject;
  publicJwk: JWK;
  status: SigningKeyEntity['status'];
  createdAt: Date;
}

/** A public view of one of our keys, safe to show anywhere. */
export interface PublicKeyInfo {
  kid: string;
  alg: string;
  status: string;
  createdAt: string;
  jwk: JWK;
}

/**
 * The only holder of this gateway's private keys. Callers sign by key id; key material never
 * leaves this class (no getter returns a private key, and it is never logged).
 */
@Injectable()
export class KeyStore {
  private readonly logger = new Logger('KeyStore');
  private readonly keys = new Map<string, LoadedKey>();
  private active: LoadedKey | undefined;
  private readonly repo: Repository<SigningKeyEntity>;
  private readonly encryption: KeyEncryption;

  constructor(
    ds: DataSource,
    private readonly clock: Clock,
    @Inject(KEYS_OPTIONS) private readonly options: KeysOptions,
  ) {
    this.repo = ds.getRepository(SigningKeyEntity);
    this.encryption = new KeyEncryption(options.keyEncryptionSecret);
  }

  /** Loads every key, generating the first one when none exists. Fails if a key cannot be decrypted. */
  async init(): Promise<void> {
    let rows = await this.repo.find({ order: { createdAt: 'ASC' } });
    if (!rows.some((r) => r.status === 'ACTIVE')) {
      await this.generate(this.options.signingAlg);
      rows = await this.repo.find({ order: { createdAt: 'ASC' } });
    }
    this.keys.clear();
    for (const row of rows) {
      let privateKey: KeyObject | null = null;
      if (row.status === 'ACTIVE') {
        try {
          privateKey = createPrivateKey({ key: this.encryption.open(row.kid, row.privateKeyEnc), format: 'der', type: 'pkcs8' });
        } catch {
          throw new Error(`signing key ${row.kid} cannot be decrypted: wrong key-encryption secret (TONGBAN_KEY_ENCRYPTION_SECRET) or altered record`);
        }
      }
      this.keys.set(row.kid, {
        kid: row.kid,
        alg: row.alg as SigningAlg,
        privateKey,
        publicKey: createPublicKey({ key: JSON.parse(row.publicJwk), format: 'jwk' }),
        publicJwk: JSON.parse(row.publicJwk),
        status: row.status,
        createdAt: row.createdAt,
      });
    }
    const actives = [...this.keys.values()].filter((k) => k.status === 'ACTIVE');
    this.active = actives[actives.length - 1];
    this.logger.log(`signing with key ${this.active?.kid} (${this.active?.alg}); ${this.keys.size} key(s) known`);
  }

  /** Creates and stores a new ACTIVE key; the private key is encrypted before it is written. */
  async generate(alg: SigningAlg): Promise<string> {
    const { privateKey, publicKey } =
      alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' }) as JWK;
    const kid = await calculateJwkThumbprint(jwk, 'sha256');
    const publicJwk: JWK = { ...jwk, kid, alg, use: 'sig' };
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    const now = this.clock.now();
    await this.repo.insert({
      kid,
      alg,
      publicJwk: JSON.stringify(publicJwk),
      privateKeyEnc: this.encryption.seal(kid, der),
      status: 'ACTIVE',
      createdAt: now,
      activatedAt: now,
      retiredAt: null,
      revokedAt: null,
      revocationReason: null,
    });
    this.logger.log(`generated ${alg} signing key ${kid}`);
    return kid;
  }

  /** The key id new messages are signed with. */
  activeKid(): string {
    if (!this.active) throw new Error('key store not initialised');
    return this.active.kid;
  }

  /** The JWS algorithm of a key. */
  algOf(kid: string): SigningAlg {
    const key = this.keys.get(kid);
    if (!key) throw new Error(`unknown own key ${kid}`);
    return key.alg;
  }

  /** Signs `data` with the key `kid`: raw Ed25519 or IEEE P1363 ECDSA P-256/SHA-256 signature bytes. */
  sign(kid: string, data: Buffer): Buffer {
    const key = this.keys.get(kid);
    if (!key?.privateKey) throw new Error(`key ${kid} cannot sign`);
    return key.alg === 'EdDSA'
      ? cryptoSign(null, data, key.privateKey)
      : cryptoSign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  }

  /** Builds a compact JWS over `claims` with the active key; `typ` goes in the protected header. */
  signJws(typ: string, claims: object): string {
    const kid = this.activeKid();
    const header = Buffer.from(JSON.stringify({ alg: this.algOf(kid), kid, typ })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signingInput = `${header}.${body}`;
    return `${signingInput}.${this.sign(kid, Buffer.from(signingInput, 'ascii')).toString('base64url')}`;
  }

  /** Public key object of one of our keys (for checking our own attestations), if known. */
  publicKey(kid: string): { key: KeyObject; alg: SigningAlg; status: string } | undefined {
    const k = this.keys.get(kid);
    if (!k) return undefined;
    return { key: k.publicKey, alg: k.alg, status: k.status };
  }

  /** Public keys that peers should accept or use to re-check old attestations (not revoked ones). */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.keys.values()].filter((k) => k.status !== 'REVOKED').map((k) => k.publicJwk) };
  }

  /** Every own key with its status, for administrators. */
  list(): PublicKeyInfo[] {
    return [...this.keys.values()].map((k) => ({
      kid: k.kid,
      alg: k.alg,
      status: k.status,
      createdAt: k.createdAt.toISOString(),
      jwk: k.publicJwk,
    }));
  }
}
