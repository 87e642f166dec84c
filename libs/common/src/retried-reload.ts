import { Logger } from '@nestjs/common';
import { errorMessage } from './error-text';

/**
 * A store's reload of its in-memory snapshot that is tried again when it fails: from `firstMs`,
 * doubling to `maxMs`, in the background until one succeeds. The caller of `run()` still gets the
 * error. The change that asked for the reload is committed (a revoked key, a suspended peer, a
 * disabled client), so the snapshot must not stay behind it until the next periodic reload, or for
 * good with `TONGBAN_TRUST_REFRESH_S=0`.
 */
export class RetriedReload {
  private timer: NodeJS.Timeout | undefined;
  private delayMs: number;

  constructor(
    private readonly name: string,
    private readonly reload: () => Promise<void>,
    private readonly logger: Logger,
    private readonly firstMs = 500,
    private readonly maxMs = 30_000,
  ) {
    this.delayMs = firstMs;
  }

  async run(): Promise<void> {
    try {
      await this.reload();
    } catch (e) {
      this.later(e);
      throw e;
    }
    this.stop();
    this.delayMs = this.firstMs;
  }

  /** Stops a pending retry (shutdown). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private later(e: unknown): void {
    if (this.timer) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.delayMs * 2, this.maxMs);
    this.logger.warn(`${this.name} reload failed: ${errorMessage(e)}; trying again in ${delay} ms`);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.run().catch(() => undefined);
    }, delay);
    this.timer.unref();
  }
}
