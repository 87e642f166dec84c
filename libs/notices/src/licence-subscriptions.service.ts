import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, MoreThan } from 'typeorm';
import { AuditLog } from '@tongban/audit';
import { Clock, DomainException, SELF_CODE } from '@tongban/common';
import { afterCommit, lockForTransaction, runInTransaction } from '@tongban/persistence';
import { TrustStore } from '@tongban/trust';
import { LicenceSubscriptionEntity } from './licence-subscription.entity';
import { NOTICES_OPTIONS, NoticesOptions } from './notices.options';

// First key of the advisory lock that serialises one peer's subscriptions (count against the bound, then insert).
const SUBSCRIPTION_CAP_LOCK_KEY = 7_415_830;

/** What the issuer answers to a query's notify_ref (NoticeSubscription.outcome). */
export type SubscriptionOutcome = 'ACCEPTED' | 'NOTICES_NOT_ALLOWED' | 'SUBSCRIPTION_LIMIT' | 'LICENCE_NOT_FOUND' | 'NOTIFY_REF_IN_USE';

/** Admin view of one subscription a peer holds here. */
export interface LicenceSubscriptionView {
  id: string;
  peer: string;
  notifyRef: string;
  licenceId: string;
  licenceType: string;
  createdAt: string;
  expiresAt: string;
}

/**
 * Issuer side: which peers asked to hear about which licence. A subscription is made or renewed by
 * a verification query carrying `notify_ref`, lasts `ttlMs` from then, is bounded per peer, and is
 * allowed by the peer's policy (`allowNotices`). Expired rows are never notified and are deleted by
 * the retention job.
 */
@Injectable()
export class LicenceSubscriptions {
  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly trust: TrustStore,
    private readonly audit: AuditLog,
    @Inject(NOTICES_OPTIONS) private readonly options: NoticesOptions,
    @Inject(SELF_CODE) private readonly self: string,
  ) {}

  /** Records (or renews) `peer`'s subscription `ref` to a licence found here. */
  async subscribe(peer: string, ref: string, licence: { licenceId: string; typeCode: string }): Promise<{ outcome: SubscriptionOutcome; expiresAt?: Date }> {
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.options.ttlMs);
    // Our own clients' subscriptions live on the asker side only (notice_subscriptions).
    if (peer === this.self) return { outcome: 'ACCEPTED', expiresAt };
    if (!this.trust.peer(peer)?.allowNotices) return this.refused(peer, licence.licenceId, 'NOTICES_NOT_ALLOWED');
    const outcome = await runInTransaction(this.ds, async (tx): Promise<SubscriptionOutcome> => {
      await lockForTransaction(tx, SUBSCRIPTION_CAP_LOCK_KEY, peer);
      const repo = tx.getRepository(LicenceSubscriptionEntity);
      const held = await repo.findOneBy({ peer, notifyRef: ref });
      if (held && held.licenceId !== licence.licenceId) return 'NOTIFY_REF_IN_USE';
      // A live subscription is renewed; a new one (or an expired one coming back) counts against the bound.
      if (!held || held.expiresAt <= now) {
        const live = await repo.countBy({ peer, expiresAt: MoreThan(now) });
        if (live >= this.options.maxPerPeer) return 'SUBSCRIPTION_LIMIT';
      }
      if (held) await repo.update({ id: held.id }, { expiresAt });
      else await repo.insert({ id: randomUUID(), peer, notifyRef: ref, licenceId: licence.licenceId, licenceType: licence.typeCode, createdAt: now, expiresAt });
      return 'ACCEPTED';
    });
    if (outcome !== 'ACCEPTED') return this.refused(peer, licence.licenceId, outcome);
    this.audit.record({ event: 'licence.subscription.created', actor: peer, subject: licence.licenceId, outcome: 'OK', details: { ref, expiresAt: expiresAt.toISOString() } });
    return { outcome, expiresAt };
  }

  private refused(peer: string, licenceId: string, outcome: SubscriptionOutcome): { outcome: SubscriptionOutcome } {
    this.audit.record({ event: 'licence.subscription.created', actor: peer, subject: licenceId, outcome: 'REFUSED', reason: outcome });
    return { outcome };
  }

  /** The peers holding a live subscription to `licenceId`, read with the change's transaction. */
  async subscribers(tx: EntityManager, licenceId: string): Promise<string[]> {
    const rows = await tx
      .getRepository(LicenceSubscriptionEntity)
      .createQueryBuilder('s')
      .select('DISTINCT s.peer', 'peer')
      .where('s.licence_id = :licenceId AND s.expires_at > :now', { licenceId, now: this.clock.now().getTime() })
      .orderBy('peer')
      .getRawMany<{ peer: string }>();
    return rows.map((r) => r.peer);
  }

  /** A peer withdrew subscription `ref` (LicenceSubscriptionCancelled); false when it held none such. */
  async cancel(tx: EntityManager, peer: string, ref: string, licenceId: string): Promise<boolean> {
    const res = await tx.getRepository(LicenceSubscriptionEntity).delete({ peer, notifyRef: ref, licenceId });
    const found = !!res.affected;
    afterCommit(tx, () =>
      this.audit.record({
        event: 'licence.subscription.cancelled',
        actor: peer,
        subject: licenceId,
        outcome: found ? 'OK' : 'REFUSED',
        ...(found ? {} : { reason: 'NOT_SUBSCRIBED' }),
        details: { ref },
      }),
    );
    return found;
  }

  /** Admin read: subscriptions held here, newest first, optionally of one peer or one licence. */
  async list(filter: { peer?: string; licenceId?: string; limit?: number }): Promise<{ subscriptions: LicenceSubscriptionView[] }> {
    if (filter.peer !== undefined && !/^\d{6}$/.test(filter.peer)) throw new DomainException('VALIDATION_FAILED', 'peer: must be a 6-digit participant code', { field: 'peer', rule: 'FORMAT' });
    const rows = await this.ds.getRepository(LicenceSubscriptionEntity).find({
      where: { ...(filter.peer ? { peer: filter.peer } : {}), ...(filter.licenceId ? { licenceId: filter.licenceId } : {}), expiresAt: MoreThan(this.clock.now()) },
      order: { createdAt: 'DESC' },
      take: Math.min(Math.max(filter.limit ?? 100, 1), 1000),
    });
    return {
      subscriptions: rows.map((r) => ({
        id: r.id,
        peer: r.peer,
        notifyRef: r.notifyRef,
        licenceId: r.licenceId,
        licenceType: r.licenceType,
        createdAt: r.createdAt.toISOString(),
        expiresAt: r.expiresAt.toISOString(),
      })),
    };
  }
}
