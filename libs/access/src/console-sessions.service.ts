import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DataSource, LessThanOrEqual, Repository } from 'typeorm';
import { AuditLog } from '@tongban/audit';
import { Clock, DomainException, ValidationException, errorMessage } from '@tongban/common';
import { Principal, Role } from './access-policy';
import { ClientRegistry } from './client-registry.service';
import { ConsoleSessionEntity } from './console-session.entity';
import { SignInLimiter } from './sign-in-limiter';

/** Name of the console session cookie (HttpOnly, SameSite=Strict, Path=/). */
export const CONSOLE_COOKIE = 'tongban_console';
/** Header that must carry the session's CSRF token on every cookie-authenticated state change. */
export const CSRF_HEADER = 'x-csrf-token';

export interface ConsoleSessionOptions {
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  signInFailuresPerIpPerMinute: number;
  signInFailuresPerMinute: number;
}
export const CONSOLE_SESSION_OPTIONS = Symbol('CONSOLE_SESSION_OPTIONS');

/** What `POST` and `GET /console/api/session` answer. */
export interface ConsoleSessionView {
  client: { id: string; name: string; role: Role };
  csrfToken: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
}

/** A live session found from its cookie. */
export interface ActiveSession {
  principal: Principal;
  idHash: string;
  view: ConsoleSessionView;
}

const SWEEP_EVERY_MS = 60_000;
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const idHashOf = (id: string) => sha256(`tongban-console-session:${id}`).toString('hex');
/** The CSRF token is derived from the session id (one-way): nothing more to store, nothing to leak. */
const csrfOf = (id: string) => sha256(`tongban-console-csrf:${id}`).toString('base64url');

/**
 * Admin console sessions (issue 13): an ADMIN client signs in with its token and gets an opaque
 * session id (cookie) that stands for that client until sign-out, idleTimeoutMs without use or
 * absoluteTimeoutMs after sign-in. Sessions are rows of the shared database (replicas agree; only a
 * hash of the id is stored); the principal is looked up again on every use, so a disabled client's
 * sessions end at once. Sign-in failures are limited per source address and in all (SignInLimiter).
 */
@Injectable()
export class ConsoleSessions implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('ConsoleSessions');
  private readonly repo: Repository<ConsoleSessionEntity>;
  private readonly limiter: SignInLimiter;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    ds: DataSource,
    private readonly clock: Clock,
    private readonly clients: ClientRegistry,
    private readonly audit: AuditLog,
    @Inject(CONSOLE_SESSION_OPTIONS) private readonly options: ConsoleSessionOptions,
  ) {
    this.repo = ds.getRepository(ConsoleSessionEntity);
    this.limiter = new SignInLimiter(options.signInFailuresPerIpPerMinute, options.signInFailuresPerMinute, () => this.clock.now().getTime());
  }

  onModuleInit(): void {
    this.timer = setInterval(() => void this.sweep().catch((e: unknown) => this.logger.warn(`sweep failed: ${errorMessage(e)}`)), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Signs `token`'s ADMIN client in from `ip`: the new session id (for the cookie) and its view. */
  async signIn(body: unknown, ip: string): Promise<{ sessionId: string; view: ConsoleSessionView }> {
    const token = (body as { token?: unknown } | null)?.token;
    if (typeof token !== 'string' || !/^[\x21-\x7e]{1,512}$/.test(token)) throw new ValidationException('token', 'TOKEN', 'token must be the admin client token (1–512 printable characters)');
    const wait = this.limiter.retryAfterSeconds(ip);
    if (wait > 0) throw new DomainException('RATE_LIMITED', `too many failed sign-ins; try again in ${wait} s`, { retryAfterSeconds: wait });
    const who = this.clients.authenticate(token);
    if (!who || who.kind !== 'ADMIN' || !who.role) {
      this.limiter.failed(ip);
      await this.audit.recordNow({ event: 'console.session.refused', actor: 'anonymous', subject: 'session', outcome: 'REFUSED', reason: 'token', details: { ip: ip.slice(0, 64), via: 'console' } });
      throw new DomainException('UNAUTHENTICATED', 'not the token of an enabled admin client');
    }
    const sessionId = randomBytes(32).toString('base64url');
    const now = this.clock.now();
    const row: ConsoleSessionEntity = {
      idHash: idHashOf(sessionId),
      clientId: who.id,
      clientName: who.name,
      sourceIp: ip.slice(0, 64),
      createdAt: now,
      lastSeenAt: now,
      absoluteExpiresAt: new Date(now.getTime() + this.options.absoluteTimeoutMs),
    };
    await this.repo.insert(row);
    await this.audit.recordNow({
      event: 'console.session.created',
      actor: who.name,
      subject: 'session',
      outcome: 'OK',
      details: { clientId: who.id, role: who.role, ip: row.sourceIp, via: 'console' },
    });
    return { sessionId, view: this.viewOf(sessionId, who, row) };
  }

  /** The live session of cookie value `sessionId` (its use counts against the idle timeout); undefined if none. */
  async authenticate(sessionId: string): Promise<ActiveSession | undefined> {
    if (!SESSION_ID.test(sessionId)) return undefined;
    const idHash = idHashOf(sessionId);
    const row = await this.repo.findOneBy({ idHash });
    if (!row) return undefined;
    const now = this.clock.now().getTime();
    const principal = this.clients.byClientId(row.clientId);
    const ended =
      now >= row.absoluteExpiresAt.getTime()
        ? 'absolute'
        : now >= row.lastSeenAt.getTime() + this.options.idleTimeoutMs
          ? 'idle'
          : !principal || principal.kind !== 'ADMIN' || !principal.role
            ? 'client_disabled'
            : null;
    if (ended || !principal) {
      await this.end(row, 'console.session.expired', ended ?? 'client_disabled');
      return undefined;
    }
    // Written at most every tenth of the idle timeout (≤ 1 min): reads do not each cost a write.
    if (now - row.lastSeenAt.getTime() >= Math.min(60_000, this.options.idleTimeoutMs / 10)) {
      row.lastSeenAt = new Date(now);
      await this.repo.update({ idHash }, { lastSeenAt: row.lastSeenAt });
    }
    return { principal, idHash, view: this.viewOf(sessionId, principal, row) };
  }

  /** Whether `header` is the CSRF token of `session` (compared in constant time). */
  csrfMatches(session: ActiveSession, header: string | string[] | undefined): boolean {
    if (typeof header !== 'string') return false;
    const want = Buffer.from(session.view.csrfToken);
    const got = Buffer.from(header);
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /** Ends `session` (sign-out). */
  async signOut(session: ActiveSession): Promise<void> {
    const row = await this.repo.findOneBy({ idHash: session.idHash });
    if (row) await this.end(row, 'console.session.ended');
  }

  /** Deletes sessions past either timeout, auditing each once (whichever replica deletes it). */
  async sweep(): Promise<number> {
    const now = this.clock.now().getTime();
    const candidates = await this.repo.find({ where: [{ absoluteExpiresAt: LessThanOrEqual(new Date(now)) }, { lastSeenAt: LessThanOrEqual(new Date(now - this.options.idleTimeoutMs)) }] });
    let n = 0;
    for (const row of candidates) n += await this.end(row, 'console.session.expired', now >= row.absoluteExpiresAt.getTime() ? 'absolute' : 'idle');
    return n;
  }

  /** Deletes the row and audits it if this call deleted it (another replica may have been first). */
  private async end(row: ConsoleSessionEntity, event: 'console.session.ended' | 'console.session.expired', reason?: string): Promise<number> {
    const result = await this.repo.delete({ idHash: row.idHash });
    if (!result.affected) return 0;
    await this.audit.recordNow({ event, actor: row.clientName, subject: 'session', outcome: 'OK', ...(reason ? { reason } : {}), details: { clientId: row.clientId, via: 'console' } });
    return 1;
  }

  private viewOf(sessionId: string, who: Principal, row: ConsoleSessionEntity): ConsoleSessionView {
    const idle = Math.min(row.lastSeenAt.getTime() + this.options.idleTimeoutMs, row.absoluteExpiresAt.getTime());
    return {
      client: { id: who.id, name: who.name, role: who.role as Role },
      csrfToken: csrfOf(sessionId),
      idleExpiresAt: new Date(idle).toISOString(),
      absoluteExpiresAt: row.absoluteExpiresAt.toISOString(),
    };
  }
}
