import { CanActivate, ExecutionContext, Injectable, Logger, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuditLog } from '@tongban/audit';
import { DomainException } from '@tongban/common';
import { ACCESS_METADATA, AccessRule } from './access.decorator';
import { Principal, permits } from './access-policy';
import { ClientRegistry } from './client-registry.service';
import { ActiveSession, CONSOLE_COOKIE, CSRF_HEADER, ConsoleSessions } from './console-sessions.service';

interface HttpRequestLike {
  headers: Record<string, string | string[] | undefined>;
  method: string;
  url: string;
  routeOptions?: { url?: string };
  caller?: string;
  /** Set when the caller was authenticated by a console session cookie. */
  consoleSession?: ActiveSession;
}
interface HttpReplyLike {
  raw: { statusCode: number; once(event: 'finish', fn: () => void): unknown };
}

/** Methods that change state: with a session cookie they need the session's CSRF token. */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The console session id from a Cookie header, if any. */
export function sessionCookie(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === CONSOLE_COOKIE) return part.slice(at + 1).trim();
  }
  return undefined;
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
    /** Absent when the console is turned off: then a session cookie authenticates nothing. */
    @Optional() private readonly sessions?: ConsoleSessions,
  ) {}

  canActivate(ctx: ExecutionContext): boolean | Promise<boolean> {
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
    // A console session stands for its ADMIN client; a request with an Authorization header is
    // decided by that header alone. Either way the same rule decides below (decide).
    const cookie = header === undefined && this.sessions ? sessionCookie(req.headers.cookie) : undefined;
    if (cookie !== undefined) return this.bySession(ctx, req, rule, route, cookie);
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/.exec(header) : null;
    if (!match) throw new DomainException('UNAUTHENTICATED', 'Authorization: Bearer <token> is required');
    const who = this.clients.authenticate(match[1]);
    if (!who) throw new DomainException('UNAUTHENTICATED', `${rule.audience === 'admin' ? 'admin' : 'API'} token is not valid`);
    return this.decide(who, rule, req, route);
  }

  /**
   * A request carrying a console session cookie: the session gives the principal; a state change
   * must also carry the session's CSRF token; then the same decision as for a bearer token. Every
   * state change through a session is audited (`console.action`) with its outcome once answered.
   */
  private async bySession(ctx: ExecutionContext, req: HttpRequestLike, rule: Exclude<AccessRule, { audience: 'public' }>, route: string, cookie: string): Promise<boolean> {
    const session = await this.sessions!.authenticate(cookie);
    if (!session) throw new DomainException('UNAUTHENTICATED', 'the console session is not valid or has expired: sign in again');
    const who = session.principal;
    if (STATE_CHANGING.has(req.method)) {
      const reply = ctx.switchToHttp().getResponse<HttpReplyLike>();
      reply.raw.once('finish', () => {
        const status = reply.raw.statusCode;
        this.audit.record({
          event: 'console.action',
          actor: who.name,
          subject: route.slice(0, 256),
          outcome: status < 400 ? 'OK' : status < 500 ? 'REFUSED' : 'FAILED',
          reason: String(status),
          details: { clientId: who.id, status, via: 'console' }, // subject is the matched route
        });
      });
      if (!this.sessions!.csrfMatches(session, req.headers[CSRF_HEADER])) {
        throw new DomainException('CSRF_TOKEN_INVALID', `a state change with a console session needs the session's CSRF token in ${CSRF_HEADER}`);
      }
    }
    req.consoleSession = session;
    return this.decide(who, rule, req, route);
  }

  /** The one authorisation decision: the matched handler's rule against the principal. */
  private decide(who: Principal, rule: Exclude<AccessRule, { audience: 'public' }>, req: HttpRequestLike, route: string): boolean {
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
