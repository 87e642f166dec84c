import { Injectable, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager, MoreThan } from 'typeorm';
import { AuditLog } from '@tongban/audit';
import { Clock, findUnstorableText, timestampDate } from '@tongban/common';
import { DeliveryRejection, Inbox, IncomingMessage } from '@tongban/delivery';
import { checkLicenceId, parseLicenceId, provinceOfCreditCode } from '@tongban/identifiers';
import { LicenceStatus, LicenceStatusChanged, LicenceSubscriptionCancelled } from '@tongban/proto';
import { afterCommit } from '@tongban/persistence';
import { WebhookDeliveryEntity, WebhookDispatcher, WebhookEntity, WebhookList, pendingDelivery, subscribes } from '@tongban/webhooks';
import { LicenceSubscriptions } from './licence-subscriptions.service';
import { NoticeSubscriptionEntity } from './notice-subscription.entity';
import { LICENCE_STATUS_CHANGED_EVENT, NOTIFY_REF, NoticeMessage } from './notices.options';
import { Notice, NoticeStatus, noticeStream } from './notice-stream';

const STATUS_FROM_PROTO: Partial<Record<LicenceStatus, NoticeStatus>> = {
  [LicenceStatus.LICENCE_STATUS_VALID]: 'VALID',
  [LicenceStatus.LICENCE_STATUS_SUSPENDED]: 'SUSPENDED',
  [LicenceStatus.LICENCE_STATUS_REVOKED]: 'REVOKED',
};

/** What applying one notice did here. */
export interface NoticeApplied {
  /** Live local subscriptions to the licence from that issuer. */
  subscriptions: number;
  /** Of those, how many took it (the others already held this version or a newer one). */
  applied: number;
  /** Webhook deliveries queued. */
  webhooks: number;
}

/**
 * Asker side of notices: checks a LicenceStatusChanged from a peer (the sender issued the licence,
 * the stream is the licence's, we subscribed and the subscription is live), keeps the newest version
 * per subscription, and queues a `licence.status.changed` webhook delivery for each webhook of the
 * client that asked, all in the inbox transaction. Also the issuer side of a peer's cancellation.
 */
@Injectable()
export class NoticeReceiver implements OnModuleInit {
  constructor(
    private readonly inbox: Inbox,
    private readonly subscriptions: LicenceSubscriptions,
    private readonly webhooks: WebhookList,
    private readonly dispatcher: WebhookDispatcher,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    this.inbox.on(NoticeMessage.StatusChanged, (tx, m) => this.received(tx, m));
    this.inbox.on(NoticeMessage.Cancelled, (tx, m) => this.cancelled(tx, m));
  }

  private async received(tx: EntityManager, m: IncomingMessage): Promise<void> {
    const refuse = (reason: string, subject = 'unknown'): never => {
      // The inbox transaction rolls back: the refusal is audited on its own.
      this.audit.record({ event: 'licence.notice.received', actor: m.sender, subject, outcome: 'REFUSED', reason: reason.split(':')[0], messageId: m.messageId });
      throw new DeliveryRejection(reason);
    };
    const notice = decodeNotice(m.body, refuse);
    const subject = notice.licenceId;
    if (provinceOfCreditCode(parseLicenceId(notice.licenceId).issuerCode) !== m.sender) refuse(`NOT_ISSUER: ${m.sender} did not issue this licence`, subject);
    if (m.stream !== noticeStream(notice.licenceId)) refuse(`STREAM_MISMATCH: notices of this licence travel on ${noticeStream(notice.licenceId)}`, subject);
    const done = await this.apply(tx, m.sender, notice);
    if (done.subscriptions === 0) refuse('NOT_SUBSCRIBED: no live subscription to this licence here', subject);
    afterCommit(tx, () =>
      this.audit.record({
        event: 'licence.notice.received',
        actor: m.sender,
        subject,
        outcome: 'OK',
        reason: done.applied > 0 ? notice.status : 'STALE_VERSION',
        messageId: m.messageId,
        details: { version: notice.version, subscriptions: done.subscriptions, webhooks: done.webhooks },
      }),
    );
  }

  /**
   * Applies a notice of `issuer` to the live local subscriptions of its licence (also called by the
   * issuer side for its own province's licences): newer versions only, one webhook delivery per
   * webhook of each asking client that takes `licence.status.changed`.
   */
  async apply(tx: EntityManager, issuer: string, n: Notice): Promise<NoticeApplied> {
    const now = this.clock.now();
    const repo = tx.getRepository(NoticeSubscriptionEntity);
    const subs = await repo.find({ where: { issuer, licenceId: n.licenceId, expiresAt: MoreThan(now) }, order: { createdAt: 'ASC' } });
    const fresh = subs.filter((s) => s.lastVersion < n.version);
    if (fresh.length === 0) return { subscriptions: subs.length, applied: 0, webhooks: 0 };
    // Only rows still older than this version move: an older notice never overrides a newer one.
    await repo
      .createQueryBuilder()
      .update()
      .set({ lastVersion: n.version, lastStatus: n.status, lastChangedAt: n.changedAt })
      .where('issuer = :issuer AND licence_id = :licenceId AND last_version < :version', { issuer, licenceId: n.licenceId, version: n.version })
      .execute();
    const hooks = new Map<string, WebhookEntity[]>();
    for (const h of await this.webhooks.current(tx)) if (subscribes(h.events, LICENCE_STATUS_CHANGED_EVENT)) hooks.set(h.createdBy, [...(hooks.get(h.createdBy) ?? []), h]);
    const rows: WebhookDeliveryEntity[] = [];
    for (const s of fresh) {
      const body = JSON.stringify({
        id: randomUUID(),
        type: LICENCE_STATUS_CHANGED_EVENT,
        at: now.toISOString(),
        subscriptionId: s.id,
        issuerProvince: issuer,
        licenceId: n.licenceId,
        licenceType: n.licenceType,
        status: n.status,
        previous: n.previous,
        version: n.version,
        changedAt: n.changedAt.toISOString(),
        reason: n.reason,
      });
      for (const h of hooks.get(s.client) ?? []) rows.push(pendingDelivery(h.id, LICENCE_STATUS_CHANGED_EVENT, body, now));
    }
    // In chunks: a licence many local clients follow must not exceed a statement's parameter limit.
    for (let i = 0; i < rows.length; i += 500) await tx.getRepository(WebhookDeliveryEntity).insert(rows.slice(i, i + 500));
    if (rows.length > 0) afterCommit(tx, () => this.dispatcher.nudge());
    return { subscriptions: subs.length, applied: fresh.length, webhooks: rows.length };
  }

  /** Issuer side: the peer withdrew a subscription it made with notify_ref. */
  private async cancelled(tx: EntityManager, m: IncomingMessage): Promise<void> {
    let c: LicenceSubscriptionCancelled;
    try {
      c = LicenceSubscriptionCancelled.decode(m.body);
    } catch {
      throw new DeliveryRejection('body is not a valid LicenceSubscriptionCancelled');
    }
    if (!NOTIFY_REF.test(c.notifyRef) || !checkLicenceId(c.licenceId).ok) throw new DeliveryRejection('notify_ref must be 1-64 of [A-Za-z0-9_-] and licence_id a GB/T 36904 identifier');
    // Unknown or already gone: nothing to undo, and the same answer every time (idempotent).
    await this.subscriptions.cancel(tx, m.sender, c.notifyRef, c.licenceId);
  }
}

/** Decodes and checks a LicenceStatusChanged body; `refuse` throws with the reason. */
function decodeNotice(body: Buffer, refuse: (reason: string) => never): Notice {
  let n: LicenceStatusChanged;
  try {
    n = LicenceStatusChanged.decode(body);
  } catch {
    return refuse('MALFORMED_NOTICE: body is not a valid LicenceStatusChanged');
  }
  const text = findUnstorableText(n);
  if (text) refuse(`STORABLE_TEXT: ${text.message}`);
  if (!checkLicenceId(n.licenceId).ok) refuse('MALFORMED_NOTICE: licence_id fails GB/T 36904');
  if (parseLicenceId(n.licenceId).typeCode !== n.licenceType) refuse('MALFORMED_NOTICE: licence_type differs from the type code inside licence_id');
  const status = STATUS_FROM_PROTO[n.status];
  const previous = STATUS_FROM_PROTO[n.previous];
  if (!status || !previous) refuse('MALFORMED_NOTICE: status and previous must be VALID, SUSPENDED or REVOKED');
  const version = Number(n.version);
  if (!Number.isSafeInteger(version) || version < 1 || version > 2_147_483_647) refuse('MALFORMED_NOTICE: version must be 1 to 2147483647');
  const changedAt = n.changedAt && timestampDate(n.changedAt);
  if (!changedAt || changedAt.getTime() < 0) refuse('MALFORMED_NOTICE: changed_at is required (seconds 0-253402300799, nanos 0-999999999)');
  if (Array.from(n.reason).length > 200) refuse('MALFORMED_NOTICE: reason longer than 200 characters');
  return {
    licenceId: n.licenceId,
    licenceType: n.licenceType,
    status,
    previous,
    version,
    changedAt,
    reason: n.reason,
  };
}
