import { setTimeout as delay } from 'node:timers/promises';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import { AuditLog, lastRestore } from '@tongban/audit';
import { Clock, SELF_CODE, errorMessage } from '@tongban/common';
import { PeerClient } from '@tongban/federation';
import { runInTransaction } from '@tongban/persistence';
import { ResyncPayload, ResyncStatePayload } from '@tongban/proto';
import { TrustStore } from '@tongban/trust';
import { DeliveryHolds } from './delivery-holds';
import { Dispatcher } from './dispatcher.service';
import { lockStream } from './outbox.service';
import { SEQ_FLOOR_TYPE, inboxMarks, parseMarks } from './resync-marks';

/** What one peer's resync changed here (recorded in `backup.resynced`). */
export interface ResyncOutcome {
  requeuedByPeer: number;
  floorsRaised: number;
  renumbered: number;
  /** Streams of cases we own that the peer holds messages of and we hold none: lost with the restore. */
  lostOwnStreams: string[];
  unrecoverable: string[];
}

/**
 * After `tongban restore` (docs/operations.md §8.5): holds every peer (the dispatcher sends them
 * nothing) until it has been resynchronised — `Resync` tells it our inbox marks so it sends again
 * what we lost, and its answer gives its inbox marks of our streams, above which our `seq` floor is
 * raised (a floor row) and messages queued since the restore are renumbered. One `backup.resynced`
 * entry per peer ends it; a peer that cannot be reached is retried with backoff.
 */
@Injectable()
export class RestoreResync implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Resync');
  private restored: { seq: number; at: number } | undefined;
  private pending = new Set<string>();
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly ds: DataSource,
    private readonly clock: Clock,
    private readonly peers: PeerClient,
    private readonly trust: TrustStore,
    private readonly audit: AuditLog,
    private readonly holds: DeliveryHolds,
    private readonly dispatcher: Dispatcher,
    @Inject(SELF_CODE) private readonly self: string,
  ) {}

  /** Before the dispatcher starts: hold every peer not yet resynchronised since the newest restore. */
  async onModuleInit(): Promise<void> {
    this.restored = await lastRestore(this.ds.manager);
    if (!this.restored) return;
    const done: { subject: string }[] = await this.ds.query(`SELECT subject FROM audit_events WHERE event = 'backup.resynced' AND seq > ${Number(this.restored.seq)}`);
    const peers: { code: string }[] = await this.ds.query('SELECT code FROM peers ORDER BY code');
    this.pending = new Set(peers.map((p) => p.code).filter((c) => !done.some((d) => d.subject === c)));
    this.holds.hold(this.pending);
    if (this.pending.size) this.logger.warn(`restored from a backup: holding messages to ${[...this.pending].join(', ')} until each is resynchronised`);
  }

  onApplicationBootstrap(): void {
    for (const peer of this.pending) this.loops.push(this.loop(peer));
  }

  async onModuleDestroy(): Promise<void> {
    this.abort.abort();
    await Promise.allSettled(this.loops);
  }

  private async loop(peer: string): Promise<void> {
    let wait = 1000;
    while (!this.abort.signal.aborted) {
      try {
        if (this.trust.peer(peer)?.status === 'ACTIVE') {
          await this.resync(peer);
          return;
        }
      } catch (e) {
        this.logger.warn(`resync with ${peer} failed (${errorMessage(e)}); retrying in ${Math.round(wait / 1000)} s`);
      }
      await delay(wait, undefined, { signal: this.abort.signal }).catch(() => undefined);
      wait = Math.min(60_000, wait * 2);
    }
  }

  /** One resync with `peer`: ask, raise the floors, audit, release. */
  async resync(peer: string): Promise<ResyncOutcome> {
    const restoredAt = this.restored?.at ?? this.clock.now().getTime();
    const received = await inboxMarks(this.ds.manager, peer);
    const payload = ResyncPayload.encode({ restoredAt: { seconds: String(Math.floor(restoredAt / 1000)), nanos: (restoredAt % 1000) * 1e6 }, received }).finish();
    const answer = ResyncStatePayload.decode(await this.peers.call(peer, 'Resync', payload));
    const marks = parseMarks(answer.received, peer, 'received');
    const outcome = await runInTransaction(this.ds, (tx) => this.raiseFloors(tx, peer, marks, restoredAt));
    outcome.requeuedByPeer = answer.requeued;
    outcome.unrecoverable = answer.unrecoverable.slice(0, 1000);
    for (const s of outcome.lostOwnStreams) this.logger.error(`stream ${s}: ${peer} holds messages of a case we own that the restore lost (docs/operations.md §8.5 b)`);
    for (const s of outcome.unrecoverable) this.logger.error(`stream ${s}: ${peer} can no longer send what we lost (its retention deleted it)`);
    await this.audit.recordNow({
      event: 'backup.resynced',
      actor: 'system',
      subject: peer,
      outcome: 'OK',
      details: {
        requeuedByPeer: outcome.requeuedByPeer,
        floorsRaised: outcome.floorsRaised,
        renumbered: outcome.renumbered,
        lostOwnStreams: outcome.lostOwnStreams.length,
        unrecoverable: outcome.unrecoverable.length,
        ...(outcome.lostOwnStreams.length ? { lostOwn: outcome.lostOwnStreams.slice(0, 20).join(',') } : {}),
      },
    });
    this.holds.release(peer);
    this.dispatcher.nudge();
    this.logger.log(`resynchronised with ${peer}: it sends ${outcome.requeuedByPeer} message(s) again; ${outcome.floorsRaised} seq floor(s) raised, ${outcome.renumbered} message(s) renumbered`);
    return outcome;
  }

  /**
   * For each stream the peer holds more of than our outbox: renumber what we queued since the
   * restore above its mark (highest first, so no two rows ever share a seq), then write a floor
   * row at its mark, so the next enqueue takes mark + 1.
   */
  private async raiseFloors(tx: EntityManager, peer: string, marks: Map<string, number>, restoredAt: number): Promise<ResyncOutcome> {
    const outcome: ResyncOutcome = { requeuedByPeer: 0, floorsRaised: 0, renumbered: 0, lostOwnStreams: [], unrecoverable: [] };
    for (const [stream, mark] of marks) {
      await lockStream(tx, peer, stream);
      const [sql, params] = tx.connection.driver.escapeQueryWithParameters(
        'SELECT id, seq, created_at FROM outbox_messages WHERE peer = :peer AND stream = :stream ORDER BY seq',
        { peer, stream },
        {},
      );
      const rows: { id: string; seq: number | string; created_at: number | string }[] = await tx.query(sql, params);
      const old = rows.filter((r) => Number(r.created_at) < restoredAt);
      const oldMax = old.length ? Number(old[old.length - 1].seq) : 0;
      if (mark <= oldMax) continue;
      const fresh = rows.filter((r) => Number(r.created_at) >= restoredAt);
      if (fresh.length && Number(fresh[0].seq) <= mark) {
        for (let i = fresh.length - 1; i >= 0; i--) {
          await tx.query(...tx.connection.driver.escapeQueryWithParameters('UPDATE outbox_messages SET seq = :seq WHERE id = :id', { seq: mark + 1 + i, id: fresh[i].id }, {}));
        }
        outcome.renumbered += fresh.length;
      }
      const now = this.clock.now().getTime();
      await tx.query(
        ...tx.connection.driver.escapeQueryWithParameters(
          `INSERT INTO outbox_messages (id, peer, stream, seq, type, body, status, attempts, next_attempt_at, created_at, delivered_at, last_error)
           VALUES (:id, :peer, :stream, :seq, :type, '', 'DELIVERED', 0, CAST(:now AS bigint), CAST(:createdAt AS bigint), CAST(:deliveredAt AS bigint), :note)`,
          {
            id: randomUUID(),
            peer,
            stream,
            seq: mark,
            type: SEQ_FLOOR_TYPE,
            now,
            createdAt: now,
            deliveredAt: now,
            note: `seq floor: ${peer} holds seq ${mark} from before the restore (we had ${oldMax})`,
          },
          {},
        ),
      );
      outcome.floorsRaised++;
      if (oldMax === 0 && stream.startsWith(`${this.self}-`)) outcome.lostOwnStreams.push(stream);
    }
    return outcome;
  }
}
