import { Injectable } from '@nestjs/common';

/** Whether the process has begun to shut down (readiness turns 503 from that moment). */
@Injectable()
export class ShutdownState {
  private since: Date | undefined;

  /** Marks the start of shutdown; later calls keep the first time. */
  begin(now = new Date()): void {
    this.since ??= now;
  }

  /** True once shutdown has begun. */
  get shuttingDown(): boolean {
    return this.since !== undefined;
  }
}
