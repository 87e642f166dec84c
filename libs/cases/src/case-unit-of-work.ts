import { EntityManager } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Outbox } from '@tongban/delivery';
import { WriteBatch, pendingWrites } from '@tongban/persistence';
import { CaseEntity } from './case.entity';
import { CaseEventEntity } from './case-event.entity';

/** A case event as published to local subscribers (webhooks) after commit. */
export interface CaseEventRecord {
  caseId: string;
  collaborationId: string;
  type: string;
  at: string;
  province: string;
  actor: string;
  stepIndex: number | null;
  details: Record<string, unknown> | null;
}

/**
 * One transaction's worth of case work: state changes, history events and outgoing messages all
 * commit together (transactional outbox); events are published only after the commit.
 */
export class CaseUnitOfWork {
  readonly published: CaseEventRecord[] = [];
  sent = 0;
  /** Cases whose row this transaction has locked (loaded) or inserted: their streams are ordered by it. */
  private readonly held = new Set<string>();
  /** History rows not yet written: all of a transaction's go in one multi-row insert (`flush`). */
  private readonly history: QueryDeepPartialEntity<CaseEventEntity>[] = [];
  /**
   * The transaction's kept writes (`pendingWrites`): case and step rows this transaction inserts
   * or changes, its history, its outgoing messages (PostgreSQL) and, in the inbox, the message's
   * own row, all written just before the commit: on PostgreSQL in one statement. Only rows of
   * cases this transaction holds (loaded, so locked, or inserted by it) are written here; a reader
   * of them in the transaction flushes first (`CaseTransactions.load` does).
   */
  readonly writes: WriteBatch;

  constructor(
    readonly tx: EntityManager,
    private readonly outbox: Outbox,
    readonly self: string,
    readonly now: Date,
    /** The correlation id of the request (local HTTP, or the delivery from a peer) that caused this work: stored with the messages it sends. */
    readonly correlationId?: string,
  ) {
    this.writes = pendingWrites(tx);
  }

  /** Appends to the case history (kept with the transaction's writes by `keepHistory`) and queues the event for local subscribers. */
  event(c: CaseEntity, type: string, actor: string, stepIndex: number | null = null, details: Record<string, unknown> | null = null, province = this.self): Promise<void> {
    this.history.push({ caseId: c.id, at: this.now, type, province, actor: actor.slice(0, 100), stepIndex, details: details as never });
    this.published.push({ caseId: c.id, collaborationId: c.collaborationId, type, at: this.now.toISOString(), province, actor, stepIndex, details });
    return Promise.resolve();
  }

  /** Adds the history recorded so far (in the order recorded) to the transaction's kept writes, in one multi-row insert. */
  keepHistory(): void {
    this.writes.insert(CaseEventEntity, this.history.splice(0));
  }

  /** Records that this transaction holds the row of `c` (locked by CaseTransactions.load, or inserted by it). */
  holds(c: CaseEntity): void {
    this.held.add(c.id);
  }

  /** Queues a case message for `peer` on the case's stream. */
  async send(peer: string, c: CaseEntity, type: string, body: Uint8Array): Promise<void> {
    if (peer === this.self) return;
    // Every transaction that queues on a case's stream holds the case row until it commits, which
    // orders their seqs; the outbox's own stream lock is then a second round trip for nothing.
    await this.outbox.enqueue(this.tx, { peer, stream: c.collaborationId, type, body, correlationId: this.correlationId }, { streamLocked: this.held.has(c.id) });
    this.sent++;
  }

  /** Queues the same message for every participant but us (and `except`). */
  async broadcast(c: CaseEntity, type: string, body: Uint8Array, except?: string): Promise<void> {
    for (const peer of new Set(Object.values(c.participants))) if (peer !== except) await this.send(peer, c, type, body);
  }
}

/** protobuf Timestamp from a Date. */
export function ts(d: Date | null | undefined): { seconds: string; nanos: number } | undefined {
  return d ? { seconds: String(Math.floor(d.getTime() / 1000)), nanos: (d.getTime() % 1000) * 1e6 } : undefined;
}
