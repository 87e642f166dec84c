import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';
import { Clock } from '@tongban/common';
import { AuditEventEntity } from './audit-event.entity';
import { AuditRecord } from './audit-events';

const FLUSH_EVERY_MS = 50;
const FLUSH_AT = 500;

/**
 * Appends audit entries. Refusals and admin actions are written before the call returns
 * (`recordNow`); high-volume entries (`record`) are written in small batches every 50 ms, so a
 * hard kill can lose at most the last batch of routine entries, never a refusal.
 */
@Injectable()
export class AuditLog implements OnModuleDestroy {
  private readonly logger = new Logger('AuditLog');
  private readonly repo: Repository<AuditEventEntity>;
  private pending: Partial<AuditEventEntity>[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
  ) {
    this.repo = ds.getRepository(AuditEventEntity);
  }

  /** Queues a routine entry; written within ~50 ms. */
  record(r: AuditRecord): void {
    this.pending.push(this.row(r));
    if (this.pending.length >= FLUSH_AT) void this.flush();
    else if (!this.timer) this.timer = setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
  }

  /** Writes an entry before returning. */
  async recordNow(r: AuditRecord): Promise<void> {
    await this.repo.insert(this.row(r));
  }

  /** Writes everything queued so far. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() =>
      this.repo.insert(batch).then(
        () => undefined,
        (e: Error) => this.logger.error(`audit batch of ${batch.length} not written: ${e.message}`),
      ),
    );
    return this.flushing;
  }

  /** Entries in insertion order, newest last; for admins and tests. */
  async list(filter: { event?: string; limit?: number; afterSeq?: number } = {}): Promise<AuditEventEntity[]> {
    await this.flush();
    const qb = this.repo.createQueryBuilder('a').orderBy('a.seq', 'ASC').limit(Math.min(filter.limit ?? 100, 1000));
    if (filter.event) qb.andWhere('a.event = :event', { event: filter.event });
    if (filter.afterSeq) qb.andWhere('a.seq > :after', { after: filter.afterSeq });
    return qb.getMany();
  }

  async onModuleDestroy(): Promise<void> {
    await this.flush();
  }

  private row(r: AuditRecord): Partial<AuditEventEntity> {
    return {
      at: this.clock.now(),
      event: r.event,
      actor: r.actor,
      subject: r.subject.slice(0, 256),
      outcome: r.outcome,
      reason: r.reason ?? null,
      messageId: r.messageId ?? null,
      details: r.details ? JSON.stringify(r.details) : null,
    };
  }
}
