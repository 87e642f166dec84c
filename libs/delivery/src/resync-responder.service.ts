import { Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditLog } from '@tongban/audit';
import { Clock } from '@tongban/common';
import { runInTransaction } from '@tongban/persistence';
import { ResyncPayload, ResyncStatePayload } from '@tongban/proto';
import { Dispatcher } from './dispatcher.service';
import { OutboxMessageEntity } from './outbox-message.entity';
import { SEQ_FLOOR_TYPE, inboxMarks, parseMarks } from './resync-marks';

const UPDATE_CHUNK = 500;

/**
 * Answers `Resync` from a peer restored from a backup (docs/protocol-cases.md §1.8): tells it the
 * highest seq we hold of each of its streams, and queues again, unchanged (same id, seq and body),
 * every message we delivered to it after the marks it sends — its inbox lost them with the restore
 * and it needs them again. A stream whose next message our retention deleted is reported, not sent
 * from the middle (the peer would refuse it as OUT_OF_ORDER forever).
 */
@Injectable()
export class ResyncResponder {
  private readonly logger = new Logger('Resync');

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly audit: AuditLog,
    private readonly dispatcher: Dispatcher,
  ) {}

  /** Handles a verified ResyncPayload from `peer`. */
  async answer(peer: string, p: ResyncPayload): Promise<ResyncStatePayload> {
    const theirs = parseMarks(p.received, peer, 'received');
    const result = await runInTransaction(this.ds, async (tx) => {
      const received = await inboxMarks(tx, peer);
      const [sql, params] = tx.connection.driver.escapeQueryWithParameters('SELECT id, stream, seq, status, type FROM outbox_messages WHERE peer = :peer ORDER BY stream, seq', { peer }, {});
      const rows: { id: string; stream: string; seq: number | string; status: string; type: string }[] = await tx.query(sql, params);
      const byStream = new Map<string, typeof rows>();
      for (const r of rows) byStream.set(r.stream, [...(byStream.get(r.stream) ?? []), r]);
      const requeue: string[] = [];
      const unrecoverable: string[] = [];
      for (const [stream, list] of byStream) {
        const mark = theirs.get(stream) ?? 0;
        const after = list.filter((r) => Number(r.seq) > mark);
        const resend = after.filter((r) => r.status === 'DELIVERED');
        if (!resend.length) continue;
        // Only a run that starts right after their mark, with real messages, can be sent again.
        if (Number(after[0].seq) !== mark + 1 || resend.some((r) => r.type === SEQ_FLOOR_TYPE)) {
          unrecoverable.push(stream);
          continue;
        }
        requeue.push(...resend.map((r) => r.id));
      }
      const now = this.clock.now();
      for (let i = 0; i < requeue.length; i += UPDATE_CHUNK) {
        await tx
          .getRepository(OutboxMessageEntity)
          .createQueryBuilder()
          .update()
          .set({ status: 'PENDING', attempts: 0, nextAttemptAt: now, createdAt: now, lastError: null, failureCode: null, failureCount: 0, deadReason: null, leaseOwner: null, leaseUntil: null })
          .where('id IN (:...ids)', { ids: requeue.slice(i, i + UPDATE_CHUNK) })
          .execute();
      }
      return { received, requeued: requeue.length, unrecoverable };
    });
    if (result.requeued) this.dispatcher.nudge();
    this.logger.warn(
      `${peer} was restored from a backup: sending ${result.requeued} message(s) again${result.unrecoverable.length ? `; ${result.unrecoverable.length} stream(s) cannot be resent` : ''}`,
    );
    await this.audit.recordNow({
      event: 'federation.resync.served',
      actor: peer,
      subject: 'Resync',
      outcome: 'OK',
      details: { requeued: result.requeued, unrecoverable: result.unrecoverable.length, theirStreams: theirs.size, ourStreams: result.received.length },
    });
    return { received: result.received, requeued: result.requeued, unrecoverable: result.unrecoverable };
  }
}
