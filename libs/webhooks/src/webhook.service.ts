import { Inject, Injectable, Logger, OnApplicationBootstrap, Optional } from '@nestjs/common';
import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AuditLog } from '@tongban/audit';
import { Clock, DomainException, ValidationException, parseOrThrow } from '@tongban/common';
import { SecretSealer } from '@tongban/keys';
import { WebhookDeliveryEntity, WebhookDeliveryStatus } from './webhook-delivery.entity';
import { WebhookEntity } from './webhook.entity';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import { WebhookList } from './webhook-list';
import { BlockedAddress, UnresolvedHost, WebhookAddressPolicy } from './webhook-address-policy';
import { registerWebhookSchema } from './webhook-requests.schema';
import { WEBHOOKS_OPTIONS, WebhooksOptions } from './webhooks.options';
import { lockForTransaction, runInTransaction } from '@tongban/persistence';

// First key of the advisory lock that serialises one client's registrations (see lockForTransaction).
const WEBHOOK_CAP_LOCK_KEY = 7_415_825;

/** A webhook as listed (never with its secret). */
export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  createdBy: string;
  createdAt: string;
}

/** Admin view of one delivery (body omitted: it may hold personal data). */
export interface WebhookDeliveryView {
  id: string;
  webhookId: string;
  eventType: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  createdAt: string;
  nextAttemptAt: string;
  deliveredAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
}

/**
 * Registration of local systems' webhooks, and the admin view of deliveries. A webhook belongs to
 * the API client that registered it (`createdBy`): a client lists and deletes only its own;
 * administrators see and delete all (admin routes). URLs must reach public addresses unless the
 * operator allows a range, and a client holds at most `maxPerClient` webhooks.
 */
@Injectable()
export class WebhookService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Webhooks');
  private readonly policy: WebhookAddressPolicy;

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    @Inject(WEBHOOKS_OPTIONS) private readonly options: WebhooksOptions,
    private readonly sealer: SecretSealer,
    @Optional() private readonly dispatcher?: WebhookDispatcher,
    @Optional() private readonly webhooks?: WebhookList,
  ) {
    this.policy = new WebhookAddressPolicy(options.allowCidrs ?? []);
  }

  /**
   * Puts a DEAD delivery back in the queue, to be sent now with a fresh attempt budget. Refused
   * when the webhook was deleted (there is nowhere to send it) or the delivery is not DEAD.
   */
  async requeue(id: string): Promise<WebhookDeliveryView> {
    const repo = this.ds.getRepository(WebhookDeliveryEntity);
    const row = await repo.findOneBy({ id });
    if (!row) throw new DomainException('NOT_FOUND', `no webhook delivery ${id}`);
    if (row.status !== 'DEAD') throw new DomainException('CONFLICT', `delivery ${id} is ${row.status}; only DEAD deliveries can be re-queued`);
    if (!(await this.ds.getRepository(WebhookEntity).existsBy({ id: row.webhookId }))) {
      throw new DomainException('CONFLICT', `the webhook of delivery ${id} was deleted; register it again and the next events will be sent`);
    }
    const now = this.clock.now();
    await repo.update({ id, status: 'DEAD' }, { status: 'PENDING', attempts: 0, createdAt: now, nextAttemptAt: now, lastError: null, lastStatus: null, leaseOwner: null, leaseUntil: null });
    this.dispatcher?.nudge();
    return this.view((await repo.findOneBy({ id }))!);
  }

  /** Seals secrets stored in clear by builds before secret_sealed (once; idempotent). */
  async onApplicationBootstrap(): Promise<void> {
    await this.sealLegacySecrets();
    // Not awaited: name resolution must not delay the start; the answer is a log line only.
    void this.warnBlockedWebhooks().catch((e: unknown) => this.logger.warn(`webhook addresses not checked at start: ${(e as Error)?.message ?? String(e)}`));
  }

  /**
   * Warns, once at start, about registered webhooks whose host now reaches a non-public address the
   * settings do not allow (registered before this check, or the allowed ranges were narrowed): their
   * deliveries will be blocked. Returns the ids found.
   */
  async warnBlockedWebhooks(): Promise<string[]> {
    const blocked: string[] = [];
    for (const w of await this.ds.getRepository(WebhookEntity).find({ order: { createdAt: 'ASC' } })) {
      try {
        await this.policy.resolve(new URL(w.url).hostname);
      } catch (e) {
        if (!(e instanceof BlockedAddress)) continue;
        blocked.push(w.id);
        this.logger.warn(`webhook ${w.id} of ${w.createdBy} goes to ${e.message}, which TONGBAN_WEBHOOK_ALLOW_CIDRS does not allow: its deliveries will be blocked`);
      }
    }
    return blocked;
  }

  /** Moves every plaintext secret into `secret_sealed`; returns how many were sealed. */
  async sealLegacySecrets(): Promise<number> {
    const repo = this.ds.getRepository(WebhookEntity);
    const legacy = (await repo.find()).filter((w) => !w.secretSealed && w.secret);
    for (const w of legacy) {
      // Only a row still holding that same plaintext is changed (another replica may be doing the same).
      await repo.update({ id: w.id, secret: w.secret }, { secretSealed: await this.sealer.seal('webhook', w.id, w.secret), kekId: await this.sealer.kekId(), secret: '' });
    }
    if (legacy.length) this.logger.log(`sealed ${legacy.length} webhook secret(s) stored in clear by an earlier version`);
    return legacy.length;
  }

  /**
   * Registers a webhook owned by the API client `actor`; the secret (given or generated) is
   * returned this once only. 400 for a URL that is not http(s) or does not reach a public (or
   * allowed) address, 409 when the client already has `maxPerClient` webhooks.
   */
  async register(body: unknown, actor: string): Promise<{ id: string; url: string; events: string[]; secret: string }> {
    const req = parseOrThrow(registerWebhookSchema, body);
    const url = await this.checkUrl(req.url);
    const owner = actor.slice(0, 100);
    const id = randomUUID();
    const secret = req.secret ?? randomBytes(32).toString('base64url');
    const row: WebhookEntity = {
      id,
      url,
      events: [...new Set(req.events)],
      secret: '',
      secretSealed: await this.sealer.seal('webhook', id, secret),
      kekId: await this.sealer.kekId(),
      createdBy: owner,
      createdAt: this.clock.now(),
    };
    // Count and insert in one transaction, serialised per client: concurrent registrations at the
    // cap would otherwise all count below it and all insert.
    await runInTransaction(this.ds, async (tx) => {
      await lockForTransaction(tx, WEBHOOK_CAP_LOCK_KEY, owner);
      const held = await tx.getRepository(WebhookEntity).countBy({ createdBy: owner });
      if (held >= this.options.maxPerClient) {
        throw new DomainException('CONFLICT', `${owner} already has ${held} webhooks; at most ${this.options.maxPerClient} per client (TONGBAN_WEBHOOK_MAX_PER_CLIENT): delete one first`, {
          rule: 'MAX_PER_CLIENT',
        });
      }
      await tx.getRepository(WebhookEntity).insert(row);
    });
    this.webhooks?.changed();
    await this.audit.recordNow({ event: 'admin.webhook.registered', actor, subject: row.id, outcome: 'OK', details: { origin: new URL(url).origin, events: row.events.join(',') } });
    this.logger.log(`webhook ${row.id} registered by ${actor} for ${new URL(url).origin}`);
    return { id: row.id, url: row.url, events: row.events, secret };
  }

  /** The webhooks of API client `owner` (every webhook when `owner` is null: admin), oldest first, without secrets. */
  async list(owner: string | null): Promise<{ webhooks: WebhookView[] }> {
    const rows = await this.ds.getRepository(WebhookEntity).find({ where: owner === null ? {} : { createdBy: owner.slice(0, 100) }, order: { createdAt: 'ASC' } });
    return { webhooks: rows.map((w) => ({ id: w.id, url: w.url, events: w.events, createdBy: w.createdBy, createdAt: w.createdAt.toISOString() })) };
  }

  /**
   * Deletes a webhook of API client `owner` (any webhook when `owner` is null: admin); its undelivered
   * deliveries are parked as DEAD. Another client's webhook is 404, as if it did not exist.
   */
  async remove(id: string, owner: string | null, actor: string): Promise<void> {
    const found = await runInTransaction(this.ds, async (tx) => {
      const res = await tx.getRepository(WebhookEntity).delete(owner === null ? { id } : { id, createdBy: owner.slice(0, 100) });
      if (!res.affected) return false;
      await tx.getRepository(WebhookDeliveryEntity).update({ webhookId: id, status: 'PENDING' }, { status: 'DEAD', lastError: 'webhook deleted', leaseOwner: null, leaseUntil: null });
      return true;
    });
    this.webhooks?.changed();
    if (!found) throw new DomainException('NOT_FOUND', `no webhook ${id.slice(0, 64)}`);
    await this.audit.recordNow({ event: 'admin.webhook.deleted', actor, subject: id, outcome: 'OK' });
  }

  /** Deliveries by status (default: all), oldest first. */
  async deliveries(status?: string, limit = 100): Promise<WebhookDeliveryView[]> {
    if (status && !['PENDING', 'DELIVERED', 'DEAD'].includes(status)) {
      throw new DomainException('VALIDATION_FAILED', 'status must be PENDING, DELIVERED or DEAD', { field: 'status', rule: 'ONE_OF' });
    }
    const rows = await this.ds.getRepository(WebhookDeliveryEntity).find({
      where: status ? { status: status as WebhookDeliveryStatus } : {},
      order: { createdAt: 'ASC' },
      take: Math.min(Math.max(Number.isFinite(limit) ? limit : 100, 1), 1000),
    });
    return rows.map((d) => this.view(d));
  }

  private view(d: WebhookDeliveryEntity): WebhookDeliveryView {
    return {
      id: d.id,
      webhookId: d.webhookId,
      eventType: d.eventType,
      status: d.status,
      attempts: d.attempts,
      createdAt: d.createdAt.toISOString(),
      nextAttemptAt: d.nextAttemptAt.toISOString(),
      deliveredAt: d.deliveredAt?.toISOString() ?? null,
      lastStatus: d.lastStatus,
      lastError: d.lastError,
    };
  }

  private async checkUrl(raw: string): Promise<string> {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new ValidationException('url', 'URL', 'url: must be an absolute http(s) URL');
    }
    if (this.options.httpsOnly ? u.protocol !== 'https:' : u.protocol !== 'https:' && u.protocol !== 'http:') {
      throw new ValidationException('url', 'SCHEME', `url: must be ${this.options.httpsOnly ? 'https (production)' : 'http or https'}`);
    }
    if (u.username || u.password) throw new ValidationException('url', 'NO_CREDENTIALS', 'url: must not carry a user name or password (use the signature)');
    try {
      await this.policy.resolve(u.hostname);
    } catch (e) {
      if (e instanceof BlockedAddress) {
        throw new ValidationException('url', 'PUBLIC_ADDRESS', `url: ${e.message}; webhooks go to public addresses unless the operator allows the range (TONGBAN_WEBHOOK_ALLOW_CIDRS)`);
      }
      // A name that does not resolve yet is accepted: every delivery resolves and checks it again.
      if (!(e instanceof UnresolvedHost)) throw e;
    }
    u.hash = '';
    return u.toString();
  }
}
