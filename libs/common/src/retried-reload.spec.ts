import { Logger } from '@nestjs/common';
import { RetriedReload } from './retried-reload';

describe('RetriedReload', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());
  const quiet = { warn: () => undefined } as unknown as Logger;

  it('tells the caller of a failure and tries again, from 500 ms doubling, until a reload succeeds; then it stops', async () => {
    let calls = 0;
    let failures = 3;
    const r = new RetriedReload('store', () => (++calls, failures-- > 0 ? Promise.reject(new Error('read failed')) : Promise.resolve()), quiet);
    await expect(r.run()).rejects.toThrow('read failed');
    for (const [wait, expected] of [
      [499, 1],
      [1, 2],
      [999, 2],
      [1, 3],
      [1999, 3],
      [1, 4],
    ] as const) {
      await jest.advanceTimersByTimeAsync(wait);
      expect(calls).toBe(expected);
    }
    await jest.advanceTimersByTimeAsync(120_000);
    expect(calls).toBe(4);
  });

  it('keeps one retry pending however many callers fail, caps the wait at 30 s, and starts again at 500 ms after a success', async () => {
    let calls = 0;
    let ok = false;
    const r = new RetriedReload('store', () => (++calls, ok ? Promise.resolve() : Promise.reject(new Error('down'))), quiet);
    await Promise.all([r.run(), r.run(), r.run()].map((p) => p.catch(() => undefined)));
    expect(calls).toBe(3);
    await jest.advanceTimersByTimeAsync(500 + 1000 + 2000 + 4000 + 8000 + 16000); // six retries
    expect(calls).toBe(9);
    await jest.advanceTimersByTimeAsync(29_999);
    expect(calls).toBe(9); // capped at 30 s
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toBe(10);
    ok = true;
    await r.run();
    ok = false;
    await r.run().catch(() => undefined);
    await jest.advanceTimersByTimeAsync(500);
    expect(calls).toBe(13);
  });

  it('stop() ends a pending retry', async () => {
    let calls = 0;
    const r = new RetriedReload('store', () => (++calls, Promise.reject(new Error('down'))), quiet);
    await r.run().catch(() => undefined);
    r.stop();
    await jest.advanceTimersByTimeAsync(120_000);
    expect(calls).toBe(1);
  });
});
