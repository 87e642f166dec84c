import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { JWK } from 'jose';
import { DataSource, EntityManager } from 'typeorm';
import { z } from 'zod';
import { AuditLog } from '@tongban/audit';
import { JWS_ALGORITHMS, publicJwkThumbprint } from '@tongban/gm';
import { Clock, DomainException, errorMessage, findUnstorableText, parseOrThrow } from '@tongban/common';
import { DeliveryRejection, Dispatcher, Inbox, Outbox, peerTime } from '@tongban/delivery';
import { FEDERATION_OPTIONS, FederationOptions, MAX_MESSAGE_LIFETIME_SECONDS } from '@tongban/federation';
import { KeyStore, KEYS_OPTIONS, KeysOptions, PublicKeyInfo } from '@tongban/keys';
import { KeyAnnouncement } from '@tongban/proto';
import { PeerKeyStatus, TrustStore } from '@tongban/trust';
import { afterCommit, lockForTransaction, runInTransaction } from '@tongban/persistence';

/** Payload type of key announcements; their delivery stream. */
export const KEY_ANNOUNCEMENT = 'tongban.federation.v1.KeyAnnouncement';
export const KEY_STREAM = 'keys';

/** Longest single wait of the promotion timer (Node's limit is ~24.8 days), and the retry after a failed promotion. */
const MAX_TIMER_MS = 24 * 3600_000;
const PROMOTION_RETRY_MS = 5000;
/** Advisory lock (PostgreSQL) that serialises the promotion of replicas sharing a database. */
const PROMOTION_LOCK_KEY = 7_415_827;

/** Options of key rotation. */
export interface KeyAdminOptions {
  /** Time between announcing a new key and signing with it (peers learn it first). */
  overlapMs: number;
}
export const KEY_ADMIN_OPTIONS = Symbol('KEY_ADMIN_OPTIONS');

const rotateSchema = z
  .object({ immediate: z.boolean().default(false), overlapHours: z.number().min(0).max(720).optional(), alg: z.enum(JWS_ALGORITHMS).optional() })
  .strict()
  .default({ immediate: false });
const revokeSchema = z.object({ reason: z.string().trim().min(1).max(200) }).strict();

/**
 * Own-key lifecycle across the federation: rotation (new key announced, signing switches after an
 * overlap), revocation (compromise), and the announcements that carry both to every peer through
 * the reliable delivery path; plus applying peers' announcements to our trust store.
 */
@Injectable()
export class KeyAdmin implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('KeyAdmin');
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private promoting = false;

  constructor(
    private readonly ds: DataSource,
    private readonly keys: KeyStore,
    private readonly trust: TrustStore,
    private readonly outbox: Outbox,
    private readonly dispatcher: Dispatcher,
    private readonly inbox: Inbox,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    @Inject(KEYS_OPTIONS) private readonly keyOptions: KeysOptions,
    @Inject(KEY_ADMIN_OPTIONS) private readonly options: KeyAdminOptions,
    @Inject(FEDERATION_OPTIONS) private readonly federation: FederationOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.inbox.on(KEY_ANNOUNCEMENT, (tx, m) => this.receive(tx, m.sender, m.body));
    this.stopped = false;
    // Keys change here (rotation, promotion) or elsewhere (the CLI, another replica; seen by the
    // periodic reload): after each reload the timer is armed for the next NEXT key, if any.
    this.keys.onRefresh(() => this.schedulePromotion());
    this.schedulePromotion();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One timer, for when the earliest NEXT key falls due (none while no rotation is pending). */
  private schedulePromotion(): void {
    if (this.stopped || this.promoting) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const at = this.keys.nextActivation();
    if (!at) return;
    // Capped: a timer cannot wait longer than ~24.8 days, and an overlap may be 30 days.
    this.timer = setTimeout(() => void this.runPromotion(), Math.min(Math.max(0, at.getTime() - this.clock.now().getTime()), MAX_TIMER_MS));
    this.timer.unref();
  }

  private async runPromotion(): Promise<void> {
    this.timer = undefined;
    this.promoting = true;
    try {
      await this.promoteDue();
    } catch (e) {
      this.logger.warn(`key promotion failed: ${errorMessage(e)}`);
      // Try again later (the database may be back).
      if (!this.stopped) this.timer = setTimeout(() => void this.runPromotion(), PROMOTION_RETRY_MS).unref();
      return;
    } finally {
      this.promoting = false;
    }
    this.schedulePromotion();
  }

  /**
   * Starts a rotation: a NEXT key now (announced), signing switches after the overlap, or at once.
   * The new key has the request's `alg`, else the configured signing algorithm (TONGBAN_SIGNING_ALG):
   * a rotation may change algorithm (e.g. EdDSA → SM2SM3), the overlap covering peers as for any key.
   */
  async rotate(body: unknown, actor: string, correlationId?: string): Promise<PublicKeyInfo[]> {
    const req = parseOrThrow(rotateSchema, body ?? {});
    const overlap = req.immediate ? 0 : req.overlapHours !== undefined ? req.overlapHours * 3600_000 : this.options.overlapMs;
    const old = this.keys.activeKid();
    const alg = req.alg ?? this.keyOptions.signingAlg;
    await runInTransaction(this.ds, async (tx) => {
      const now = this.clock.now();
      const created = await this.keys.createKey(tx, alg, overlap === 0 ? 'ACTIVE' : 'NEXT', new Date(now.getTime() + overlap));
      // Announce the new key with the key peers trust now, before anything is signed with it.
      await this.announce(tx, created.kid, created.jwk, 'ACTIVE', now, '', old, correlationId);
      if (overlap === 0) {
        await this.keys.setStatus(tx, old, 'RETIRED');
        // Signed with the new key: peers learn it from the announcement just before on the stream.
        await this.announce(tx, old, this.keys.publicJwk(old)!, 'RETIRED', now, 'rotated', created.kid, correlationId);
      }
    });
    await this.keys.refresh();
    this.dispatcher.nudge();
    await this.audit.recordNow({ event: 'admin.key.rotated', actor, subject: old, outcome: 'OK', details: { immediate: overlap === 0, overlapMs: overlap, alg } });
    return this.keys.list();
  }

  /** Revokes a key (compromise): refused everywhere once the announcement arrives. */
  async revoke(kid: string, body: unknown, actor: string, correlationId?: string): Promise<PublicKeyInfo[]> {
    const { reason } = parseOrThrow(revokeSchema, body);
    const key = this.keys.list().find((k) => k.kid === kid);
    if (!key) throw new DomainException('NOT_FOUND', `no own key ${kid.slice(0, 64)}`);
    if (key.status === 'REVOKED') throw new DomainException('CONFLICT', `key ${kid} is already revoked`);
    await runInTransaction(this.ds, async (tx) => {
      const now = this.clock.now();
      let signer = this.keys.activeKid();
      if (key.status === 'ACTIVE' && kid === signer) {
        // A replacement first, announced with the key peers still trust (the compromised one);
        // peers that must not rely on that should confirm the new thumbprint out of band.
        const replacement = await this.keys.createKey(tx, this.keyOptions.signingAlg, 'ACTIVE', now);
        await this.announce(tx, replacement.kid, replacement.jwk, 'ACTIVE', now, 'replaces a revoked key', kid, correlationId);
        signer = replacement.kid;
      }
      await this.keys.setStatus(tx, kid, 'REVOKED', reason);
      // Never signed by the revoked key: a peer that already refuses it (directory, administrator)
      // must still accept the announcement, and a thief of the key cannot forge what follows it.
      await this.announce(tx, kid, key.jwk, 'REVOKED', now, reason, signer, correlationId);
    });
    await this.keys.refresh();
    this.dispatcher.nudge();
    await this.audit.recordNow({ event: 'admin.key.revoked', actor, subject: kid, outcome: 'OK', reason: reason.slice(0, 64) });
    return this.keys.list();
  }

  /**
   * Switches signing to the newest NEXT key whose time has come and retires every other (the keys
   * it replaces and rotations it supersedes): exactly one key is ACTIVE afterwards. Each retirement
   * is announced signed by the new key, which peers learnt earlier on the same stream.
   */
  async promoteDue(): Promise<void> {
    await this.keys.refresh();
    const plan = this.keys.promotionPlan(this.clock.now());
    if (!plan) return;
    let promoted = false;
    await runInTransaction(this.ds, async (tx) => {
      // Replicas arm the same timer for the same moment: one promotes (and announces), the others
      // find the key no longer NEXT once they hold the lock, and only reload.
      await lockForTransaction(tx, PROMOTION_LOCK_KEY, 'promotion');
      if (!(await this.keys.isNext(tx, plan.activate))) return;
      promoted = true;
      const now = this.clock.now();
      await this.keys.setStatus(tx, plan.activate, 'ACTIVE');
      for (const kid of plan.retire) {
        await this.keys.setStatus(tx, kid, 'RETIRED');
        await this.announce(tx, kid, this.keys.publicJwk(kid)!, 'RETIRED', now, 'rotated', plan.activate);
      }
    });
    await this.keys.refresh();
    if (!promoted) return;
    this.dispatcher.nudge();
    this.logger.log(`signing switched to ${this.keys.activeKid()}`);
  }

  private async announce(tx: EntityManager, kid: string, jwk: JWK, status: PeerKeyStatus, at: Date, reason: string, signKid: string, correlationId?: string): Promise<void> {
    const body = KeyAnnouncement.encode({ kid, jwkJson: JSON.stringify(jwk), status, effectiveAt: { seconds: String(Math.floor(at.getTime() / 1000)), nanos: 0 }, reason }).finish();
    for (const peer of this.trust.list()) await this.outbox.enqueue(tx, { peer: peer.code, stream: KEY_STREAM, type: KEY_ANNOUNCEMENT, body, signKid, correlationId });
  }

  /** A peer announced a key change (its envelope was signed by a key we trust for it). */
  private async receive(tx: EntityManager, sender: string, bytes: Buffer): Promise<void> {
    let a: KeyAnnouncement;
    let jwk: JWK;
    try {
      a = KeyAnnouncement.decode(bytes);
      jwk = JSON.parse(a.jwkJson) as JWK;
    } catch {
      throw new DeliveryRejection('not a valid KeyAnnouncement');
    }
    const text = findUnstorableText({ a, jwk });
    if (text) throw new DeliveryRejection(`STORABLE_TEXT: ${text.message}`);
    if (!['ACTIVE', 'RETIRED', 'REVOKED'].includes(a.status)) throw new DeliveryRejection(`bad key status ${a.status}`);
    const { kty, crv, x, y } = jwk as unknown as Record<string, string>;
    const thumbprint = typeof x === 'string' ? publicJwkThumbprint({ kty, crv, x, ...(y ? { y } : {}) }) : '';
    if (thumbprint !== a.kid) throw new DeliveryRejection('kid is not the thumbprint of the announced key');
    const at = peerTime(a.effectiveAt, 'effective_at') ?? this.clock.now();
    let result: { kid: string; changed: boolean };
    try {
      result = await this.trust.applyAnnouncement(tx, sender, jwk, a.status as PeerKeyStatus, at, (MAX_MESSAGE_LIFETIME_SECONDS + this.federation.clockSkewSeconds) * 1000);
    } catch (e) {
      throw new DeliveryRejection(e instanceof Error ? e.message : 'key not acceptable');
    }
    if (result.kid !== a.kid) throw new DeliveryRejection('kid is not the thumbprint of the announced key');
    if (result.changed) {
      // Refresh the snapshot once the inbox transaction has committed.
      afterCommit(tx, () => this.trust.refresh().catch(() => undefined)); // a failed reload is logged and retried by the store
      this.audit.record({ event: 'trust.peer.key.announced', actor: sender, subject: `${sender}/${a.kid}`, outcome: 'OK', reason: a.status });
    }
  }
}
