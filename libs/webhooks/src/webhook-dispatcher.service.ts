import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Clock, LeasedWorker, toStorableText } from '@tongban/common';
import { SecretSealer } from '@tongban/keys';
import { Metrics } from '@tongban/observability';
import { BlockedAddress, UnresolvedHost, WebhookAddressPolicy } from './webhook-address-policy';
import { postToCheckedAddress } from './webhook-request';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookEntity } from './webhook.entity';
import { signWebhook } from './webhook-signature';
import { WEBHOOKS_OPTIONS, WebhooksOptions } from './webhooks.options';
import { claimLeases, ClaimRequest, LeaseClaim, leaseFor } from '@tongban/persistence';

const CLAIM_BATCH = 64;

/**
 * The webhook dispatcher's claim: due deliveries, earliest first, walked in the order of the
 * partial index `ix_webhook_deliveries_pending_due` (PENDING only, and on PostgreSQL the only index
 * that finds PENDING rows), so the walk stops at `limit` whatever PostgreSQL's statistics say (with
 * `(status, next_attempt_at)` it sorted every pending row).
 */
export function webhookClaim(c: ClaimRequest): LeaseClaim {
  return {
    key: 'id',
    candidates: `SELECT d.id FROM webhook_deliveries d
          WHERE d.status = 'PENDING' AND d.next_attempt_at <= :now
            AND (d.lease_until IS NULL OR d.lease_until < :now)
          ORDER BY d.next_attempt_at, d.created_at
          LIMIT ${Number(c.limit)}${c.postgres ? ' FOR UPDATE SKIP LOCKED' : ''}`,
    params: { now: c.now },
    ...leaseFor(c),
  };
}

/**
 * POSTs queued deliveries to local systems, signed with the webhook's secret. Claims are leases
 * written to the rows (FOR UPDATE SKIP LOCKED on PostgreSQL), so replicas never send one delivery
 * at once; any 2xx is success; failures retry with exponential backoff and full jitter until the
 * attempt limit or the dead-letter age, then the delivery is parked as DEAD. Order is not kept:
 * receivers use the event `id` to drop duplicates and `at` to order. Every attempt resolves the
 * URL's host again and checks every address against the policy (public, or allowed by the
 * operator), then connects to the checked address: a name re-pointed at an internal address after
 * registration (DNS rebinding) is blocked, counted (tongban_webhook_blocked_total) and logged.
 */
@Injectable()
export class WebhookDispatcher extends LeasedWorker<WebhookDeliveryEntity> implements OnApplicationBootstrap, OnModuleDestroy {
  protected readonly logger = new Logger('WebhookDispatcher');
  private readonly owner = randomUUID();
  private readonly leaseMs: number;
  private readonly policy: WebhookAddressPolicy;

  /** Opened secrets by webhook id (the first opening costs an async scrypt derivation, ~50 ms). */
  private readonly secrets = new Map<string, string>();

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    @Inject(WEBHOOKS_OPTIONS) private readonly options: WebhooksOptions,
    private readonly sealer: SecretSealer,
    @Optional() private readonly metrics?: Metrics,
  ) {
    super();
    this.leaseMs = Math.max(30_000, 3 * options.timeoutMs);
    this.policy = new WebhookAddressPolicy(options.allowCidrs ?? []);
  }

  onApplicationBootstrap(): void {
    this.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  protected limits() {
    return { concurrency: this.options.concurrency, claimBatch: CLAIM_BATCH, pollIntervalMs: this.options.pollIntervalMs, idlePollMs: this.options.idlePollMs };
  }

  /** Leases up to `limit` due deliveries to this dispatcher (one statement). */
  protected async claim(limit: number): Promise<WebhookDeliveryEntity[]> {
    const now = this.clock.now().getTime();
    return claimLeases(this.ds, WebhookDeliveryEntity, webhookClaim({ postgres: this.ds.options.type === 'postgres', limit, now, owner: this.owner, leaseMs: this.leaseMs }));
  }

  private async secretOf(hook: WebhookEntity): Promise<string> {
    if (!hook.secretSealed) return hook.secret; // not sealed yet (a row from before this version)
    let secret = this.secrets.get(hook.id);
    if (secret === undefined) {
      secret = await this.sealer.open('webhook', hook.id, hook.secretSealed, hook.kekId);
      this.secrets.set(hook.id, secret);
    }
    return secret;
  }

  protected async process(d: WebhookDeliveryEntity): Promise<void> {
    const repo = this.ds.getRepository(WebhookDeliveryEntity);
    const key = { id: d.id, leaseOwner: this.owner };
    const attempts = d.attempts + 1;
    const hook = await this.ds.getRepository(WebhookEntity).findOneBy({ id: d.webhookId });
    if (!hook) {
      await repo.update(key, { status: 'DEAD', lastError: 'webhook deleted', leaseOwner: null, leaseUntil: null });
      this.metrics?.deadLetter('webhook_deliveries', 'WEBHOOK_DELETED');
      return;
    }
    const url = new URL(hook.url);
    const origin = url.origin;
    let status: number | null = null;
    let problem: string;
    try {
      const target = await this.policy.resolve(url.hostname);
      const t = this.clock.epochSeconds();
      const headers = {
        'content-type': 'application/json',
        'x-tongban-event': d.eventType,
        'x-tongban-delivery': d.id,
        'x-tongban-signature': signWebhook(await this.secretOf(hook), t, d.body),
      };
      status = await postToCheckedAddress(url, target, headers, d.body, this.options.timeoutMs);
      if (status >= 200 && status < 300) {
        await repo.update(key, { status: 'DELIVERED', attempts, lastStatus: status, lastError: null, deliveredAt: this.clock.now(), leaseOwner: null, leaseUntil: null });
        return;
      }
      problem = `HTTP ${status}`;
    } catch (e) {
      if (e instanceof BlockedAddress) {
        this.metrics?.webhookBlocked(e.reason);
        this.logger.warn(`webhook delivery ${d.id} to ${origin} blocked: ${e.message} (not public; allow the range with TONGBAN_WEBHOOK_ALLOW_CIDRS if it is meant)`);
        problem = `blocked: ${e.message}`;
      } else if (e instanceof UnresolvedHost) {
        problem = e.message;
      } else {
        const err = e as Error & { code?: string };
        problem = `${err.message}${err.code && !err.message.includes(err.code) ? ` (${err.code})` : ''}`;
      }
    }
    const now = this.clock.now();
    const dead = attempts >= this.options.maxAttempts || now.getTime() - d.createdAt.getTime() >= this.options.deadLetterAgeMs;
    // Also arms a round for when the retry falls due.
    const delay = this.retryIn(attempts, this.options.backoffBaseMs, this.options.backoffCapMs);
    await repo.update(key, {
      attempts,
      status: dead ? 'DEAD' : 'PENDING',
      lastStatus: status,
      lastError: toStorableText(problem.slice(0, 300)),
      nextAttemptAt: new Date(now.getTime() + delay),
      leaseOwner: null,
      leaseUntil: null,
    });
    if (dead) {
      this.metrics?.deadLetter('webhook_deliveries', attempts >= this.options.maxAttempts ? 'ATTEMPTS' : 'AGE');
      this.logger.error(`webhook delivery ${d.id} (${d.eventType}) to ${origin} parked as DEAD after ${attempts} attempts: ${problem}`);
    } else this.logger.warn(`webhook delivery ${d.id} to ${origin} failed (${problem}); attempt ${attempts} of ${this.options.maxAttempts}`);
  }
}
