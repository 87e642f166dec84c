import { CanActivate, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { timingSafeEqual } from 'node:crypto';
import { DomainException } from '@tongban/common';
import { GatewayConfig } from '@tongban/config';
import { GATEWAY_CONFIG } from '../gateway.providers';

/** Which bearer token a route takes. */
export type Audience = 'api' | 'admin';
export const AUDIENCE = 'tongban:audience';
/** Marks a controller or route as needing the local API token or the admin token. */
export const RequiresToken = (audience: Audience) => SetMetadata(AUDIENCE, audience);

/** Checks `Authorization: Bearer …` against configured tokens (constant-time) and names the caller. */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  private readonly api: { name: string; token: Buffer }[];
  private readonly admin: Buffer;

  constructor(
    private readonly reflector: Reflector,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    this.api = config.apiClients.map((c) => ({ name: c.name, token: Buffer.from(c.token) }));
    this.admin = Buffer.from(config.adminToken);
  }

  canActivate(ctx: ExecutionContext): boolean {
    const audience = this.reflector.getAllAndOverride<Audience | undefined>(AUDIENCE, [ctx.getHandler(), ctx.getClass()]);
    if (!audience) return true;
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; caller?: string }>();
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.headers.authorization ?? '');
    if (!match) throw new DomainException('UNAUTHENTICATED', 'Authorization: Bearer <token> is required');
    const presented = Buffer.from(match[1]);
    if (audience === 'admin') {
      if (!same(presented, this.admin)) throw new DomainException('UNAUTHENTICATED', 'admin token is not valid');
      req.caller = 'admin';
      return true;
    }
    const client = this.api.find((c) => same(presented, c.token));
    if (!client) throw new DomainException('UNAUTHENTICATED', 'API token is not valid');
    req.caller = client.name;
    return true;
  }
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
