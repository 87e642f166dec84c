import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { ClientRegistry } from '@tongban/access';
import { CatalogueStore } from '@tongban/catalogue';
import { GatewayConfig } from '@tongban/config';
import { KeyStore } from '@tongban/keys';
import { TrustStore } from '@tongban/trust';
import { GATEWAY_CONFIG } from './gateway.providers';

/**
 * Reloads what this process keeps in memory of the admin tables (trust store, catalogue and
 * calendar, signing keys, API clients), so that a change made by another replica or by the CLI
 * takes effect here: at once on PostgreSQL, where a trigger on those tables notifies every replica
 * when the change commits (migration AdminChangeNotify1796400000000, heard by ReplicaWakeUps), and
 * every `TONGBAN_TRUST_REFRESH_S` seconds as the fallback (SQLite, a lost notification).
 * One reload at a time; a request during one runs one more after it, since the running one may
 * have read before the change committed. Each store reloads on its own, and one whose read fails
 * tries again by itself until it succeeds (RetriedReload: the notification that asked is used up,
 * and with `TONGBAN_TRUST_REFRESH_S=0` nothing else would bring a revoked key or a suspended peer
 * into this process).
 */
@Injectable()
export class AdminStateReload implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('AdminStateReload');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly trust: TrustStore,
    private readonly catalogue: CatalogueStore,
    private readonly keys: KeyStore,
    private readonly clients: ClientRegistry,
  ) {}

  onModuleInit(): void {
    if (this.config.trustRefreshSeconds <= 0) return;
    this.timer = setInterval(() => this.request(), this.config.trustRefreshSeconds * 1000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Reloads now, or, during a reload, once more after it. Resolves when the reload under way (or
   * the one it started) is done, not the follow-up: a caller that must see its own change reloads
   * its store itself, as every admin write here already does.
   */
  request(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.reload().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        void this.request();
      }
    });
    return this.running;
  }

  private async reload(): Promise<void> {
    // Each store on its own: one that fails (and retries by itself) does not hold the others back.
    const stores = { trust: this.trust, catalogue: this.catalogue, keys: this.keys, clients: this.clients };
    const results = await Promise.allSettled(Object.values(stores).map((s) => s.refresh()));
    const failed = Object.keys(stores).filter((_, i) => results[i].status === 'rejected');
    if (failed.length) this.logger.warn(`reload failed for ${failed.join(', ')}; each tries again by itself`);
  }
}
