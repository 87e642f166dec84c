import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { KeyObject } from 'node:crypto';
import { publicJwkThumbprint } from '@tongban/gm';
import { JWK } from 'jose';
import { DataSource, EntityManager, Repository } from 'typeorm';
import { Clock, RetriedReload } from '@tongban/common';
import { JwsSign, generateSigningKey, loadSigner, ownPublicKey } from './jws-signer';
import { KeyEncryption, UnknownKekError } from './key-encryption';
import { PromotionPlan, promotionPlan } from './key-promotion';
import { SigningKeyEntity, SigningKeyStatus } from './signing-key.entity';
import { KEYS_OPTIONS, KeysOptions, SigningAlg } from './keys.options';
import { runInTransaction } from '@tongban/persistence';

interface LoadedKey {
  kid: string;
  alg: SigningAlg;
  signer: JwsSign | null;
  publicKey: KeyObject;
  publicJwk: JWK;
  status: SigningKeyStatus;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
  revokedAt: Date | null;
  revocationReason: string | null;
}

/** A public view of one of our keys, safe to show anywhere. */
export interface PublicKeyInfo {
  kid: string;
  alg: string;
  status: string;
  createdAt: string;
  activatedAt: string | null;
  retiredAt: string | null;
  revokedAt: string | null;
  revocationReason: string | null;
  jwk: JWK;
}

/**
 * The only holder of this gateway's private keys. Callers sign by key id; key material never
 * leaves this class (no getter returns a private key, and it is never logged).
 */
@Injectable()
export class KeyStore implements OnModuleDestroy {
  private readonly logger = new Logger('KeyStore');
  private readonly reloads = new RetriedReload('signing key store', () => this.load(), this.logger);
  private keys = new Map<string, LoadedKey>();
  private active: LoadedKey | undefined;
  private readonly refreshed: (() => void)[] = [];
  private readonly repo: Repository<SigningKeyEntity>;
  private readonly encryption: KeyEncryption;

  constructor(
    ds: DataSource,
    private readonly clock: Clock,
    @Inject(KEYS_OPTIONS) private readonly options: KeysOptions,
  ) {
    this.repo = ds.getRepository(SigningKeyEntity);
    this.encryption = new KeyEncryption(options.keyEncryptionSecret, options.sealAlg, options.keyEncryptionSecretPrevious);
  }

  /** Loads every key, generating the first one when none exists. Fails if a key cannot be decrypted. */
  async init(): Promise<void> {
    // Replicas starting together on an empty PostgreSQL database must create one first key, not two.
    await runInTransaction(this.repo.manager, async (tx) => {
      if (tx.connection.options.type === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(7415822002)');
      if (!(await tx.getRepository(SigningKeyEntity).exists({ where: { status: 'ACTIVE' } }))) await this.insertKey(tx, this.options.signingAlg, 'ACTIVE', this.clock.now());
    });
    await this.refresh();
    this.logger.log(`signing with key ${this.active?.kid} (${this.active?.alg}); ${this.keys.size} key(s) known`);
  }

  /**
   * Re-reads keys from the database (after a rotation here, by the CLI or by another replica). A
   * failed read is tried again by itself until one succeeds (RetriedReload); the caller is told.
   */
  async refresh(): Promise<void> {
    return this.reloads.run();
  }

  /** Stops a pending retry (shutdown). */
  onModuleDestroy(): void {
    this.reloads.stop();
  }

  private async load(): Promise<void> {
    const rows = await this.repo.find({ order: { createdAt: 'ASC' } });
    const next = new Map<string, LoadedKey>();
    for (const row of rows) {
      const known = this.keys.get(row.kid);
      let signer = known?.signer ?? null;
      if (!signer) {
        try {
          signer = loadSigner(row.alg as SigningAlg, await this.encryption.open(row.kid, row.privateKeyEnc, row.kekId));
        } catch (e) {
          if (e instanceof UnknownKekError) throw new Error(`signing key ${row.kid} cannot be decrypted: ${e.message}`);
          throw new Error(`signing key ${row.kid} cannot be decrypted: wrong key-encryption secret (TONGBAN_KEY_ENCRYPTION_SECRET) or altered record`);
        }
      }
      const publicJwk = JSON.parse(row.publicJwk) as JWK;
      next.set(row.kid, {
        kid: row.kid,
        alg: row.alg as SigningAlg,
        signer,
        publicKey: known?.publicKey ?? ownPublicKey(row.alg as SigningAlg, publicJwk),
        publicJwk,
        status: row.status,
        createdAt: row.createdAt,
        activatedAt: row.activatedAt,
        retiredAt: row.retiredAt,
        revokedAt: row.revokedAt,
        revocationReason: row.revocationReason,
      });
    }
    this.keys = next;
    const actives = [...next.values()].filter((k) => k.status === 'ACTIVE').sort((a, b) => (a.activatedAt?.getTime() ?? 0) - (b.activatedAt?.getTime() ?? 0));
    this.active = actives[actives.length - 1];
    for (const l of this.refreshed) l();
  }

  /** Calls `listener` after every refresh (e.g. to arm a timer for the next NEXT key's activation). */
  onRefresh(listener: () => void): void {
    this.refreshed.push(listener);
  }

  /** Whether `kid` is still NEXT in the database, read inside `tx` (a replica may have promoted it). */
  async isNext(tx: EntityManager, kid: string): Promise<boolean> {
    return (await tx.getRepository(SigningKeyEntity).findOne({ where: { kid }, select: { kid: true, status: true } }))?.status === 'NEXT';
  }

  /** When the earliest NEXT key is due to start signing (null when there is none). */
  nextActivation(): Date | null {
    let at: Date | null = null;
    for (const k of this.keys.values()) if (k.status === 'NEXT' && k.activatedAt && (!at || k.activatedAt < at)) at = k.activatedAt;
    return at;
  }

  /** Creates a key inside `tx` (encrypted before it is written); NEXT keys activate at `activateAt`. */
  async insertKey(tx: EntityManager, alg: SigningAlg, status: 'ACTIVE' | 'NEXT', activateAt: Date): Promise<string> {
    return (await this.createKey(tx, alg, status, activateAt)).kid;
  }

  /** `insertKey`, also returning the new public JWK (for announcing it in the same transaction). */
  async createKey(tx: EntityManager, alg: SigningAlg, status: 'ACTIVE' | 'NEXT', activateAt: Date): Promise<{ kid: string; jwk: JWK }> {
    const { pkcs8: der, jwk } = generateSigningKey(alg);
    const kid = publicJwkThumbprint(jwk);
    const publicJwk: JWK = { ...jwk, kid, alg, use: 'sig' };
    const privateKeyEnc = await this.encryption.seal(kid, der);
    await tx.getRepository(SigningKeyEntity).insert({
      kid,
      alg,
      publicJwk: JSON.stringify(publicJwk),
      privateKeyEnc,
      kekId: await this.encryption.kekId(),
      status,
      createdAt: this.clock.now(),
      activatedAt: activateAt,
      retiredAt: null,
      revokedAt: null,
      revocationReason: null,
    });
    this.logger.log(`generated ${alg} signing key ${kid} (${status})`);
    return { kid, jwk: publicJwk };
  }

  /** Changes a key's status inside `tx` (RETIRED/REVOKED record when and why). */
  async setStatus(tx: EntityManager, kid: string, status: SigningKeyStatus, reason?: string): Promise<void> {
    const now = this.clock.now();
    const patch: Partial<SigningKeyEntity> = { status };
    if (status === 'ACTIVE') patch.activatedAt = now;
    if (status === 'RETIRED') patch.retiredAt = now;
    if (status === 'REVOKED') Object.assign(patch, { revokedAt: now, revocationReason: (reason ?? '').slice(0, 200) });
    await tx.getRepository(SigningKeyEntity).update({ kid }, patch);
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

  /** Signs `data` with the key `kid`: the JWS signature bytes of its algorithm (see loadSigner). */
  sign(kid: string, data: Buffer): Buffer {
    const key = this.keys.get(kid);
    if (!key?.signer) throw new Error(`key ${kid} cannot sign`);
    return key.signer(data);
  }

  /**
   * Builds a compact JWS over `claims`; `typ` goes in the protected header. Signs with the active
   * key unless `kid` names another (used only to announce a key change with a key peers trust).
   */
  signJws(typ: string, claims: object, kid: string = this.activeKid()): string {
    const header = Buffer.from(JSON.stringify({ alg: this.algOf(kid), kid, typ })).toString('base64url');
    const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const signingInput = `${header}.${body}`;
    return `${signingInput}.${this.sign(kid, Buffer.from(signingInput, 'ascii')).toString('base64url')}`;
  }

  /** Public key object of one of our keys (for checking our own attestations), if known. */
  publicKey(kid: string): { key: KeyObject; alg: SigningAlg; status: string } | undefined {
    const k = this.keys.get(kid);
    return k ? { key: k.publicKey, alg: k.alg, status: k.status } : undefined;
  }

  /** The public JWK of one of our keys. */
  publicJwk(kid: string): JWK | undefined {
    return this.keys.get(kid)?.publicJwk;
  }

  /** Public keys peers should accept or use to re-check old attestations (never revoked ones). */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.keys.values()].filter((k) => k.status !== 'REVOKED').map((k) => k.publicJwk) };
  }

  /** Every own key with its status, for administrators. */
  list(): PublicKeyInfo[] {
    const iso = (d: Date | null) => d?.toISOString() ?? null;
    return [...this.keys.values()].map((k) => ({
      kid: k.kid,
      alg: k.alg,
      status: k.status,
      createdAt: k.createdAt.toISOString(),
      activatedAt: iso(k.activatedAt),
      retiredAt: iso(k.retiredAt),
      revokedAt: iso(k.revokedAt),
      revocationReason: k.revocationReason,
      jwk: k.publicJwk,
    }));
  }

  /** The key that signs once due NEXT keys are promoted, and the keys that retires (null: nothing due); see promotionPlan. */
  promotionPlan(now: Date): PromotionPlan | null {
    return promotionPlan([...this.keys.values()], now);
  }
}
