import { Gateway, call, gatewayOptions, startGateway } from '@tongban/testkit';
import { waitFor } from './support/wait';

// Admin console sessions against real gateway processes (issue 13): sign-in, the cookie, a session
// on the admin API under its client's role, CSRF, audit, sign-out, the idle timeout (shortened by
// setting), the sign-in limit; and a gateway with the console turned off.

const IDLE_S = 5;

interface SessionBody {
  client: { id: string; name: string; role: string };
  csrfToken: string;
  idleExpiresAt: string;
  absoluteExpiresAt: string;
}
interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string } };
}

async function http(gw: Gateway, method: string, path: string, o: { cookie?: string; csrf?: string; bearer?: string; body?: unknown } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (o.cookie) headers.cookie = `tongban_console=${o.cookie}`;
  if (o.csrf) headers['x-csrf-token'] = o.csrf;
  if (o.bearer) headers.authorization = `Bearer ${o.bearer}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(gw.baseUrl + path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body), redirect: 'manual' });
  const text = await res.text();
  let body: Answer['body'] = {};
  try {
    body = text ? (JSON.parse(text) as Answer['body']) : {};
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

describe('admin console sessions', () => {
  let gw: Gateway;
  let off: Gateway;
  const tokens: Record<string, string> = {};

  const signIn = async (role: string) => {
    const r = await http(gw, 'POST', '/console/api/session', { body: { token: tokens[role] } });
    expect(r.status).toBe(200);
    const cookie = /tongban_console=([^;]*)/.exec(r.headers.get('set-cookie') ?? '')?.[1] ?? '';
    return { cookie, view: r.body as unknown as SessionBody, setCookie: r.headers.get('set-cookie') ?? '' };
  };
  const auditOf = async (event: string, match: (e: { actor: string; subject: string; details: string | null; outcome: string }) => boolean) =>
    waitFor(
      `audit ${event}`,
      async () =>
        (
          await call<{ events: { actor: string; subject: string; details: string | null; outcome: string; reason: string | null }[] }>(
            gw,
            'GET',
            `/admin/audit?event=${event}&limit=1000`,
            undefined,
            gw.adminToken,
          )
        ).body.events,
      (events) => events.some(match),
    );

  beforeAll(async () => {
    [gw, off] = await Promise.all([
      gatewayOptions('110000', { env: { TONGBAN_CONSOLE_IDLE_TIMEOUT_S: String(IDLE_S), TONGBAN_CONSOLE_SIGN_IN_FAILURES_PER_IP_PER_MIN: '3' } }).then(startGateway),
      gatewayOptions('310000', { env: { TONGBAN_CONSOLE_ENABLED: 'false' } }).then(startGateway),
    ]);
    for (const role of ['admin', 'operator', 'auditor']) {
      const r = await call<{ token: string }>(gw, 'POST', '/admin/clients', { kind: 'ADMIN', name: `console-${role}`, role }, gw.adminToken);
      expect(r.status).toBe(201);
      tokens[role] = r.body.token;
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all([gw?.stop(), off?.stop()]);
  });

  it('signs an admin client in: an HttpOnly, SameSite=Strict cookie and the session view', async () => {
    const { cookie, view, setCookie } = await signIn('operator');
    expect(cookie).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/Secure/); // plain HTTP, consoleCookieSecure unset
    expect(view.client).toMatchObject({ name: 'console-operator', role: 'operator' });
    expect(Date.parse(view.idleExpiresAt) - Date.now()).toBeLessThanOrEqual(IDLE_S * 1000);
    expect(Date.parse(view.absoluteExpiresAt) - Date.now()).toBeGreaterThan(7.9 * 3600_000);
    const again = await http(gw, 'GET', '/console/api/session', { cookie });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ client: view.client, csrfToken: view.csrfToken });
    // A bearer token has no session to show.
    expect((await http(gw, 'GET', '/console/api/session', { bearer: tokens.operator })).status).toBe(404);
    expect((await http(gw, 'GET', '/console/api/session')).status).toBe(401);
  });

  it('refuses a token that is not an enabled admin client, and audits it', async () => {
    const bad = await http(gw, 'POST', '/console/api/session', { body: { token: 'tb_not-a-token' } });
    expect(bad.status).toBe(401);
    expect(bad.body.error?.code).toBe('UNAUTHENTICATED');
    expect(bad.headers.get('set-cookie')).toBeNull();
    expect((await http(gw, 'POST', '/console/api/session', { body: { token: gw.apiToken } })).status).toBe(401);
    expect((await http(gw, 'POST', '/console/api/session', { body: {} })).body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'token' });
    await auditOf('console.session.refused', (e) => e.actor === 'anonymous' && e.outcome === 'REFUSED');
  });

  it('a session acts on the admin API under its role: CSRF on every state change, the same role rules, audited via the console', async () => {
    const op = await signIn('operator');
    expect((await http(gw, 'GET', '/admin/keys', { cookie: op.cookie })).status).toBe(200);
    // State changes without the CSRF token, or with another one, are refused before anything else.
    const none = await http(gw, 'POST', '/admin/keys/rotate', { cookie: op.cookie, body: {} });
    expect(none.status).toBe(403);
    expect(none.body.error?.code).toBe('CSRF_TOKEN_INVALID');
    const other = await http(gw, 'POST', '/admin/keys/rotate', { cookie: op.cookie, csrf: 'A'.repeat(43), body: {} });
    expect(other.body.error?.code).toBe('CSRF_TOKEN_INVALID');
    // With it: the operator's role decides (clients are the admin role's).
    const forbidden = await http(gw, 'POST', '/admin/clients', { cookie: op.cookie, csrf: op.view.csrfToken, body: { kind: 'ADMIN', name: 'nope', role: 'admin' } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error?.code).toBe('FORBIDDEN');
    expect((await http(gw, 'POST', '/admin/outbox/no-such-message/requeue', { cookie: op.cookie, csrf: op.view.csrfToken })).status).toBe(404);
    // An administrator's session is not an API client.
    expect((await http(gw, 'GET', '/v1/cases', { cookie: op.cookie })).status).toBe(403);

    const adm = await signIn('admin');
    const created = await http(gw, 'POST', '/admin/clients', { cookie: adm.cookie, csrf: adm.view.csrfToken, body: { kind: 'SYSTEM', name: 'made-in-console', scopes: ['verify'] } });
    expect(created.status).toBe(201);
    await auditOf('admin.client.created', (e) => e.actor === 'console-admin' && e.subject === 'made-in-console');
    await auditOf(
      'console.action',
      (e) => e.actor === 'console-admin' && e.subject === 'POST /admin/clients' && e.outcome === 'OK' && /"via":"console"/.test(e.details ?? '') && e.details!.includes(adm.view.client.id),
    );
    await auditOf('console.action', (e) => e.actor === 'console-operator' && e.subject === 'POST /admin/keys/rotate' && e.outcome === 'REFUSED' && /"status":403/.test(e.details ?? ''));

    // The auditor reads, and a forged write from its session is refused even with the CSRF token.
    const aud = await signIn('auditor');
    expect((await http(gw, 'GET', '/admin/peers', { cookie: aud.cookie })).status).toBe(200);
    const forged = await http(gw, 'POST', '/admin/keys/rotate', { cookie: aud.cookie, csrf: aud.view.csrfToken, body: {} });
    expect(forged.status).toBe(403);
    expect(forged.body.error?.code).toBe('FORBIDDEN');
    // A bearer token decides alone when both are sent (no CSRF needed, the cookie ignored).
    expect((await http(gw, 'POST', '/admin/outbox/x/requeue', { cookie: aud.cookie, bearer: tokens.operator })).status).toBe(404);
    // A disabled client's session ends at once.
    const list = await call<{ clients: { id: string; name: string }[] }>(gw, 'GET', '/admin/clients', undefined, gw.adminToken);
    const auditorId = list.body.clients.find((c) => c.name === 'console-auditor')!.id;
    expect((await call(gw, 'POST', `/admin/clients/${auditorId}/disable`, undefined, gw.adminToken)).status).toBeLessThan(300);
    expect((await http(gw, 'GET', '/admin/peers', { cookie: aud.cookie })).status).toBe(401);
  });

  it('signs out: CSRF needed, cookie cleared, the session gone on the server', async () => {
    const s = await signIn('operator');
    expect((await http(gw, 'DELETE', '/console/api/session', { cookie: s.cookie })).body.error?.code).toBe('CSRF_TOKEN_INVALID');
    const out = await http(gw, 'DELETE', '/console/api/session', { cookie: s.cookie, csrf: s.view.csrfToken });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^tongban_console=; .*Max-Age=0/);
    expect((await http(gw, 'GET', '/console/api/session', { cookie: s.cookie })).status).toBe(401);
    expect((await http(gw, 'GET', '/admin/keys', { cookie: s.cookie })).status).toBe(401);
    await auditOf('console.session.ended', (e) => e.actor === 'console-operator');
  });

  it(`ends a session unused for the idle timeout (${IDLE_S} s here)`, async () => {
    const s = await signIn('operator');
    // Not a sleep: wait until the server's own idle deadline has passed, without touching the session.
    await waitFor(
      'the idle deadline',
      async () => Date.now(),
      (now) => now > Date.parse(s.view.idleExpiresAt) + 100,
      (IDLE_S + 5) * 1000,
    );
    const r = await http(gw, 'GET', '/admin/keys', { cookie: s.cookie });
    expect(r.status).toBe(401);
    expect(r.body.error?.message).toMatch(/expired/);
    await auditOf('console.session.expired', (e) => e.actor === 'console-operator');
  }, 30_000);

  it('limits failed sign-ins from one address: 429 RATE_LIMITED with Retry-After, even for the right token', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await http(gw, 'POST', '/console/api/session', { body: { token: `tb_guess-${i}` } });
      if (r.status === 429) break; // the refusals of the test above already counted
      expect(r.status).toBe(401);
    }
    const limited = await http(gw, 'POST', '/console/api/session', { body: { token: tokens.admin } });
    expect(limited.status).toBe(429);
    expect(limited.body.error?.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited.headers.get('set-cookie')).toBeNull();
  });

  it('serves the built console under /console/ with its security headers, index.html for app routes', async () => {
    const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
    const page = await fetch(`${gw.baseUrl}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toBe(CSP);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/<style|\sstyle=/); // no inline style
    const route = await fetch(`${gw.baseUrl}/console/peers/310000`);
    expect(route.status).toBe(200);
    expect(await route.text()).toBe(html);
    const root = await fetch(`${gw.baseUrl}/console`, { redirect: 'manual' });
    expect(root.status).toBe(308);
    expect(root.headers.get('location')).toBe('/console/');
    const src = /<script[^>]*src="\/console\/([^"]+)"/.exec(html)?.[1] ?? 'app.js';
    const js = await fetch(`${gw.baseUrl}/console/${src}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    const etag = js.headers.get('etag')!;
    expect((await fetch(`${gw.baseUrl}/console/${src}`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    for (const missing of ['/console/no-such-file.js', '/console/api/nothing', '/console/..%2f..%2fpackage.json']) {
      const r = await fetch(`${gw.baseUrl}${missing}`);
      expect([missing, r.status]).toEqual([missing, 404]);
      expect(r.headers.get('content-security-policy')).toBe(CSP);
    }
  });

  it('answers the overview and the chart history (any admin role)', async () => {
    const s = { cookie: undefined, bearer: tokens.operator };
    const o = await http(gw, 'GET', '/admin/overview', s);
    expect(o.status).toBe(200);
    expect(o.body).toMatchObject({ code: '110000', readiness: { status: 'ok' }, peers: [], outbox: { depth: 0, oldestAgeS: null }, deadLetters: 0, overdueSteps: 0, directory: { mode: 'off' } });
    expect(o.body.tls).toMatchObject({ mode: 'mtls' });
    expect((o.body.tls as { daysLeft: number }).daysLeft).toBeGreaterThan(0);
    expect((o.body.keys as { status: string; nextRotationAt: string | null }[]).filter((k) => k.status === 'ACTIVE')[0].nextRotationAt).toMatch(/^\d{4}-/);
    // The test CA issues 10-day certificates: the overview warns (under 30 days), not yet critical (7).
    expect(o.body.warnings).toEqual([expect.objectContaining({ code: 'TLS_EXPIRING', severity: 'warning' })]);
    const h = await http(gw, 'GET', '/admin/metrics/history?minutes=60', s);
    expect(h.status).toBe(200);
    expect(h.body).toMatchObject({ stepS: 60, minutes: 60 });
    const points = h.body.points as { partial: boolean; verificationsPerS: number; refusalsPerS: object; outboxDepth: number | null }[];
    expect(points.at(-1)).toMatchObject({ partial: true, outboxDepth: 0 });
    expect((await http(gw, 'GET', '/admin/metrics/history?minutes=0', s)).body.error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'minutes' });
  });

  it('with TONGBAN_CONSOLE_ENABLED=false there is no console and a session cookie authenticates nothing', async () => {
    expect((await http(off, 'POST', '/console/api/session', { body: { token: off.adminToken } })).status).toBe(404);
    expect((await http(off, 'GET', '/console/api/session')).status).toBe(404);
    expect((await http(off, 'GET', '/console/')).status).toBe(404);
    expect((await http(off, 'GET', '/admin/keys', { cookie: 'A'.repeat(43) })).status).toBe(401);
  });
});
