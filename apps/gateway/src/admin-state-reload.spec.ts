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

  it('reloads each store on its own: one that fails does not keep the others from loading', async () => {
    const loaded: string[] = [];
    const store = (name: string, fails = false) => ({ refresh: () => (fails ? Promise.reject(new Error('read failed')) : Promise.resolve(void loaded.push(name))) });
    const reload = new AdminStateReload(
      { trustRefreshSeconds: 0 } as GatewayConfig,
      store('trust', true) as unknown as TrustStore,
      store('catalogue') as unknown as CatalogueStore,
      store('keys') as unknown as KeyStore,
      store('clients') as unknown as ClientRegistry,
    );
    await reload.request();
    expect(loaded).toEqual(['catalogue', 'keys', 'clients']);
  });
});
