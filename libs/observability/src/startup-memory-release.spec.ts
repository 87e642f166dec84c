import { getHeapSpaceStatistics } from 'node:v8';
import { GIVE_UP_AFTER_SECONDS, MemoryReleasePort, MemoryReleaseResult, QUIET_SECONDS, StartupMemoryRelease, lowMemoryGc } from './startup-memory-release';

/** A port whose event loop is busy for the shares given, one per second, then quiet. */
function fakePort(shares: number[], reduce: () => Promise<boolean> = async () => true): MemoryReleasePort & { reductions: number } {
  let rss = 150;
  const port = {
    reductions: 0,
    busyShare: () => shares.shift() ?? 0,
    rss: () => rss,
    reduce: async () => {
      port.reductions++;
      const ok = await reduce();
      rss = 120;
      return ok;
    },
  };
  return port;
}

async function run(port: MemoryReleasePort, seconds: number): Promise<MemoryReleaseResult[]> {
  const results: MemoryReleaseResult[] = [];
  const release = new StartupMemoryRelease(port, (r) => results.push(r));
  for (let i = 0; i < seconds; i++) await release.tick();
  return results;
}

const youngGenerationBytes = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

describe('StartupMemoryRelease', () => {
  it('releases once, after QUIET_SECONDS quiet seconds in a row, and reports the RSS before and after', async () => {
    const port = fakePort([0.9, 0.01, 0.5, 0.01, 0.02]);
    const results = await run(port, 4 + QUIET_SECONDS + 10);
    expect(port.reductions).toBe(1);
    expect(results).toEqual([{ released: true, rssBefore: 150, rssAfter: 120, ms: expect.any(Number) }]);
  });

  it('does nothing while the event loop stays busy, and gives up (reporting it) after GIVE_UP_AFTER_SECONDS', async () => {
    const port = fakePort(Array<number>(GIVE_UP_AFTER_SECONDS + 50).fill(0.2));
    const results = await run(port, GIVE_UP_AFTER_SECONDS + 20);
    expect(port.reductions).toBe(0);
    expect(results).toEqual([{ released: false, reason: 'busy' }]);
  });

  it('reports a runtime without the low-memory GC, and a failing one, without trying again', async () => {
    expect(
      await run(
        fakePort([], async () => false),
        QUIET_SECONDS + 5,
      ),
    ).toEqual([{ released: false, reason: 'unavailable' }]);
    const failing = fakePort([], () => Promise.reject(new Error('inspector refused')));
    expect(await run(failing, QUIET_SECONDS + 5)).toEqual([{ released: false, reason: 'failed', detail: 'inspector refused' }]);
    expect(failing.reductions).toBe(1);
  });
});

describe('lowMemoryGc', () => {
  it('shrinks the young generation back to its minimum, and returns (the inspector session is closed after its callback)', async () => {
    // Objects that survive scavenges make V8 grow the young generation, as start-up does.
    let kept: { i: number; a: number[] }[] | null = [];
    for (let i = 0; i < 400_000; i++) kept.push({ i, a: [i] });
    expect(youngGenerationBytes()).toBeGreaterThan(4 * 2 ** 20);
    kept = null;
    await expect(lowMemoryGc()).resolves.toBe(true);
    expect(youngGenerationBytes()).toBeLessThanOrEqual(2 * 2 ** 20);
    // A second call works too: the first session was disconnected, not left hanging.
    await expect(lowMemoryGc()).resolves.toBe(true);
  });
});
