import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager, MoreThan } from 'typeorm';
import { AuditLog } from '@tongban/audit';
import { Clock, DomainException, SELF_CODE, parseOrThrow } from '@tongban/common';
import { Dispatcher, Outbox } from '@tongban/delivery';
import { LicenceSubscriptionCancelled } from '@tongban/proto';
import { afterCommit, isUniqueViolation, runInTransaction } from '@tongban/persistence';
import { NoticeSubscriptionEntity, SubscriptionOrigin } from './notice-subscription.entity';
import { StandingSubscriptionEntity } from './standing-subscription.entity';
import { standingSubscriptionSchema } from './notice-requests.schema';
import { NoticeMessage } from './notices.options';
import { noticeStream } from './notice-stream';

/** What a local caller learns about the subscription its verification asked for. */
export interface NotifyResult {
  /** The local subscription (its id is the notify_ref sent); null when not made. */
  subscriptionId: string | null;
  /** ACCEPTED, or the issuer's reason (NOTICES_NOT_ALLOWED, SUBSCRIPTION_LIMIT, LICENCE_NOT_FOUND, NOTIFY_REF_IN_USE), or NOT_SUPPORTED (issuer without notices). */
  outcome: string;
  expiresAt: string | null;
}

/** A local subscription as its client sees it. */
export interface NoticeSubscriptionView {
  id: string;
  issuerProvince: string;
  licenceId: string;
  licenceType: string;
  origin: SubscriptionOrigin;
  createdAt: string;
  expiresAt: string;
  lastVersion: number;
  lastStatus: string | null;
  lastChangedAt: string | null;
}

/** A standing subscription as its client sees it. */
export interface StandingSubscriptionView {
  id: string;
  licenceType: string;
  createdAt: string;
}

/**
 * Asker side: the subscriptions this gateway made for its local clients. A verification subscribes
 * when it says `notify: true`, or when its client holds a standing subscription for the licence type
 * (and did not say `notify: false`). One subscription per client and licence, renewed by each
 * verification; unsubscribing tells the issuer (LicenceSubscriptionCancelled through the outbox).
 */
/** How long the standing subscriptions read for one verification serve the next ones (changes made here apply at once). */
const STANDING_REFRESH_MS = 2000;

@Injectable()
export class NoticeSubscriptions {
  /** Standing subscriptions by client: kept briefly, so a verification costs no statement for them (the hot path). */
  private standing: { byClient: Map<string, Set<string>>; at: number } | undefined;
  private generation = 0;
  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly outbox: Outbox,
    private readonly dispatcher: Dispatcher,
    private readonly audit: AuditLog,
    @Inject(SELF_CODE) private readonly self: string,
  ) {}

  /** The notify_ref to send with a verification by `client`, or null when it asks for no notices. */
  async refFor(client: string, licenceType: string, licenceId: string | undefined, notify: boolean | undefined): Promise<{ ref: string; origin: SubscriptionOrigin } | null> {
    if (notify === false) return null;
    const owner = client.slice(0, 100);
    if (notify !== true && !(await this.standingTypes(owner)).has(licenceType)) return null;
    const origin: SubscriptionOrigin = notify === true ? 'VERIFICATION' : 'STANDING';
    const held = licenceId ? await this.ds.getRepository(NoticeSubscriptionEntity).findOneBy({ client: owner, licenceId }) : null;
    return { ref: held?.id ?? randomUUID(), origin };
  }

  /** Records the issuer's answer to the subscription a verification asked for. `correlationId`: the verification request's, stored with a cancellation this sends. */
  async recorded(
    client: string,
    issuer: string,
    asked: { ref: string; origin: SubscriptionOrigin },
    licence: { licenceId: string | null; licenceType: string },
    answer: { outcome: string; expiresAt: Date | null } | undefined,
    correlationId: string | undefined,
  ): Promise<NotifyResult> {
    if (!answer) return { subscriptionId: null, outcome: 'NOT_SUPPORTED', expiresAt: null };
    if (answer.outcome !== 'ACCEPTED' || !answer.expiresAt || !licence.licenceId) return { subscriptionId: null, outcome: answer.outcome || 'NOT_SUPPORTED', expiresAt: null };
    const owner = client.slice(0, 100);
    const { licenceId } = licence;
    const expiresAt = answer.expiresAt;
    const now = this.clock.now();
    const attempt = () =>
      runInTransaction(this.ds, async (tx) => {
        const repo = tx.getRepository(NoticeSubscriptionEntity);
        const held = await repo.findOneBy({ client: owner, licenceId });
        if (!held) {
          await repo.insert({
            id: asked.ref,
            client: owner,
            issuer,
            licenceId,
            licenceType: licence.licenceType,
            origin: asked.origin,
            createdAt: now,
            expiresAt,
            lastVersion: 0,
            lastStatus: null,
            lastChangedAt: null,
          });
          return { id: asked.ref, created: true };
        }
        await repo.update({ id: held.id }, { expiresAt: held.expiresAt > expiresAt ? held.expiresAt : expiresAt, ...(asked.origin === 'VERIFICATION' ? { origin: 'VERIFICATION' as const } : {}) });
        // Asked by licence number, the licence turned out to be one this client follows already:
        // the issuer now holds a second reference, withdrawn at once so it is told once per change.
        if (held.id !== asked.ref) await this.cancelAtIssuer(tx, issuer, asked.ref, licenceId, correlationId);
        return { id: held.id, created: false };
      });
    // A concurrent verification of the same licence by the same client inserted first: take its row.
    const kept = await attempt().catch((e: unknown) => {
      if (isUniqueViolation(e)) return attempt();
      throw e;
    });
    if (kept.created) this.audit.record({ event: 'licence.subscription.created', actor: owner, subject: licenceId, outcome: 'OK', details: { issuer, ref: kept.id, origin: asked.origin } });
    return { subscriptionId: kept.id, outcome: 'ACCEPTED', expiresAt: expiresAt.toISOString() };
  }

  /** The live subscriptions of `client`, newest first. */
  async list(client: string): Promise<{ subscriptions: NoticeSubscriptionView[] }> {
    const rows = await this.ds
      .getRepository(NoticeSubscriptionEntity)
      .find({ where: { client: client.slice(0, 100), expiresAt: MoreThan(this.clock.now()) }, order: { createdAt: 'DESC' }, take: 1000 });
    return {
      subscriptions: rows.map((r) => ({
        id: r.id,
        issuerProvince: r.issuer,
        licenceId: r.licenceId,
        licenceType: r.licenceType,
        origin: r.origin,
        createdAt: r.createdAt.toISOString(),
        expiresAt: r.expiresAt.toISOString(),
        lastVersion: r.lastVersion,
        lastStatus: r.lastStatus,
        lastChangedAt: r.lastChangedAt?.toISOString() ?? null,
      })),
    };
  }

  /** Ends one of `client`'s subscriptions here and at the issuer; 404 for another client's or an unknown one. `correlationId`: the request's, stored with the cancellation sent. */
  async unsubscribe(id: string, client: string, correlationId?: string): Promise<void> {
    const owner = client.slice(0, 100);
    const gone = await runInTransaction(this.ds, async (tx) => {
      const row = await tx.getRepository(NoticeSubscriptionEntity).findOneBy({ id, client: owner });
      if (!row) return null;
      await tx.getRepository(NoticeSubscriptionEntity).delete({ id });
      await this.cancelAtIssuer(tx, row.issuer, row.id, row.licenceId, correlationId);
      return row;
    });
    if (!gone) throw new DomainException('NOT_FOUND', `no licence subscription ${id.slice(0, 64)}`);
    await this.audit.recordNow({ event: 'licence.subscription.cancelled', actor: owner, subject: gone.licenceId, outcome: 'OK', details: { issuer: gone.issuer, ref: gone.id } });
  }

  /** Standing subscription: every verification of `licenceType` by `client` asks for notices. 409 when it exists. */
  async createStanding(body: unknown, client: string): Promise<StandingSubscriptionView> {
    const { licenceType } = parseOrThrow(standingSubscriptionSchema, body);
    const owner = client.slice(0, 100);
    const row = { id: randomUUID(), client: owner, licenceType, createdAt: this.clock.now() };
    await this.ds
      .getRepository(StandingSubscriptionEntity)
      .insert(row)
      .catch((e) => {
        throw isUniqueViolation(e) ? new DomainException('CONFLICT', `${owner} already has a standing subscription for ${licenceType}`, { rule: 'STANDING_EXISTS' }) : e;
      });
    this.standingChanged();
    await this.audit.recordNow({ event: 'licence.subscription.created', actor: owner, subject: licenceType, outcome: 'OK', details: { standing: row.id } });
    return { id: row.id, licenceType, createdAt: row.createdAt.toISOString() };
  }

  /** The standing subscriptions of `client`, oldest first. */
  async listStanding(client: string): Promise<{ standing: StandingSubscriptionView[] }> {
    const rows = await this.ds.getRepository(StandingSubscriptionEntity).find({ where: { client: client.slice(0, 100) }, order: { createdAt: 'ASC' } });
    return { standing: rows.map((r) => ({ id: r.id, licenceType: r.licenceType, createdAt: r.createdAt.toISOString() })) };
  }

  /** Ends a standing subscription (subscriptions it made stay until they expire or are deleted). */
  async removeStanding(id: string, client: string): Promise<void> {
    const owner = client.slice(0, 100);
    const row = await this.ds.getRepository(StandingSubscriptionEntity).findOneBy({ id, client: owner });
    if (!row) throw new DomainException('NOT_FOUND', `no standing subscription ${id.slice(0, 64)}`);
    await this.ds.getRepository(StandingSubscriptionEntity).delete({ id });
    this.standingChanged();
    await this.audit.recordNow({ event: 'licence.subscription.cancelled', actor: owner, subject: row.licenceType, outcome: 'OK', details: { standing: id } });
  }

  private standingChanged(): void {
    this.generation++;
    this.standing = undefined;
  }

  /** The licence types `client` holds a standing subscription for (another replica's change applies within STANDING_REFRESH_MS). */
  private async standingTypes(client: string): Promise<Set<string>> {
    if (!this.standing || Date.now() - this.standing.at >= STANDING_REFRESH_MS) {
      const generation = this.generation;
      const at = Date.now();
      const byClient = new Map<string, Set<string>>();
      for (const r of await this.ds.getRepository(StandingSubscriptionEntity).find()) byClient.set(r.client, (byClient.get(r.client) ?? new Set()).add(r.licenceType));
      // A change made while reading may be missing from what was read: use it once, keep nothing.
      if (generation !== this.generation) return byClient.get(client) ?? new Set();
      this.standing = { byClient, at };
    }
    return this.standing.byClient.get(client) ?? new Set();
  }

  private async cancelAtIssuer(tx: EntityManager, issuer: string, ref: string, licenceId: string, correlationId: string | undefined): Promise<void> {
    if (issuer === this.self) return;
    const body = LicenceSubscriptionCancelled.encode({ notifyRef: ref, licenceId }).finish();
    await this.outbox.enqueue(tx, { peer: issuer, stream: noticeStream(licenceId), type: NoticeMessage.Cancelled, body, correlationId });
    afterCommit(tx, () => this.dispatcher.nudge());
  }
}
