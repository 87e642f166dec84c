import { spawn } from 'node:child_process';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import v8 from 'node:v8';
import { getHeapSpaceStatistics } from 'node:v8';
import { ALLOCATION_HISTORY_GCS, MEMORY_REDUCER_SINGLE_GC, awaitMajorGc, flushAllocationHistory, handToMemoryReducer, memoryReducerSingleGc, runtimeGc } from './memory-reducer-handover';

const youngGenerationBytes = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

/** A full GC (the gc extension's `{type: 'major'}` runs a scavenge in Node 20's V8), awaited through its performance entry. */
async function fullGc(): Promise<void> {
  const seen = awaitMajorGc(5_000);
  runtimeGc()!();
  await expect(seen).resolves.toBe(true);
}

/** Allocates like a start-up: objects that survive scavenges (the young generation grows, old space fills), then dropped. */
function startUpLikeAllocation(): void {
  let kept: { i: number; a: number[] }[] | null = [];
  for (let i = 0; i < 400_000; i++) kept.push({ i, a: [i] });
  expect(youngGenerationBytes()).toBeGreaterThan(4 * 2 ** 20);
  kept = null;
}

/** Counts the scavenges from now until `stop()` (gc entries arrive asynchronously: it waits a turn first). */
function countMinorGcs(): { stop(): Promise<number> } {
  let minor = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    async stop() {
      await new Promise<void>((resolve) => setImmediate(resolve));
      observer.disconnect();
      return minor;
    },
  };
}

describe('memory reducer handover', () => {
  it('gives a gc function from a fresh context and leaves the main context without one', () => {
    expect(typeof runtimeGc()).toBe('function');
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });

  it('flushes the allocation history with ALLOCATION_HISTORY_GCS + 1 scavenges', async () => {
    const minor = countMinorGcs();
    await expect(flushAllocationHistory(50)).resolves.toBe(true);
    expect(await minor.stop()).toBeGreaterThanOrEqual(ALLOCATION_HISTORY_GCS + 1);
  });

  it('awaitMajorGc reports false when no full GC comes in time, true at one', async () => {
    await expect(awaitMajorGc(50)).resolves.toBe(false);
    await fullGc();
  });

  it('handToMemoryReducer ends (true when V8 ran its reducer in time, false otherwise) and has flushed the history', async () => {
    startUpLikeAllocation();
    await fullGc();
    const minor = countMinorGcs();
    await expect(handToMemoryReducer()).resolves.toEqual(expect.any(Boolean));
    expect(await minor.stop()).toBeGreaterThanOrEqual(ALLOCATION_HISTORY_GCS + 1);
    // Whether V8's reducer runs within the time given depends on its own heuristics (allocation rate
    // against GC speed, both read on this machine); docs/performance.md "Fifth session" has figures.
  }, 60_000);
});

/**
 * Runs a Node process that allocates like a start-up (a mark-compact that grows the heap starts V8's
 * memory reducer), with `flags` set at run time as the gateway sets them, and V8's trace of the reducer;
 * resolves with what the reducer said after its first GC: "done" or "will do more".
 */
function reducerAfterFirstGc(flags: string[]): Promise<string> {
  const script = `for (const f of JSON.parse(process.argv[1])) require('node:v8').setFlagsFromString(f);
let kept = []; for (let i = 0; i < 200000; i++) kept.push({ i }); kept = null;
setTimeout(() => {}, 60000);`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--trace-gc-verbose', '--gc-memory-reducer-start-delay-ms=300', '-e', script, JSON.stringify(flags)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Memory reducer: finished GC #1 \((done|will do more)\)/.exec(out);
      if (m) {
        child.kill();
        resolve(m[1]);
      }
    });
    child.once('exit', () => reject(new Error(`the reducer ran no GC:\n${out.slice(-2000)}`)));
  });
}

describe('memory reducer: one GC', () => {
  it('sets V8 flag MEMORY_REDUCER_SINGLE_GC', () => {
    const set = jest.spyOn(v8, 'setFlagsFromString').mockImplementation(() => undefined);
    try {
      memoryReducerSingleGc();
      expect(set).toHaveBeenCalledWith(MEMORY_REDUCER_SINGLE_GC);
    } finally {
      set.mockRestore();
    }
  });

  it("with the flag V8's reducer stops after its first GC; without it, it goes on to a second", async () => {
    const [single, standard] = await Promise.all([reducerAfterFirstGc([MEMORY_REDUCER_SINGLE_GC]), reducerAfterFirstGc([])]);
    expect(single).toBe('done');
    expect(standard).toBe('will do more');
  }, 60_000);
});
