import { PerformanceObserver, constants } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** V8's GC tracer averages the allocation rate over its last ten GCs (GCTracer's ring buffer, V8 11). */
export const ALLOCATION_HISTORY_GCS = 10;
/** V8's memory reducer looks every 8 s; allow two looks and a margin before falling back. */
export const REDUCER_FIRST_GC_WITHIN_MS = 20_000;
/** V8's memory reducer runs at most three GCs in a row (MemoryReducer::MaxNumberOfGCs); the next one comes 0.5 s or one 8 s look later. */
export const REDUCER_GCS = 3;
export const REDUCER_NEXT_GC_WITHIN_MS = 10_000;

/**
 * The V8 flag that stops the memory reducer after one GC. Without it, once started (after a mark-compact
 * that grew the heap, i.e. after any burst of work), the reducer runs a second full GC unconditionally
 * (MemoryReducer::Step in V8 11: "started_gcs == 1") and a third if the second freed a MiB. Traced in
 * the 32-gateway simulation (docs/performance.md, "Twelfth session"): after the trust phase the second
 * freed 0.2 of 47.5 MiB and cost as much CPU as the first (≈ 60–120 ms, mostly concurrent marking).
 */
export const MEMORY_REDUCER_SINGLE_GC = '--memory-reducer-single-gc';
let reducerGcs = REDUCER_GCS;

/** Makes V8's memory reducer stop after one GC (process-wide, from now on); the handover then waits for one. */
export function memoryReducerSingleGc(): void {
  setFlagsFromString(MEMORY_REDUCER_SINGLE_GC);
  reducerGcs = 1;
}

type RuntimeGc = (options?: { type: 'minor' }) => void;

/** The `gc` function of a fresh context (the flag exposes it to contexts created after it is set; the main context stays without it). */
export function runtimeGc(): RuntimeGc | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as RuntimeGc;
    setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? gc : null;
  } catch {
    return null;
  }
}

/**
 * Replaces the allocation-rate history V8's memory reducer reads with quiet samples: one scavenge
 * (a few ms, less once the young generation is empty) every `gapMs`, ALLOCATION_HISTORY_GCS + 1
 * times. Start-up's allocations otherwise make the reducer read "high allocation rate" for ~30–100 s
 * after the process is quiet (docs/performance.md, "Fifth session"). Resolves false when the
 * runtime offers no `gc` to a new context.
 */
export async function flushAllocationHistory(gapMs = 100): Promise<boolean> {
  const gc = runtimeGc();
  if (!gc) return false;
  for (let i = 0; i <= ALLOCATION_HISTORY_GCS; i++) {
    gc({ type: 'minor' });
    await new Promise((r) => setTimeout(r, gapMs).unref());
  }
  return true;
}

/** Resolves true at the next full GC (mark-compact) of this process, false if none comes within `withinMs`. Watches `gc` performance entries; no flag. */
export function awaitMajorGc(withinMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (ok: boolean) => {
      observer.disconnect();
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), withinMs).unref();
    const observer = new PerformanceObserver((list) => {
      if (list.getEntries().some((e) => (e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) finish(true);
    });
    observer.observe({ entryTypes: ['gc'] });
  });
}

/**
 * Lets V8's own memory reducer do its reduction after start-up now rather than ~30–100 s later, all
 * of its GCs together: before each of them (at most REDUCER_GCS) the allocation history is flushed
 * again, since the reducer re-reads the rate before each GC and otherwise may put its second one
 * off by a minute (one GC after memoryReducerSingleGc). Any full GC counts as the reducer's (a
 * `gc` performance entry does not say which GC asked for it). Resolves true once the reducer ran (its GCs are over or it went quiet), false
 * (nothing done by the reducer) when the runtime has no `gc` for a new context or the reducer did
 * not run in time.
 */
export async function handToMemoryReducer(): Promise<boolean> {
  let ran = false;
  for (let i = 0; i < reducerGcs; i++) {
    // Watching starts first: the reducer's look may fall within the flush.
    const gc = awaitMajorGc(i === 0 ? REDUCER_FIRST_GC_WITHIN_MS : REDUCER_NEXT_GC_WITHIN_MS);
    if (!(await flushAllocationHistory())) return ran;
    if (!(await gc)) break;
    ran = true;
  }
  return ran;
}
