import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import { Observable } from 'rxjs';
import { CORRELATION_HEADER, isValidCorrelationId, withCorrelationId } from './correlation';

interface MetadataLike {
  get(key: string): unknown[];
}

/**
 * Makes the request's correlation id current for everything the handler does (logs, refusals):
 * the HTTP header (already checked by the gateway's onRequest hook) or the gRPC metadata a peer
 * sent. A peer's malformed id is dropped, not repaired: it is not ours to rename.
 */
@Injectable()
export class CorrelationInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    let id: unknown;
    if (ctx.getType() === 'http') id = ctx.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers[CORRELATION_HEADER];
    else if (ctx.getType() === 'rpc') id = ctx.switchToRpc().getContext<MetadataLike | undefined>()?.get?.(CORRELATION_HEADER)?.[0];
    return withCorrelationId(isValidCorrelationId(id) ? id : undefined, () => next.handle());
  }
}
