import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { z } from 'zod';
import { isTooLarge, tooLarge } from './http-input';
import { QUERY_SCHEMA_METADATA, ValidationException, assertStorableText, parseQuery, type ParsedQuery } from '@tongban/common';

// C0 controls and DEL: no identifier of ours holds one, and a log line or a header must never get one.
const hasControl = (s: string): boolean => [...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

/**
 * Checks what the router hands every HTTP handler besides the body's content, after AccessGuard: an
 * oversized body is answered 413 here (see limitedBodyParser), path
 * parameters hold no control character, NUL or unpaired surrogate, and the query string passes the
 * handler's @ValidQuery schema (none: no parameter at all), read from the router's own parse of it
 * (never the raw URL). `req.query` is replaced by the checked values, so `@Query()` never sees a repeated key or an unparsed number.
 */
@Injectable()
export class InputGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(ctx: ExecutionContext): boolean {
    if (ctx.getType() !== 'http') return true;
    const req = ctx.switchToHttp().getRequest<{ params?: Record<string, string>; query?: unknown; body?: unknown }>();
    if (isTooLarge(req.body)) throw tooLarge(req.body);
    for (const [name, value] of Object.entries(req.params ?? {})) {
      if (hasControl(value)) throw new ValidationException(name, 'STORABLE_TEXT', `${name}: must not contain control characters`);
      assertStorableText(value, name);
    }
    const schema = this.reflector.get<z.ZodObject | undefined>(QUERY_SCHEMA_METADATA, ctx.getHandler());
    req.query = parseQuery(schema, req.query as ParsedQuery | undefined);
    return true;
  }
}
