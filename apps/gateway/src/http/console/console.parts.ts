import { Provider, Type } from '@nestjs/common';
import { CONSOLE_SESSION_OPTIONS, ConsoleSessionOptions, ConsoleSessions } from '@tongban/access';
import { GatewayConfig } from '@tongban/config';
import { ConsoleAssets } from './console-assets';
import { ConsoleAssetsController } from './console-assets.controller';
import { ConsoleSessionController } from './console-session.controller';

/**
 * The admin console's part of the gateway (docs/operations.md §20): its files, its session routes
 * and, through ConsoleSessions, session cookies in AccessGuard. With TONGBAN_CONSOLE_ENABLED=false
 * none of it exists: /console answers 404 and a session cookie authenticates nothing.
 */
export function consoleParts(config: GatewayConfig): { controllers: Type[]; providers: Provider[] } {
  if (!config.console.enabled) return { controllers: [], providers: [] };
  const c = config.console;
  return {
    controllers: [ConsoleSessionController, ConsoleAssetsController],
    providers: [
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
