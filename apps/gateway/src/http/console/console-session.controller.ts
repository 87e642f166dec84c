import { Body, Controller, Delete, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiCookieAuth, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Access, ActiveSession, CONSOLE_COOKIE, ConsoleSessionView, ConsoleSessions } from '@tongban/access';
import { DomainException } from '@tongban/common';
import { GatewayConfig } from '@tongban/config';
import { ApiErrors } from '@tongban/observability';
import { GATEWAY_CONFIG } from '../../gateway.providers';

interface SessionRequest {
  ip: string;
  raw: { socket: { encrypted?: boolean } };
  consoleSession?: ActiveSession;
}
interface CookieReply {
  header(name: string, value: string): unknown;
}

const SESSION_EXAMPLE: ConsoleSessionView = {
  client: { id: '6f1c2a9e-0d7b-4a51-9c33-2f0e5b7d1a44', name: 'ops-zhang', role: 'operator' },
  csrfToken: 'hT3qf0cX1Q8m1Yb2sKJm8q4y3o2W9rN1cD5eF6gH7iA',
  idleExpiresAt: '2026-12-03T09:15:00.000Z',
  absoluteExpiresAt: '2026-12-03T17:00:00.000Z',
};

/**
 * Sign-in and sign-out of the admin console (docs/operations.md §Admin console). The session is a
 * cookie standing for one ADMIN client; AccessGuard accepts it on every /admin route under that
 * client's role and requires the CSRF token (`X-CSRF-Token`) on every state change.
 */
@ApiTags('console')
@Controller('console/api/session')
export class ConsoleSessionController {
  constructor(
    private readonly sessions: ConsoleSessions,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Access.public()
  @Post()
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Sign in to the console with an ADMIN client token: sets the session cookie (HttpOnly, SameSite=Strict, Path=/; Secure over TLS). Failed sign-ins are limited per source address and in all (429 RATE_LIMITED with Retry-After)',
  })
  @ApiBody({ schema: { type: 'object', required: ['token'], properties: { token: { type: 'string', description: 'The admin client token (TONGBAN_ADMIN_TOKEN or an ADMIN client)' } } } })
  @ApiResponse({ status: 200, example: SESSION_EXAMPLE, headers: { 'Set-Cookie': { description: `${CONSOLE_COOKIE}=<opaque>; HttpOnly; SameSite=Strict; Path=/`, schema: { type: 'string' } } } })
  @ApiErrors(400, 401, 429)
  async signIn(@Body() body: unknown, @Req() req: SessionRequest, @Res({ passthrough: true }) reply: CookieReply): Promise<ConsoleSessionView> {
    const { sessionId, view } = await this.sessions.signIn(body, req.ip);
    reply.header('set-cookie', this.cookie(req, sessionId, Math.floor(this.config.console.absoluteTimeoutMs / 1000)));
    reply.header('cache-control', 'no-store');
    return view;
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Get()
  @ApiCookieAuth('console')
  @ApiOperation({ summary: 'The current console session (same body as sign-in, same CSRF token); 404 when the request carries a bearer token instead of a session' })
  @ApiResponse({ status: 200, example: SESSION_EXAMPLE })
  @ApiErrors(401, 404)
  current(@Req() req: SessionRequest, @Res({ passthrough: true }) reply: CookieReply): ConsoleSessionView {
    reply.header('cache-control', 'no-store');
    return this.sessionOf(req).view;
  }

  @Access.roles('admin', 'operator', 'auditor')
  @Delete()
  @HttpCode(204)
  @ApiCookieAuth('console')
  @ApiHeader({ name: 'X-CSRF-Token', required: true, description: 'The csrfToken of the session' })
  @ApiOperation({ summary: 'Sign out: the session ends on every replica and the cookie is cleared' })
  @ApiResponse({ status: 204, description: 'Signed out' })
  @ApiErrors(401, 403, 404)
  async signOut(@Req() req: SessionRequest, @Res({ passthrough: true }) reply: CookieReply): Promise<void> {
    await this.sessions.signOut(this.sessionOf(req));
    reply.header('set-cookie', this.cookie(req, '', 0));
  }

  private sessionOf(req: SessionRequest): ActiveSession {
    if (!req.consoleSession) throw new DomainException('NOT_FOUND', 'no console session: this request was authenticated by a bearer token');
    return req.consoleSession;
  }

  /** The session cookie; Secure when this connection is TLS or the console is reached over HTTPS through a proxy (consoleCookieSecure). */
  private cookie(req: SessionRequest, value: string, maxAgeS: number): string {
    const secure = this.config.console.cookieSecure || req.raw.socket.encrypted === true;
    return `${CONSOLE_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
  }
}
