import { Session } from 'node:inspector';
import { EventLoopUtilization, performance } from 'node:perf_hooks';

/** What the start-up memory release needs from the process; tests replace it. */
export interface MemoryReleasePort {
  /** Share (0–1) of the time since the previous call that the event loop was busy. */
  busyShare(): number;
  /** Resident set size in bytes. */
  rss(): number;
  /** One memory-reducing full GC; resolves false when the runtime offers none (Node built without the inspector). */
  reduce(): Promise<boolean>;
}

/** Outcome of a release, for the log line. */
export type MemoryReleaseResult = { released: true; rssBefore: number; rssAfter: number; ms: number } | { released: false; reason: 'busy' | 'unavailable' | 'failed'; detail?: string };

/** Quiet seconds in a row before the release; a busy first few minutes give up (V8's own reducer acts after load). */
export const QUIET_SECONDS = 3;
export const QUIET_BUSY_SHARE = 0.05;
export const GIVE_UP_AFTER_SECONDS = 300;

/**
 * Hands back the memory a gateway kept from its start-up, once it is first quiet: V8 keeps the young
 * generation at the size start-up grew it to (32 MiB) and the garbage start-up left in old space,
 * and its memory reducer counts start-up's allocations as a high allocation rate for ~100 s, so an
 * idle gateway sat at ~155 MiB RSS instead of ~120 MiB (docs/performance.md, "Fourth session").
 * One low-memory GC (what V8's memory reducer does later anyway) after QUIET_SECONDS quiet seconds
 * in a row; at most once per process. The young generation grows again under load as before (no
 * heap flag changes).
 */
export class StartupMemoryRelease {
  private timer: NodeJS.Timeout | null = null;
  private quiet = 0;
  private seconds = 0;
  private done = false;

  constructor(
    private readonly port: MemoryReleasePort,
    private readonly report: (result: MemoryReleaseResult) => void,
  ) {}

  /** Starts looking once a second (the timer never keeps the process alive). */
  start(): void {
    if (this.timer || this.done) return;
    this.port.busyShare();
    this.timer = setInterval(() => void this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One second's look (called by the timer; exported for tests). */
  async tick(): Promise<void> {
    if (this.done) return;
    this.seconds++;
    this.quiet = this.port.busyShare() < QUIET_BUSY_SHARE ? this.quiet + 1 : 0;
    if (this.quiet < QUIET_SECONDS) {
      if (this.seconds >= GIVE_UP_AFTER_SECONDS) this.finish({ released: false, reason: 'busy' });
      return;
    }
    this.done = true;
    this.stop();
    const rssBefore = this.port.rss();
    const t = performance.now();
    try {
      const ok = await this.port.reduce();
      this.finish(ok ? { released: true, rssBefore, rssAfter: this.port.rss(), ms: performance.now() - t } : { released: false, reason: 'unavailable' });
    } catch (e) {
      this.finish({ released: false, reason: 'failed', detail: e instanceof Error ? e.message : String(e) });
    }
  }

  private finish(result: MemoryReleaseResult): void {
    this.done = true;
    this.stop();
    this.report(result);
  }
}

/** The process's own port: event-loop utilisation, RSS, and V8's low-memory GC through an in-process inspector session. */
export function processMemoryReleasePort(): MemoryReleasePort {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    busyShare() {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, last);
      last = now;
      return delta.utilization;
    },
    rss: () => process.memoryUsage.rss(),
    reduce: lowMemoryGc,
  };
}

/**
 * V8's low-memory notification (full GCs that shrink the young generation and compact old space):
 * the inspector's HeapProfiler.collectGarbage calls it, and an in-process session needs no flag and
 * opens no port. Node 20's `gc()` extension (--expose-gc) has no memory-reducing variant.
 */
export function lowMemoryGc(): Promise<boolean> {
  let session: Session;
  try {
    session = new Session();
    session.connect();
  } catch {
    return Promise.resolve(false); // ERR_INSPECTOR_NOT_AVAILABLE: a Node built without the inspector
  }
  return new Promise((resolve, reject) => {
    session.post('HeapProfiler.collectGarbage', (err) => {
      // Disconnecting inside the session's own callback deadlocks the main thread (Node 20): after it.
      setImmediate(() => {
        session.disconnect();
        if (err) reject(err);
        else resolve(true);
      });
    });
  });
}
