import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { WebhookEntity } from './webhook.entity';

/** How long the list read for one case transaction serves the next ones (changes made here apply at once). */
export const WEBHOOK_LIST_REFRESH_MS = 2000;

/**
 * The registered webhooks as the case transactions see them. Reading the table in every case
 * transaction was one statement per transaction, nearly always to find it empty; the list is kept
 * for WEBHOOK_LIST_REFRESH_MS and dropped at once when this process registers or deletes one. A
 * change made through another replica sharing the database applies here within that time.
 */
@Injectable()
export class WebhookList {
  private cached: { hooks: WebhookEntity[]; at: number } | undefined;
  private generation = 0;

  /** The webhooks, read with `tx` when the kept list is stale or was dropped. */
  async current(tx: EntityManager): Promise<WebhookEntity[]> {
    if (this.cached && Date.now() - this.cached.at < WEBHOOK_LIST_REFRESH_MS) return this.cached.hooks;
    const generation = this.generation;
    const at = Date.now();
    const hooks = await tx.getRepository(WebhookEntity).find();
    // A change made while reading may be missing from what was read: use it once, keep nothing.
    if (generation === this.generation) this.cached = { hooks, at };
    return hooks;
  }

  /** Drops the kept list (a webhook was registered or deleted here). */
  changed(): void {
    this.generation++;
    this.cached = undefined;
  }
}
