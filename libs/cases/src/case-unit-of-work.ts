import { EntityManager } from 'typeorm';
import { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Outbox } from '@tongban/delivery';
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
  /** History rows not yet written: all of a transaction's go in one statement (`flush`). */
  private readonly history: QueryDeepPartialEntity<CaseEventEntity>[] = [];

  constructor(
    readonly tx: EntityManager,
    private readonly outbox: Outbox,
    readonly self: string,
    readonly now: Date,
  ) {}

  /** Appends to the case history (here, written by `flush` before the commit) and queues the event for local subscribers. */
  event(c: CaseEntity, type: string, actor: string, stepIndex: number | null = null, details: Record<string, unknown> | null = null, province = this.self): Promise<void> {
    this.history.push({ caseId: c.id, at: this.now, type, province, actor: actor.slice(0, 100), stepIndex, details: details as never });
    this.published.push({ caseId: c.id, collaborationId: c.collaborationId, type, at: this.now.toISOString(), province, actor, stepIndex, details });
    return Promise.resolve();
  }

  /** Writes the history recorded so far, in the order it was recorded, in one statement. */
  async flush(): Promise<void> {
    if (this.history.length === 0) return;
    const rows = this.history.splice(0);
    await this.tx.createQueryBuilder().insert().into(CaseEventEntity).values(rows).updateEntity(false).execute();
  }

  /** Queues a case message for `peer` on the case's stream. */
  async send(peer: string, c: CaseEntity, type: string, body: Uint8Array): Promise<void> {
    if (peer === this.self) return;
    await this.outbox.enqueue(this.tx, { peer, stream: c.collaborationId, type, body });
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

/** Date from a protobuf Timestamp. */
export function fromTs(t: { seconds: string; nanos: number } | undefined): Date | null {
  return t ? new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6)) : null;
}
