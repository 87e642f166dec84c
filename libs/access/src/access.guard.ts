import { CanActivate, ExecutionContext, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuditLog } from '@tongban/audit';
import { DomainException } from '@tongban/common';
import { ACCESS_METADATA, AccessRule } from './access.decorator';
import { permits } from './access-policy';
import { ClientRegistry } from './client-registry.service';

interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
  method: string;
  url: string;
  routeOptions?: { url?: string };
  caller?: string;
}

/**
 * The one gate of the local and admin HTTP APIs (registered as the global guard): it reads the
 * access declaration of the handler the router matched, never the URL text, so no spelling of a
 * path can reach a handler under another handler's rule. A handler without a declaration is
 * refused (the boot check already stops a gateway that has one).
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly logger = new Logger('Access');

  constructor(
    private readonly reflector: Reflector,
    private readonly clients: ClientRegistry,
    private readonly audit: AuditLog,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    // The federation port (gRPC) authenticates peers by mutual TLS and signed envelopes (FederationInbox).
    if (ctx.getType() !== 'http') return true;
    const req = ctx.switchToHttp().getRequest<HttpRequestLike>();
    const route = `${req.method} ${req.routeOptions?.url ?? '(unmatched)'}`;
    const rule = this.reflector.get<AccessRule | undefined>(ACCESS_METADATA, ctx.getHandler());
    if (!rule) {
      this.logger.error(`${route} (${ctx.getClass().name}.${ctx.getHandler().name}) declares no access rule: refused`);
      throw new DomainException('FORBIDDEN', 'this route declares no access rule');
    }
    if (rule.audience === 'public') return true;
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header) : null;
    if (!match) throw new DomainException('UNAUTHENTICATED', 'Authorization: Bearer <token> is required');
    const who = this.clients.authenticate(match[1]);
    if (!who) throw new DomainException('UNAUTHENTICATED', `${rule.audience === 'admin' ? 'admin' : 'API'} token is not valid`);
    if (!permits(who, rule)) {
      const what = rule.audience === 'api' ? `an API client with scope ${rule.scope}` : `an administrator with role ${rule.roles.join(' or ')}`;
      this.audit.record({
        event: 'access.denied',
        actor: who.name,
        subject: route.slice(0, 256),
        outcome: 'REFUSED',
        reason: rule.audience === 'api' ? rule.scope : 'role',
        // The path as sent (percent-encoding and all): shows which spelling was tried.
        details: { path: req.url.split('?')[0].slice(0, 200) },
      });
      throw new DomainException('FORBIDDEN', `${who.name} is not ${what}`);
    }
    req.caller = who.name;
    return true;
  }
}
