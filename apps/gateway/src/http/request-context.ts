import { createParamDecorator, ExecutionContext } from '@nestjs/common';

/** The authenticated local caller and the request's correlation id. */
export interface RequestContext {
  caller: string;
  correlationId?: string;
}

/** Injects the RequestContext set by AccessGuard (@tongban/access) and the correlation header. */
export const Ctx = createParamDecorator((_: unknown, ctx: ExecutionContext): RequestContext => {
  const req = ctx.switchToHttp().getRequest<{ caller?: string; headers: Record<string, string | undefined> }>();
  return { caller: req.caller ?? 'anonymous', correlationId: req.headers['x-correlation-id'] };
});
