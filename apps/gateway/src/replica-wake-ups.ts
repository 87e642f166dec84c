import { Inject, Injectable, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { GatewayConfig } from '@tongban/config';
import { Dispatcher } from '@tongban/delivery';
import { LibrarySource } from '@tongban/licences';
import { MaterialPusher } from '@tongban/materials';
import { WakeSignals } from '@tongban/persistence';
import { WebhookDispatcher } from '@tongban/webhooks';
import { AdminStateReload } from './admin-state-reload';
import { GATEWAY_CONFIG } from './gateway.providers';

/**
 * Replicas on one PostgreSQL database wake each other's workers (docs/operations.md §1): work this
 * replica queued but cannot take at once (every slot busy, or shutting down) is announced with a
 * NOTIFY, and a NOTIFY from another replica runs a round here. A committed change to an admin
 * table (topic `admin`, sent by the database's own trigger, so whichever process wrote it)
 * reloads this process's trust store, keys, catalogue and API clients; a committed licence status
 * change (topic `licences`, the same way) empties the licence library's cache, so no replica answers
 * from a record older than the change. Nothing on SQLite.
 */
@Injectable()
export class ReplicaWakeUps implements OnModuleInit, OnModuleDestroy {
  private readonly signals: WakeSignals;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly dispatcher: Dispatcher,
    private readonly pusher: MaterialPusher,
    private readonly webhooks: WebhookDispatcher,
    private readonly adminState: AdminStateReload,
    @Optional() private readonly library?: LibrarySource,
  ) {
    this.signals = new WakeSignals(config.database);
  }

  async onModuleInit(): Promise<void> {
    if (!this.signals.enabled) return;
    for (const [topic, worker] of [
      ['outbox', this.dispatcher],
      ['materials', this.pusher],
      ['webhooks', this.webhooks],
    ] as const) {
      this.signals.on(topic, () => worker.wake());
      worker.whenFull(() => this.signals.publish(topic));
    }
    this.signals.on('admin', () => void this.adminState.request());
    const library = this.library;
    if (library) this.signals.on('licences', () => library.lookup.forgetAll());
    await this.signals.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.signals.stop();
  }
}
