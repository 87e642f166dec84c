import { Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditCheckpointEntity, AuditEventEntity, AuditLog } from '@tongban/audit';
import { Clock } from '@tongban/common';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { ApiClientEntity } from './api-client.entity';
import { ClientRegistry } from './client-registry.service';
import { ConsoleSessionEntity } from './console-session.entity';
import { ConsoleSessions } from './console-sessions.service';

class ManualClock extends Clock {
  t = Date.parse('2026-12-03T08:00:00Z');
  now(): Date {
    return new Date(this.t);
  }
}

const IDLE = 15 * 60_000;
const ABSOLUTE = 8 * 3600_000;
const ADMIN_TOKEN = 'bootstrap-admin-token-0123456789';

// Console sessions on a real database (SQLite and PostgreSQL), with a clock the test moves: idle and
// absolute timeouts, a disabled client, sign-out, the sweep, sign-in limits and what is stored.
describeEachDatabase('ConsoleSessions', (fresh) => {
  let ds: DataSource;
  let clock: ManualClock;
  let audit: AuditLog;
  let clients: ClientRegistry;
  let operatorToken: string;
  let operatorId: string;
  let systemToken: string;
  const sessions = (perIp = 3, overall = 5) =>
    new ConsoleSessions(ds, clock, clients, audit, { idleTimeoutMs: IDLE, absoluteTimeoutMs: ABSOLUTE, signInFailuresPerIpPerMinute: perIp, signInFailuresPerMinute: overall });
  const events = async (event: string) => {
    await audit.flush();
    return ds.getRepository(AuditEventEntity).find({ where: { event }, order: { seq: 'ASC' } });
  };

  beforeAll(async () => {
    Logger.overrideLogger(['error']);
    ds = await openDatabase(buildDataSource(fresh(), [AuditEventEntity, AuditCheckpointEntity, ApiClientEntity, ConsoleSessionEntity]));
    clock = new ManualClock();
    audit = new AuditLog(ds, clock);
    clients = new ClientRegistry(ds, clock, audit, { systems: [{ name: 'hall', token: 'system-bootstrap-token-0123' }], adminToken: ADMIN_TOKEN });
    await clients.refresh();
    const op = await clients.create({ kind: 'ADMIN', name: 'ops-zhang', role: 'operator' }, 'admin');
    operatorToken = op.token;
    operatorId = op.id;
    systemToken = (await clients.create({ kind: 'SYSTEM', name: 'hall-2', scopes: ['verify'] }, 'admin')).token;
  });

  afterAll(async () => {
    await audit.flush();
    await ds.destroy();
  });

  it('signs an ADMIN client in; only a hash of the session id is stored; the CSRF token is stable', async () => {
    const s = sessions();
    const { sessionId, view } = await s.signIn({ token: operatorToken }, '10.0.0.7');
    expect(view.client).toEqual({ id: operatorId, name: 'ops-zhang', role: 'operator' });
    expect(view.idleExpiresAt).toBe(new Date(clock.t + IDLE).toISOString());
    expect(view.absoluteExpiresAt).toBe(new Date(clock.t + ABSOLUTE).toISOString());
    const rows = await ds.getRepository(ConsoleSessionEntity).find();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(sessionId);
    expect(JSON.stringify(rows)).not.toContain(view.csrfToken);
    expect(rows[0]).toMatchObject({ clientId: operatorId, clientName: 'ops-zhang', sourceIp: '10.0.0.7' });
    const active = await s.authenticate(sessionId);
    expect(active?.principal).toMatchObject({ name: 'ops-zhang', kind: 'ADMIN', role: 'operator' });
    expect(active?.view.csrfToken).toBe(view.csrfToken);
    expect(s.csrfMatches(active!, view.csrfToken)).toBe(true);
    expect(s.csrfMatches(active!, `${view.csrfToken.slice(0, -1)}A`)).toBe(view.csrfToken.endsWith('A'));
    expect(s.csrfMatches(active!, undefined)).toBe(false);
    expect(await s.authenticate('x'.repeat(43))).toBeUndefined();
    expect((await events('console.session.created')).at(-1)).toMatchObject({ actor: 'ops-zhang', outcome: 'OK' });
    await s.signOut(active!);
    expect(await s.authenticate(sessionId)).toBeUndefined();
    expect((await events('console.session.ended')).at(-1)).toMatchObject({ actor: 'ops-zhang', subject: 'session' });
  });

  it('ends a session after the idle timeout, and keeps a used one alive until the absolute timeout', async () => {
    const s = sessions();
    const idle = await s.signIn({ token: operatorToken }, '10.0.0.7');
    const busy = await s.signIn({ token: ADMIN_TOKEN }, '10.0.0.8');
    expect(busy.view.client).toMatchObject({ name: 'admin', role: 'admin' });
    expect(busy.view.client.id).toMatch(/^bootstrap:admin:[0-9a-f]{8}$/);
    const start = clock.t;
    // Used every 10 minutes: the idle timeout (15) never passes, the absolute one (8 h) does.
    while (clock.t + 10 * 60_000 < start + ABSOLUTE) {
      clock.t += 10 * 60_000;
      expect(await s.authenticate(busy.sessionId)).toBeDefined();
    }
    expect(await s.authenticate(idle.sessionId)).toBeUndefined();
    expect((await events('console.session.expired')).at(-1)).toMatchObject({ actor: 'ops-zhang', reason: 'idle' });
    clock.t = start + ABSOLUTE;
    expect(await s.authenticate(busy.sessionId)).toBeUndefined();
    expect((await events('console.session.expired')).at(-1)).toMatchObject({ actor: 'admin', reason: 'absolute' });
  });

  it('ends the sessions of a client that is disabled', async () => {
    const s = sessions();
    const c = await clients.create({ kind: 'ADMIN', name: 'audit-li', role: 'auditor' }, 'admin');
    const { sessionId } = await s.signIn({ token: c.token }, '10.0.0.9');
    expect(await s.authenticate(sessionId)).toBeDefined();
    await clients.disable(c.id, 'admin');
    expect(await s.authenticate(sessionId)).toBeUndefined();
    expect((await events('console.session.expired')).at(-1)).toMatchObject({ actor: 'audit-li', reason: 'client_disabled' });
  });

  it('the sweep removes expired sessions once, whichever replica runs it', async () => {
    const a = sessions();
    const b = sessions();
    await ds.getRepository(ConsoleSessionEntity).clear();
    await a.signIn({ token: operatorToken }, '10.0.0.7');
    await a.signIn({ token: operatorToken }, '10.0.0.7');
    const before = (await events('console.session.expired')).length;
    clock.t += IDLE;
    expect(await Promise.all([a.sweep(), b.sweep()]).then(([x, y]) => x + y)).toBe(2);
    expect(await a.sweep()).toBe(0);
    expect((await events('console.session.expired')).length).toBe(before + 2);
    expect(await ds.getRepository(ConsoleSessionEntity).count()).toBe(0);
  });

  it('refuses tokens that are not an enabled ADMIN client, and limits failures per source and in all', async () => {
    const s = sessions(3, 5);
    await expect(s.signIn({ token: systemToken }, '10.1.0.1')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(s.signIn({ token: 'tb_guess' }, '10.1.0.1')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(s.signIn({}, '10.1.0.1')).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'token' } });
    await expect(s.signIn({ token: 'tb_guess' }, '10.1.0.1')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // Three failures from 10.1.0.1: even the right token is refused from there, before it is looked at.
    await expect(s.signIn({ token: operatorToken }, '10.1.0.1')).rejects.toMatchObject({ code: 'RATE_LIMITED', details: { retryAfterSeconds: 20 } });
    expect((await s.signIn({ token: operatorToken }, '10.1.0.2')).view.client.name).toBe('ops-zhang');
    await expect(s.signIn({ token: 'tb_guess' }, '10.1.0.2')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(s.signIn({ token: 'tb_guess' }, '10.1.0.3')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    // Five failures in all: every source waits.
    await expect(s.signIn({ token: operatorToken }, '10.1.0.4')).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    // The buckets refill over the minute: 12 s gives the overall budget one attempt back.
    clock.t += 12_000;
    expect((await s.signIn({ token: operatorToken }, '10.1.0.4')).view.client.name).toBe('ops-zhang');
    const refused = await events('console.session.refused');
    expect(refused.length).toBeGreaterThanOrEqual(5);
    expect(refused.at(-1)).toMatchObject({ actor: 'anonymous', outcome: 'REFUSED', reason: 'token' });
    expect(JSON.stringify(refused)).not.toContain('tb_guess');
  });
});
