import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import { handToMemoryReducer } from './memory-reducer-handover';

/** What the start-up memory release needs from the process; tests replace it. */
export interface MemoryReleasePort {
  /** Resident set size in bytes. */
  rss(): number;
  /** Hands start-up's memory back; says how, or false when the runtime offers no way (Node built without the inspector). */
  reduce(): Promise<ReleasedBy | false>;
  /** Afterwards, in the background: lets V8's memory reducer do its own follow-up now (resolves when it has run). */
  settle(): Promise<unknown>;
}

/** V8's low-memory notification (the only way today; a type so that the log line names it). */
export type ReleasedBy = 'low-memory GC';

/** Outcome of a release, for the log line. */
export type MemoryReleaseResult = { released: true; by: ReleasedBy; rssBefore: number; rssAfter: number; ms: number } | { released: false; reason: 'unavailable' | 'failed'; detail?: string };

/**
 * Hands back the memory a gateway kept from its start-up, at the end of start-up, before it reports
 * ready: V8 keeps the young generation at the size start-up grew it to (32 MiB) and the garbage
 * start-up left in old space, and its memory reducer counts start-up's allocations as a high
 * allocation rate for ~100 s, so an idle gateway sat at ~155 MiB RSS instead of ~120 MiB
 * (docs/performance.md, "Fourth session"). One low-memory GC, then (in the background) the
 * allocation history the reducer reads is replaced by quiet samples, so that the reducer's own
 * small follow-up comes within seconds rather than 30–100 s later (memory-reducer-handover; "Fifth
 * session"). Done before ready, the pause never meets traffic and never lands in a later idle
 * period. The young generation grows again under load as before (no heap flag changes).
 */
export async function releaseStartupMemory(port: MemoryReleasePort): Promise<MemoryReleaseResult> {
  const rssBefore = port.rss();
  const t = performance.now();
  try {
    const by = await port.reduce();
    if (!by) return { released: false, reason: 'unavailable' };
    const result: MemoryReleaseResult = { released: true, by, rssBefore, rssAfter: port.rss(), ms: performance.now() - t };
    void port.settle().catch(() => undefined);
    return result;
  } catch (e) {
    return { released: false, reason: 'failed', detail: e instanceof Error ? e.message : String(e) };
  }
}

/** The process's own port: RSS, V8's low-memory GC through an in-process inspector session, and V8's memory reducer. */
export function processMemoryReleasePort(): MemoryReleasePort {
  return {
    rss: () => process.memoryUsage.rss(),
    reduce: async () => ((await lowMemoryGc()) ? 'low-memory GC' : false),
    settle: handToMemoryReducer,
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
