import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { Clock, DomainException, LeasedWorker, toStorableText } from '@tongban/common';
import { PeerClient, SignedTokenVerifier } from '@tongban/federation';
import { Metrics, correlated } from '@tongban/observability';
import { DeliveryPayload, DeliveryReceiptPayload } from '@tongban/proto';
import { DELIVERY_OPTIONS, DeliveryOptions, RECEIPT_TYP, ReceiptClaims } from './delivery.options';
import { classifyDeliveryFailure, ReceiptInvalidError } from './delivery-failure';
import { DeadReason, OutboxMessageEntity } from './outbox-message.entity';
import { receiptDigestMatches } from './receipt-claims';
import { DeliveryHolds } from './delivery-holds';
import { claimLeases, ClaimRequest, LeaseClaim, leaseFor } from '@tongban/persistence';
import { DeliveredUpdates } from './delivered-updates';

const CLAIM_BATCH = 64;

/** Refusals that name the key an envelope was signed with: a message pinned to a key is re-sealed with the active key. */
const KEY_REFUSALS = new Set(['UNKNOWN_KEY', 'KEY_RETIRED', 'KEY_REVOKED']);

/**
 * The dispatcher's claim: the due heads of their (peer, stream), earliest due first. A message is
 * its stream's head when no message of the stream with a lower seq is undelivered (PENDING or
 * DEAD). On PostgreSQL the candidates are walked in the order of `ix_outbox_pending_due` (partial,
 * PENDING only: the only index that finds PENDING rows, migration 1796300000000) and the walk stops
 * at `limit`; the head check is a correlated scalar subquery on `uq_outbox_peer_stream_seq` (a
 * case's stream is a handful of messages), its status test `<> 'DELIVERED'` so that no status index
 * can serve it. Written as NOT EXISTS it was an anti-join, which PostgreSQL planned — with
 * statistics taken while nothing was pending, a gateway's usual state — as a scan of every pending
 * row for every pending row (0.8 s a claim over 3,000 pending, 37 s over 20,000; 2026-12-04).
 * `held`: peers held after a restore until their resync is done (six-digit codes, checked by DeliveryHolds).
 */
export function outboxClaim(c: ClaimRequest & { held: readonly string[] }): LeaseClaim {
  const notHeld = c.held.length ? `AND o.peer NOT IN (${c.held.map((code) => `'${code}'`).join(', ')})` : '';
  return {
    key: 'id',
    candidates: `SELECT o.id FROM outbox_messages o
          WHERE o.status = 'PENDING' AND o.next_attempt_at <= :now ${notHeld}
            AND (o.lease_until IS NULL OR o.lease_until < :now)
            AND (SELECT 1 FROM outbox_messages h
                  WHERE h.peer = o.peer AND h.stream = o.stream AND h.seq < o.seq AND h.status <> 'DELIVERED' LIMIT 1) IS NULL
          ORDER BY o.next_attempt_at, o.created_at
          LIMIT ${Number(c.limit)}${c.postgres ? ' FOR UPDATE SKIP LOCKED' : ''}`,
    params: { now: c.now },
    ...leaseFor(c),
  };
}

/**
 * Sends outbox messages to peers: only the head of each (peer, stream) is eligible, so order is
 * kept; a claim is a lease written to the row (on PostgreSQL the candidates are read with
 * FOR UPDATE SKIP LOCKED), so replicas sharing a database never send the same message at once.
 * Failures retry with exponential backoff and full jitter. A message is parked as DEAD, never
 * dropped, after the same non-transient failure `deadAfterFailures` times in a row (a poison
 * message) or past the dead-letter age; a DEAD message holds back the rest of its stream until it
 * is re-queued. Each delivery ends with the peer's signed receipt stored.
 */
@Injectable()
export class Dispatcher extends LeasedWorker<OutboxMessageEntity> implements OnApplicationBootstrap, OnModuleDestroy {
  protected readonly logger = new Logger('Dispatcher');
  private readonly owner = randomUUID();
  /** A delivery's end (its receipt stored): prepared statements, on PostgreSQL one per turn's deliveries. */
  private readonly delivered: DeliveredUpdates;

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly peers: PeerClient,
    private readonly verifier: SignedTokenVerifier,
    @Inject(DELIVERY_OPTIONS) private readonly options: DeliveryOptions,
    @Optional() private readonly metrics?: Metrics,
    @Optional() private readonly holds?: DeliveryHolds,
  ) {
    super();
    this.delivered = new DeliveredUpdates(ds, this.owner);
  }

  async onApplicationBootstrap(): Promise<void> {
    // An embedded SQLite file has exactly one gateway process: leases left by a process that
    // died are void. On PostgreSQL other replicas may be alive, so their leases run out instead.
    if (this.ds.options.type !== 'postgres') {
      await this.ds.getRepository(OutboxMessageEntity).createQueryBuilder().update().set({ leaseOwner: null, leaseUntil: null }).where('lease_owner IS NOT NULL').execute();
    }
    this.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  protected limits() {
    return { concurrency: this.options.concurrency, claimBatch: CLAIM_BATCH, pollIntervalMs: this.options.pollIntervalMs, idlePollMs: this.options.idlePollMs };
  }

  /** Leases up to `limit` due stream heads to this dispatcher (one statement). */
  protected async claim(limit: number): Promise<OutboxMessageEntity[]> {
    const now = this.clock.now().getTime();
    return claimLeases(
      this.ds,
      OutboxMessageEntity,
      outboxClaim({ postgres: this.ds.options.type === 'postgres', held: this.holds?.held() ?? [], limit, now, owner: this.owner, leaseMs: this.options.leaseMs }),
    );
  }

  /** Sends one message with its correlation id (in the gRPC metadata, and in the lines logged about it here). */
  protected async process(m: OutboxMessageEntity): Promise<void> {
    const body = Buffer.from(m.body, 'base64');
    const repo = this.ds.getRepository(OutboxMessageEntity);
    try {
      const payload = DeliveryPayload.encode({ messageId: m.id, stream: m.stream, seq: String(m.seq), type: m.type, body }).finish();
      const response = DeliveryReceiptPayload.decode(await this.peers.call(m.peer, 'Deliver', payload, m.correlationId ?? undefined, m.signKid ?? undefined));
      const check = await this.verifier.check<ReceiptClaims>(response.receipt, RECEIPT_TYP);
      const c = check.claims;
      if (!check.valid || !c || c.iss !== m.peer || c.mid !== m.id || !receiptDigestMatches(c, body)) {
        throw new ReceiptInvalidError(`receipt from ${m.peer} does not check (${check.valid ? 'claims differ' : check.reason})`);
      }
      await this.delivered.store({
        id: m.id,
        at: this.clock.now().getTime(),
        receipt: response.receipt,
        lastError: c.sta === 'REJECTED' ? toStorableText(`rejected: ${c.rsn ?? ''}`.slice(0, 300)) : null,
      });
      if (c.sta === 'REJECTED') this.logger.warn(correlated(`${m.peer} rejected ${m.type} ${m.id}: ${c.rsn}`, m.correlationId));
      if (m.attempts > 0) {
        // The peer is back: let the rest of its queue go now instead of waiting out the backoff.
        await repo
          .createQueryBuilder()
          .update(OutboxMessageEntity)
          .set({ nextAttemptAt: this.clock.now() })
          .where("peer = :peer AND status = 'PENDING' AND next_attempt_at > :now", { peer: m.peer, now: this.clock.now().getTime() })
          .execute();
      }
    } catch (e) {
      const attempts = m.attempts + 1;
      const now = this.clock.now();
      const failure = classifyDeliveryFailure(e);
      // Transient failures neither count nor break a run of the same non-transient failure.
      const failureCode = failure.transient ? m.failureCode : failure.code;
      const failureCount = failure.transient ? m.failureCount : failure.code === m.failureCode ? m.failureCount + 1 : 1;
      const deadReason: DeadReason | null =
        !failure.transient && failureCount >= this.options.deadAfterFailures ? 'FAILURES' : now.getTime() - m.createdAt.getTime() >= this.options.deadLetterAgeMs ? 'AGE' : null;
      // Also arms a round for when the retry falls due.
      const delay = this.retryIn(attempts, this.options.backoffBaseMs, this.options.backoffCapMs);
      const reason = toStorableText(e instanceof DomainException ? `${e.code}: ${e.message}` : (e as Error).message);
      // A key announcement pinned to a key the peer no longer accepts (it learnt of the retirement
      // or revocation from its administrator or the directory first) goes again at once, signed
      // with our active key, instead of being refused forever and blocking the ordered stream.
      const reseal = m.signKid !== null && e instanceof DomainException && KEY_REFUSALS.has(e.details.reason ?? '');
      if (reseal) this.logger.warn(correlated(`${m.peer} refused ${m.type} ${m.id} signed with key ${m.signKid} (${e.details.reason}); re-sealing it with the active key`, m.correlationId));
      const result = await repo.update(
        { id: m.id, leaseOwner: this.owner },
        {
          attempts,
          status: deadReason ? 'DEAD' : 'PENDING',
          deadReason,
          failureCode,
          failureCount,
          nextAttemptAt: reseal && !deadReason ? now : new Date(now.getTime() + delay),
          lastError: reason.slice(0, 300),
          leaseOwner: null,
          leaseUntil: null,
          ...(reseal ? { signKid: null } : {}),
        },
      );
      if (deadReason && result.affected) {
        this.metrics?.deadLetter('outbox', deadReason === 'AGE' ? 'AGE' : failure.code);
        const why = deadReason === 'AGE' ? 'past the dead-letter age' : `${failureCount} failures in a row of kind ${failure.code}`;
        this.logger.error(correlated(`message ${m.id} to ${m.peer} parked as DEAD after ${attempts} attempts (${why}): ${reason}`, m.correlationId));
      }
    }
  }
}
