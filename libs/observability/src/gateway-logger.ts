import { ConsoleLogger, ConsoleLoggerOptions, LogLevel } from '@nestjs/common';
import { currentCorrelationId } from './correlation';

/**
 * Nest's console logger, either pretty or one JSON object per line (`json`). JSON lines also name
 * the gateway and carry the correlation id of the request being handled, when there is one.
 * What is logged is unchanged: log messages never hold names or ID numbers (see libs/common masking).
 */
export class GatewayLogger extends ConsoleLogger {
  constructor(
    private readonly gateway: string,
    format: 'json' | 'pretty',
    logLevels: LogLevel[],
  ) {
    const options: ConsoleLoggerOptions = format === 'json' ? { json: true, colors: false, compact: true, logLevels } : { prefix: `tongban-${gateway}`, timestamp: true, logLevels };
    super(options);
  }

  protected override getJsonLogObject(message: unknown, options: { context: string; logLevel: LogLevel; writeStreamType?: 'stdout' | 'stderr'; errorStack?: unknown }) {
    const base = super.getJsonLogObject(message, options);
    const correlationId = currentCorrelationId();
    return { ...base, time: new Date(base.timestamp).toISOString(), gateway: this.gateway, ...(correlationId ? { correlationId } : {}) };
  }
}
