import { Injectable } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';
import { Clock, DomainException } from '@tongban/common';
import { Dispatcher } from './dispatcher.service';
import { DeadReason, OutboxMessageEntity, OutboxStatus } from './outbox-message.entity';

/** Admin view of one outbox message (body omitted: it may hold personal data). */
export interface OutboxView {
  id: string;
  peer: string;
  stream: string;
  seq: number;
  type: string;
  status: OutboxStatus;
  attempts: number;
  createdAt: string;
  nextAttemptAt: string;
  deliveredAt: string | null;
  lastError: string | null;
  receipt: string | null;
  /** Correlation id of the request that caused it (x-correlation-id), if any. */
  correlationId: string | null;
  /** Kind of the last non-transient failure (a refusal code such as MALFORMED_PAYLOAD, INTERNAL, RECEIPT_INVALID …). */
  failureCode: string | null;
  /** Attempts in a row that failed with `failureCode`. */
  failureCount: number;
  /** Why a DEAD message was parked: FAILURES (`failureCount` × `failureCode`) or AGE; null otherwise. */
  deadReason: DeadReason | null;
}

/** What admins see and do with undelivered messages: list, count, re-queue dead letters. */
@Injectable()
export class OutboxAdmin {
  private readonly repo: Repository<OutboxMessageEntity>;

  constructor(
    ds: DataSource,
    private readonly clock: Clock,
    private readonly dispatcher: Dispatcher,
  ) {
    this.repo = ds.getRepository(OutboxMessageEntity);
  }

  /** Messages by status (default: every status), oldest first. */
  async list(status?: string, limit = 100): Promise<OutboxView[]> {
    if (status && !['PENDING', 'DELIVERED', 'DEAD'].includes(status)) {
      throw new DomainException('VALIDATION_FAILED', 'status must be PENDING, DELIVERED or DEAD', { field: 'status', rule: 'ONE_OF' });
    }
    const rows = await this.repo.find({ where: status ? { status: status as OutboxStatus } : {}, order: { createdAt: 'ASC' }, take: Math.min(Math.max(limit, 1), 1000) });
    return rows.map((r) => this.view(r));
  }

  private view(r: OutboxMessageEntity): OutboxView {
    return {
      id: r.id,
      peer: r.peer,
      stream: r.stream,
      seq: r.seq,
      type: r.type,
      status: r.status,
      attempts: r.attempts,
      createdAt: r.createdAt.toISOString(),
      nextAttemptAt: r.nextAttemptAt.toISOString(),
      deliveredAt: r.deliveredAt?.toISOString() ?? null,
      lastError: r.lastError,
      receipt: r.receipt,
      correlationId: r.correlationId,
      failureCode: r.failureCode,
      failureCount: r.failureCount,
      deadReason: r.deadReason,
    };
  }

  /**
   * Undelivered messages (PENDING, DEAD) per status and peer: read at every /metrics scrape. One
   * branch per status, each an equality the status's own partial index serves (the claims' due-order
   * index, the dead letters' index), so the cost follows the undelivered rows, not the delivered
   * history (`status <> 'DELIVERED'` read the whole table).
   */
  async depth(): Promise<{ status: string; peer: string; count: number; oldest: string }[]> {
    const branch = (status: OutboxStatus) => `SELECT status, peer, COUNT(*) AS count, MIN(created_at) AS oldest FROM outbox_messages WHERE status = '${status}' GROUP BY status, peer`;
    const rows = await this.repo.query<{ status: string; peer: string; count: string | number; oldest: string | number }[]>(`${branch('PENDING')} UNION ALL ${branch('DEAD')}`);
    return rows.map((r) => ({ status: r.status, peer: r.peer, count: Number(r.count), oldest: new Date(Number(r.oldest)).toISOString() }));
  }

  /** Puts a DEAD message back in the queue, to be sent now. */
  async requeue(id: string): Promise<OutboxView> {
    const row = await this.repo.findOneBy({ id });
    if (!row) throw new DomainException('NOT_FOUND', `no outbox message ${id}`);
    if (row.status !== 'DEAD') throw new DomainException('CONFLICT', `message ${id} is ${row.status}; only DEAD messages can be re-queued`);
    // The dead-letter age counts again from now (created_at); attempts and the failure run restart,
    // so backoff starts short and the message gets a fresh budget of failures.
    await this.repo.update(
      { id, status: 'DEAD' },
      { status: 'PENDING', nextAttemptAt: this.clock.now(), createdAt: this.clock.now(), attempts: 0, lastError: null, failureCode: null, failureCount: 0, deadReason: null },
    );
    this.dispatcher.nudge();
    return this.view((await this.repo.findOneBy({ id }))!);
  }
}
