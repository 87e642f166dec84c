import { getHeapSpaceStatistics } from 'node:v8';
import { MemoryReleasePort, ReleasedBy, lowMemoryGc, releaseStartupMemory } from './startup-memory-release';

/** A port whose RSS falls when reduced; counts reductions and background settles. */
function fakePort(reduce: () => Promise<ReleasedBy | false> = async () => 'low-memory GC'): MemoryReleasePort & { reductions: number; settles: number } {
  let rss = 150;
  const port = {
    reductions: 0,
    settles: 0,
    rss: () => rss,
    reduce: async () => {
      port.reductions++;
      const by = await reduce();
      rss = 120;
      return by;
    },
    settle: async () => {
      port.settles++;
    },
  };
  return port;
}

const youngGenerationBytes = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

describe('releaseStartupMemory', () => {
  it('releases once, reports the RSS before and after, and leaves the follow-up to the background', async () => {
    const port = fakePort();
    await expect(releaseStartupMemory(port)).resolves.toEqual({ released: true, by: 'low-memory GC', rssBefore: 150, rssAfter: 120, ms: expect.any(Number) });
    expect(port.reductions).toBe(1);
    expect(port.settles).toBe(1);
  });

  it('reports a runtime without the low-memory GC, and a failing one, without a follow-up', async () => {
    const none = fakePort(async () => false);
    await expect(releaseStartupMemory(none)).resolves.toEqual({ released: false, reason: 'unavailable' });
    const failing = fakePort(() => Promise.reject(new Error('inspector refused')));
    await expect(releaseStartupMemory(failing)).resolves.toEqual({ released: false, reason: 'failed', detail: 'inspector refused' });
    expect(none.settles + failing.settles).toBe(0);
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
