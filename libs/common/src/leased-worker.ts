import { Logger } from '@nestjs/common';

/** Longest wait between two rounds of an idle worker unless its limits say otherwise. */
export const DEFAULT_IDLE_POLL_MS = 30_000;

/**
 * The polling loop shared by everything that drains a table of leased work (outbox dispatcher,
 * material pusher, webhook dispatcher): claim up to the free capacity, process each claimed item
 * concurrently, poll again at once while there is work or when nudged. It wakes on work, not on a
 * clock: a commit that queued work nudges it, a retry it scheduled itself wakes it when due
 * (`retryIn`), and otherwise it polls after `pollIntervalMs`, doubling the wait after every empty
 * round up to `idlePollMs` (the safety poll that finds work queued by another process, or leases
 * of a replica that died). `stop()` waits for items in flight.
 */
export abstract class LeasedWorker<T> {
  protected abstract readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (epoch ms; Infinity when none). */
  private dueAt = Infinity;
  /** Earliest time a retry this worker scheduled falls due (epoch ms; Infinity when none). */
  private wakeAt = Infinity;
  /** Current idle wait: 0 after work or a nudge, then pollIntervalMs, doubling up to idlePollMs. */
  private idleMs = 0;
  private running = false;
  private again = false;
  private stopped = true;
  private inflight = 0;
  private idle: (() => void)[] = [];
  private overflow: (() => void) | undefined;

  /**
   * Items processed at once, the most claimed per round, the first poll interval after work, and
   * the longest one when idle (default DEFAULT_IDLE_POLL_MS, never below pollIntervalMs).
   */
  protected abstract limits(): { concurrency: number; claimBatch: number; pollIntervalMs: number; idlePollMs?: number };
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
    this.timer = undefined;
    this.dueAt = Infinity;
    if (this.inflight > 0 || this.running) await new Promise<void>((r) => this.idle.push(r));
  }

  /**
   * Asks for a round soon (after a commit that queued work); polling restarts from its shortest
   * interval. When this worker cannot take the work at once (stopped, or every slot busy), the
   * `whenFull` listener is told, so other replicas can (PostgreSQL NOTIFY).
   */
  nudge(): void {
    if (this.overflow && (this.stopped || this.inflight >= this.limits().concurrency)) this.overflow();
    this.wake();
  }

  /** A round soon, like `nudge`, without telling anyone else (e.g. because another replica told us). */
  wake(): void {
    if (this.stopped) return;
    this.idleMs = 0;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** `listener` is called when work was queued that this worker cannot take at once (see `nudge`). */
  whenFull(listener: () => void): void {
    this.overflow = listener;
  }

  /**
   * The jittered exponential backoff of retry number `attempts` (uniform in [exp/2, exp) with
   * exp = min(capMs, baseMs × 2^(attempts−1))), and a round armed for when it falls due, so a
   * retry never waits for the idle poll.
   */
  protected retryIn(attempts: number, baseMs: number, capMs: number): number {
    const exp = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempts, 1) - 1, 30));
    const delay = Math.round(exp / 2 + Math.random() * (exp / 2));
    this.wakeIn(delay);
    return delay;
  }

  /** Makes sure a round runs `ms` from now (work this worker knows falls due then). */
  protected wakeIn(ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    this.wakeAt = Math.min(this.wakeAt, at);
    if (!this.running && at < this.dueAt) this.schedule(ms);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = Date.now() + ms;
    this.timer = setTimeout(() => void this.round(), ms);
    this.timer.unref?.();
  }

  private async round(): Promise<void> {
    this.timer = undefined;
    this.dueAt = Infinity;
    if (this.stopped || this.running) return;
    this.running = true;
    this.again = false;
    // Everything due by now is claimable in this round.
    if (this.wakeAt <= Date.now()) this.wakeAt = Infinity;
    const { concurrency, claimBatch, pollIntervalMs, idlePollMs } = this.limits();
    let claimedAny = false;
    try {
      const free = concurrency - this.inflight;
      const claimed = free > 0 ? await this.claim(Math.min(free, claimBatch)) : [];
      claimedAny = claimed.length > 0;
      for (const item of claimed) {
        this.inflight++;
        void this.process(item)
          .catch((e) => this.logger.error(`processing failed: ${(e as Error).message}`))
          .finally(() => {
            this.inflight--;
            this.wake();
            this.settle();
          });
      }
      if (claimed.length === free && free > 0) this.again = true;
    } catch (e) {
      this.logger.warn(`round failed: ${(e as Error).message}`);
    } finally {
      this.running = false;
      this.settle();
      if (!this.stopped) this.schedule(this.again ? 0 : this.nextWait(claimedAny || this.inflight > 0, pollIntervalMs, idlePollMs ?? DEFAULT_IDLE_POLL_MS));
    }
  }

  /** The wait before the next round: the idle backoff, or sooner when a known retry falls due. */
  private nextWait(busy: boolean, pollIntervalMs: number, idlePollMs: number): number {
    this.idleMs = busy || this.idleMs === 0 ? pollIntervalMs : Math.min(Math.max(idlePollMs, pollIntervalMs), this.idleMs * 2);
    return this.wakeAt === Infinity ? this.idleMs : Math.max(0, Math.min(this.idleMs, this.wakeAt - Date.now()));
  }

  private settle(): void {
    if (this.inflight === 0 && !this.running) for (const r of this.idle.splice(0)) r();
  }
}
