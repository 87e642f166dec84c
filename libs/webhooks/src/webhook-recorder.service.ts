import { Injectable, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { CaseEventRecord, CaseStepEntity, CaseTransactions } from '@tongban/cases';
import { afterCommit, pendingWrites } from '@tongban/persistence';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookDispatcher } from './webhook-dispatcher.service';
import { WebhookList } from './webhook-list';

/** Whether a webhook's `events` list takes `type`. */
export function subscribes(events: string[], type: string): boolean {
  return events.some((e) => e === '*' || e === type || (e.endsWith('*') && type.startsWith(e.slice(0, -1))));
}

/** A delivery of `body` to webhook `webhookId`, due at `now` (written in the transaction of its event). */
export function pendingDelivery(webhookId: string, eventType: string, body: string, now: Date): WebhookDeliveryEntity {
  return {
    id: randomUUID(),
    webhookId,
    eventType: eventType.slice(0, 40),
    body,
    status: 'PENDING',
    attempts: 0,
    nextAttemptAt: now,
    lastStatus: null,
    lastError: null,
    createdAt: now,
    deliveredAt: null,
    leaseOwner: null,
    leaseUntil: null,
  };
}

/**
 * Turns case events into webhook deliveries inside the case transaction (CaseTransactions
 * `inTransaction`), so a delivery exists exactly when its event committed — as reliable as the
 * outbox. A commit that queued deliveries wakes the WebhookDispatcher.
 */
@Injectable()
export class WebhookRecorder implements OnModuleInit {
  constructor(
    private readonly txs: CaseTransactions,
    private readonly dispatcher: WebhookDispatcher,
    private readonly webhooks: WebhookList,
  ) {}

  onModuleInit(): void {
    this.txs.inTransaction(async (tx, records) => {
      if ((await this.record(tx, records)) > 0) afterCommit(tx, () => this.dispatcher.nudge());
    });
  }

  /** Queues one delivery per (event, subscribed webhook) in `tx`; returns how many. */
  async record(tx: EntityManager, records: CaseEventRecord[]): Promise<number> {
    const hooks = await this.webhooks.current(tx);
    if (hooks.length === 0) return 0;
    let queued = 0;
    const performers = new Map<string, string>();
    const repo = tx.getRepository(WebhookDeliveryEntity);
    for (const r of records) {
      const targets = hooks.filter((h) => subscribes(h.events, r.type));
      if (targets.length === 0) continue;
      let taskId: string | null = null;
      if (r.stepIndex !== null) {
        const key = `${r.caseId}~${r.stepIndex}`;
        if (!performers.has(key)) {
          // The case's writes are kept for the commit: written first, so a step inserted by this transaction is found.
          await pendingWrites(tx).flush();
          const step = await tx.getRepository(CaseStepEntity).findOneBy({ caseId: r.caseId, idx: r.stepIndex });
          performers.set(key, step?.province ?? '');
        }
        // A task event: the step is performed here, so a department's task system can act on it.
        if (performers.get(key) === this.txs.self) taskId = `${r.collaborationId}~${r.stepIndex}`;
      }
      const body = JSON.stringify({
        id: randomUUID(),
        type: r.type,
        at: r.at,
        caseId: r.caseId,
        collaborationId: r.collaborationId,
        province: r.province,
        actor: r.actor,
        stepIndex: r.stepIndex,
        taskId,
        details: r.details,
      });
      const now = new Date(r.at);
      for (const h of targets) {
        await repo.insert(pendingDelivery(h.id, r.type, body, now));
        queued++;
      }
    }
    return queued;
  }
}
