import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import { Metadata, status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { throwError } from 'rxjs';
import { DomainException } from '@tongban/common';
import { asDatabaseFault } from '@tongban/persistence';
import { REFUSAL_METADATA_KEY, RefusalException } from '@tongban/federation';

/**
 * The one table from failures to gRPC statuses: refusals carry their own status, the reason code
 * in `tongban-refusal` metadata and a message starting with it; anything else is INTERNAL with a
 * correlation id, its text kept in our log only.
 */
@Catch()
export class RpcErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('RpcError');

  catch(exception: unknown, _host: ArgumentsHost) {
    return throwError(() => grpcErrorOf(exception, this.logger));
  }
}

/** The gRPC status object for a failure (used by the filter and by handlers that answer by callback). */
export function grpcErrorOf(exception: unknown, logger: Logger): { code: number; message: string; details: string; metadata: Metadata } {
  exception = asDatabaseFault(exception);
  const metadata = new Metadata();
  if (exception instanceof RefusalException) {
    metadata.set(REFUSAL_METADATA_KEY, exception.code);
    return { code: exception.grpcStatus, message: exception.message, details: exception.message, metadata };
  }
  const correlationId = randomUUID();
  metadata.set('x-correlation-id', correlationId);
  // Our database is down or busy: nothing was applied, so the peer may simply retry.
  if (exception instanceof DomainException && exception.code === 'UNAVAILABLE') {
    logger.warn(`[${correlationId}] answered UNAVAILABLE: ${exception.message}`);
    return { code: status.UNAVAILABLE, message: `UNAVAILABLE: ${exception.message}`, details: `UNAVAILABLE: ${exception.message}`, metadata };
  }
  logger.error(`[${correlationId}] ${(exception as Error)?.stack ?? String(exception)}`);
  return { code: status.INTERNAL, message: `internal error (${correlationId})`, details: `internal error (${correlationId})`, metadata };
}
