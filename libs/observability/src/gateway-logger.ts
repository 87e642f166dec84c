import { ConsoleLogger, ConsoleLoggerOptions, LogLevel } from '@nestjs/common';
import { CorrelatedLine } from './correlation';

/**
 * Nest's console logger, either pretty or one JSON object per line (`json`). JSON lines also name
 * the gateway, and carry a `correlationId` field when the line was logged as a CorrelatedLine
 * (`correlated(text, id)`): the id is passed explicitly by code that has the request, never taken
 * from async context.
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
    const line = message instanceof CorrelatedLine ? message : undefined;
    const base = super.getJsonLogObject(line ? line.toString() : message, options);
    return { ...base, time: new Date(base.timestamp).toISOString(), gateway: this.gateway, ...(line?.correlationId ? { correlationId: line.correlationId } : {}) };
  }

  protected override stringifyMessage(message: unknown, logLevel: LogLevel): string {
    return String(super.stringifyMessage(message instanceof CorrelatedLine ? message.toString() : message, logLevel));
  }
}
