import { ClientRegistry } from '@tongban/access';
import { CatalogueStore } from '@tongban/catalogue';
import { GatewayConfig } from '@tongban/config';
import { KeyStore } from '@tongban/keys';
import { TrustStore } from '@tongban/trust';
import { AdminStateReload } from './admin-state-reload';

/** Four stores whose refresh() the test finishes by hand; `started` counts reloads begun. */
function stores() {
  const pending: (() => void)[] = [];
  let started = 0;
  const store = (first: boolean) => ({
    refresh: () =>
      new Promise<void>((resolve) => {
        if (first) started++;
        pending.push(resolve);
      }),
  });
  return {
    reload: new AdminStateReload(
      { trustRefreshSeconds: 0 } as GatewayConfig,
      store(true) as unknown as TrustStore,
      store(false) as unknown as CatalogueStore,
      store(false) as unknown as KeyStore,
      store(false) as unknown as ClientRegistry,
    ),
    started: () => started,
    /** Finishes every refresh under way and lets the reload's continuation run. */
    finish: async () => {
      for (const r of pending.splice(0)) r();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('AdminStateReload', () => {
  it('runs one reload at a time, and one more after it when asked during it', async () => {
    const s = stores();
    const first = s.reload.request();
    expect(s.started()).toBe(1);
    // Three requests during the first reload (it may have read before their changes committed): one more reload.
    void s.reload.request();
    void s.reload.request();
    void s.reload.request();
    expect(s.started()).toBe(1);
    await s.finish();
    await first;
    expect(s.started()).toBe(2);
    await s.finish();
    expect(s.started()).toBe(2);
    // Idle again: the next request starts at once.
    void s.reload.request();
    expect(s.started()).toBe(3);
    await s.finish();
  });

  it('tries a failed reload again, from 500 ms doubling, until every store has loaded; each store is reloaded every time', async () => {
    jest.useFakeTimers();
    try {
      const calls = { trust: 0, catalogue: 0 };
      let trustFailures = 2;
      const reload = new AdminStateReload(
        { trustRefreshSeconds: 0 } as GatewayConfig,
        {
          refresh: () => {
            calls.trust++;
            return trustFailures-- > 0 ? Promise.reject(new Error('timeout exceeded when trying to connect')) : Promise.resolve();
          },
        } as unknown as TrustStore,
        { refresh: () => Promise.resolve(void calls.catalogue++) } as unknown as CatalogueStore,
        { refresh: () => Promise.resolve() } as unknown as KeyStore,
        { refresh: () => Promise.resolve() } as unknown as ClientRegistry,
      );
      await reload.request();
      expect([calls.trust, reload.retrying]).toEqual([1, true]);
      await jest.advanceTimersByTimeAsync(499);
      expect(calls.trust).toBe(1);
      await jest.advanceTimersByTimeAsync(1);
      expect([calls.trust, reload.retrying]).toEqual([2, true]); // failed again: next in 1 s
      await jest.advanceTimersByTimeAsync(999);
      expect(calls.trust).toBe(2);
      await jest.advanceTimersByTimeAsync(1);
      expect([calls.trust, reload.retrying]).toEqual([3, false]); // loaded: no more retries
      await jest.advanceTimersByTimeAsync(120_000);
      expect(calls).toEqual({ trust: 3, catalogue: 3 });
    } finally {
      jest.useRealTimers();
    }
  });

  it('stops trying at shutdown', async () => {
    jest.useFakeTimers();
    try {
      let calls = 0;
      const failing = { refresh: () => Promise.reject(new Error(`attempt ${++calls}`)) };
      const reload = new AdminStateReload(
        { trustRefreshSeconds: 0 } as GatewayConfig,
        failing as unknown as TrustStore,
        failing as unknown as CatalogueStore,
        failing as unknown as KeyStore,
        failing as unknown as ClientRegistry,
      );
      await reload.request();
      expect(reload.retrying).toBe(true);
      reload.onModuleDestroy();
      await jest.advanceTimersByTimeAsync(120_000);
      expect([calls, reload.retrying]).toEqual([4, false]); // the first reload's four stores, nothing after
    } finally {
      jest.useRealTimers();
    }
  });
});
