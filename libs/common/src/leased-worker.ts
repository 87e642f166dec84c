import { Logger } from '@nestjs/common';

/**
 * The polling loop shared by everything that drains a table of leased work (outbox dispatcher,
 * material pusher, webhook dispatcher): claim up to the free capacity, process each claimed item
 * concurrently, poll again at once while there is work or when nudged, otherwise every
 * `pollIntervalMs`; `stop()` waits for items in flight.
 */
export abstract class LeasedWorker<T> {
  protected abstract readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = true;
  private inflight = 0;
  private idle: (() => void)[] = [];

  /** Items processed at once, the most claimed per round, and the idle poll interval. */
  protected abstract limits(): { concurrency: number; claimBatch: number; pollIntervalMs: number };
  /** Leases up to `limit` due items to this worker. */
  protected abstract claim(limit: number): Promise<T[]>;
  /** Works one claimed item (records its own success or failure). */
  protected abstract process(item: T): Promise<void>;

  /** Starts the polling loop. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops taking new work and waits for items in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.inflight > 0 || this.running) await new Promise<void>((r) => this.idle.push(r));
  }

  /** Asks for a round soon (after a commit that queued work). */
  nudge(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.round(), ms);
    this.timer.unref?.();
  }

  private async round(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    this.again = false;
    const { concurrency, claimBatch, pollIntervalMs } = this.limits();
    try {
      const free = concurrency - this.inflight;
      const claimed = free > 0 ? await this.claim(Math.min(free, claimBatch)) : [];
      for (const item of claimed) {
        this.inflight++;
        void this.process(item)
          .catch((e) => this.logger.error(`processing failed: ${(e as Error).message}`))
          .finally(() => {
            this.inflight--;
            this.nudge();
            this.settle();
          });
      }
      if (claimed.length === free && free > 0) this.again = true;
    } catch (e) {
      this.logger.warn(`round failed: ${(e as Error).message}`);
    } finally {
      this.running = false;
      this.settle();
      if (!this.stopped) this.schedule(this.again ? 0 : pollIntervalMs);
    }
  }

  private settle(): void {
    if (this.inflight === 0 && !this.running) for (const r of this.idle.splice(0)) r();
  }
}
