import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ClientRegistry, permits, requirementOf } from '@tongban/access';
import { AuditLog } from '@tongban/audit';
import { DomainException } from '@tongban/common';

/** Which family of tokens a controller takes (documentation; the permission table is in @tongban/access). */
export type Audience = 'api' | 'admin';
export const AUDIENCE = 'tongban:audience';
/** Marks a controller or route as needing a local API client or an administrator. */
export const RequiresToken = (audience: Audience) => SetMetadata(AUDIENCE, audience);

/**
 * Authenticates `Authorization: Bearer …` through the client registry and applies the permission
 * table (scope for provincial systems, role for administrators); names the caller for audit.
 */
@Injectable()
export class ApiTokenGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly clients: ClientRegistry,
    private readonly audit: AuditLog,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const audience = this.reflector.getAllAndOverride<Audience | undefined>(AUDIENCE, [ctx.getHandler(), ctx.getClass()]);
    if (!audience) return true;
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; method: string; url: string; caller?: string }>();
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(req.headers.authorization ?? '');
    if (!match) throw new DomainException('UNAUTHENTICATED', 'Authorization: Bearer <token> is required');
    const who = this.clients.authenticate(match[1]);
    if (!who) throw new DomainException('UNAUTHENTICATED', `${audience === 'admin' ? 'admin' : 'API'} token is not valid`);
    const need = requirementOf(req.method, req.url);
    if (need && !permits(who, need)) {
      const what = 'scope' in need ? `scope ${need.scope}` : `role ${need.roles.join(' or ')}`;
      this.audit.record({
        event: 'access.denied',
        actor: who.name,
        subject: `${req.method} ${req.url.split('?')[0]}`.slice(0, 256),
        outcome: 'REFUSED',
        reason: 'scope' in need ? need.scope : 'role',
      });
      throw new DomainException('FORBIDDEN', `${who.name} lacks ${what}`);
    }
    req.caller = who.name;
    return true;
  }
}
