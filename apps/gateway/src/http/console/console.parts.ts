import { Provider, Type } from '@nestjs/common';
import { CONSOLE_SESSION_OPTIONS, ConsoleSessionOptions, ConsoleSessions } from '@tongban/access';
import { GatewayConfig } from '@tongban/config';
import { OutboxAdmin } from '@tongban/delivery';
import { Metrics, MetricsHistory } from '@tongban/observability';
import { Overview } from './overview';
import { OverviewController } from './overview.controller';
import { ConsoleAssets } from './console-assets';
import { ConsoleAssetsController } from './console-assets.controller';
import { ConsoleSessionController } from './console-session.controller';

/**
 * The admin console's part of the gateway (docs/operations.md §20): its files, its session routes
 * and, through ConsoleSessions, session cookies in AccessGuard. With TONGBAN_CONSOLE_ENABLED=false
 * none of it exists: /console answers 404 and a session cookie authenticates nothing.
 */
export function consoleParts(config: GatewayConfig): { controllers: Type[]; providers: Provider[] } {
  // The overview and its history are admin API routes: there with or without the console.
  const overview = {
    controllers: [OverviewController],
    providers: [
      Overview,
      {
        provide: MetricsHistory,
        inject: [Metrics, OutboxAdmin],
        useFactory: async (metrics: Metrics, outbox: OutboxAdmin) => {
          const history = new MetricsHistory(metrics, async () => (await outbox.depth()).filter((d) => d.status === 'PENDING').reduce((n, d) => n + d.count, 0));
          await history.start();
          return history;
        },
      },
    ],
  };
  if (!config.console.enabled) return overview;
  const c = config.console;
  return {
    controllers: [ConsoleSessionController, ConsoleAssetsController, ...overview.controllers],
    providers: [
      ...overview.providers,
      { provide: ConsoleAssets, useFactory: () => new ConsoleAssets(c.dir) },
      {
        provide: CONSOLE_SESSION_OPTIONS,
        useValue: {
          idleTimeoutMs: c.idleTimeoutMs,
          absoluteTimeoutMs: c.absoluteTimeoutMs,
          signInFailuresPerIpPerMinute: c.signInFailuresPerIpPerMinute,
          signInFailuresPerMinute: c.signInFailuresPerMinute,
        } satisfies ConsoleSessionOptions,
      },
      ConsoleSessions,
    ],
  };
}
