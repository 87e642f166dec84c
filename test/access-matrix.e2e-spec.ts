import { Gateway, call, gatewayOptions, startGateway } from '@tongban/testkit';
import { closeRawAgent, inParallel, rawRequest } from './support/raw-http';

// The authorisation matrix, generated from the running gateway's own OpenAPI document (which the
// gateway cross-checks against its handlers' access declarations at boot): every route × every kind
// of caller × spellings of its path. A caller without the right never reaches the handler (never 2xx,
// never 500); a caller with the right does (never 401/403). New routes are covered without anyone
// listing them here.

type Rule = { audience: 'public' } | { audience: 'api'; scope: string } | { audience: 'admin'; roles: string[] };
interface Route {
  method: string;
  path: string;
  rule: Rule;
}
interface Caller {
  name: string;
  token?: string;
  kind?: 'SYSTEM' | 'ADMIN';
  scopes?: string[];
  role?: string;
}

const SCOPES = ['verify', 'cases', 'tasks'];
const ROLES = ['admin', 'operator', 'auditor'];

function allowed(rule: Rule, c: Caller): boolean {
  if (rule.audience === 'public') return true;
  if (rule.audience === 'api') return c.kind === 'SYSTEM' && !!c.scopes?.includes(rule.scope);
  return c.kind === 'ADMIN' && !!c.role && rule.roles.includes(c.role);
}

const pct = (ch: string) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** Other spellings of `path` (all with the same meaning to a naive decoder, none canonical). */
function spellings(path: string): { name: string; path: string }[] {
  const segs = path.split('/').slice(1);
  const last = segs.length - 1;
  const other = segs[0] === 'admin' ? 'v1' : 'admin';
  const out = [
    { name: 'percent-encoded first letter', path: `/${pct(segs[0][0])}${segs[0].slice(1)}/${segs.slice(1).join('/')}`.replace(/\/$/, '') },
    { name: 'percent-encoded letter of the last segment', path: `/${[...segs.slice(0, last), pct(segs[last][0]) + segs[last].slice(1)].join('/')}` },
    { name: 'every letter percent-encoded (upper-case hex)', path: '/' + segs.map((s) => [...s].map((ch) => pct(ch).toUpperCase()).join('')).join('/') },
    { name: 'encoded slash', path: segs.length > 1 ? `/${segs[0]}%2F${segs.slice(1).join('/')}` : `/%2F${segs[0]}` },
    { name: 'leading double slash', path: `/${path}` },
    { name: 'inner double slash', path: segs.length > 1 ? `/${segs[0]}//${segs.slice(1).join('/')}` : `${path}//` },
    { name: 'dot-dot segment', path: `/${other}/..${path}` },
    { name: 'encoded dot-dot segment', path: `/${other}/%2e%2e${path}` },
    { name: 'dot segment', path: `/.${path}` },
    { name: 'upper case', path: path.toUpperCase() },
    { name: 'capitalised first segment', path: `/${segs[0][0].toUpperCase()}${path.slice(2)}` },
    { name: 'trailing slash', path: `${path}/` },
    { name: 'semicolon parameter', path: `${path};x=1` },
  ];
  return out.filter((s) => s.path !== path);
}

describe('authorisation matrix (every route × every caller × spellings of the path)', () => {
  let gw: Gateway;
  let routes: Route[];
  const callers: Caller[] = [{ name: 'no token' }, { name: 'wrong token', token: 'tb_not-a-token-of-this-gateway' }];
  /** Admin console sessions of the admin clients (same role as their token). */
  const sessions: (Caller & { cookie: string; csrf: string })[] = [];

  beforeAll(async () => {
    gw = await startGateway(await gatewayOptions('110000'));
    for (const scope of SCOPES) {
      const r = await call<{ token: string }>(gw, 'POST', '/admin/clients', { kind: 'SYSTEM', name: `sys-${scope}`, scopes: [scope] }, gw.adminToken);
      expect(r.status).toBe(201);
      callers.push({ name: `API client with scope ${scope}`, token: r.body.token, kind: 'SYSTEM', scopes: [scope] });
    }
    for (const role of ROLES) {
      const r = await call<{ token: string }>(gw, 'POST', '/admin/clients', { kind: 'ADMIN', name: `adm-${role}`, role }, gw.adminToken);
      expect(r.status).toBe(201);
      callers.push({ name: `admin client with role ${role}`, token: r.body.token, kind: 'ADMIN', role });
      const signIn = await fetch(`${gw.baseUrl}/console/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: r.body.token }) });
      expect(signIn.status).toBe(200);
      const cookie = /tongban_console=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1] ?? '';
      sessions.push({ name: `console session of role ${role}`, kind: 'ADMIN', role, cookie, csrf: ((await signIn.json()) as { csrfToken: string }).csrfToken });
    }
    callers.push({ name: 'bootstrap API token (every scope)', token: gw.apiToken, kind: 'SYSTEM', scopes: SCOPES });
    const doc = (await (await fetch(`${gw.baseUrl}/docs/openapi.json`)).json()) as { paths: Record<string, Record<string, Record<string, unknown>>> };
    routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path: path.replace(/\{[^}]+\}/g, 'probe1'), rule: op['x-tongban-access'] as Rule })),
    );
  }, 60_000);

  afterAll(async () => {
    closeRawAgent();
    await gw?.stop();
  });

  it('publishes an access declaration for every operation', () => {
    expect(routes.length).toBeGreaterThan(40);
    expect(routes.filter((r) => !r.rule).map((r) => `${r.method} ${r.path}`)).toEqual([]);
    for (const a of ['public', 'api', 'admin']) expect(routes.some((r) => r.rule.audience === a)).toBe(true);
  });

  it('nothing is reached without the right, under any spelling; everything is reached with it', async () => {
    interface Probe {
      route: Route;
      caller: Caller;
      method: string;
      path: string;
      spelling: string;
    }
    const probes: Probe[] = [];
    for (const route of routes) {
      const variants = [{ name: 'canonical', path: route.path }, ...spellings(route.path)];
      for (const caller of callers) {
        for (const v of variants) probes.push({ route, caller, method: route.method, path: v.path, spelling: v.name });
        // Fastify answers HEAD for every GET route through the same handler.
        if (route.method === 'GET') probes.push({ route, caller, method: 'HEAD', path: route.path, spelling: 'HEAD' });
      }
    }
    // A body that no schema accepts: an allowed caller reaches the handler and gets a 400, nothing changes.
    const body = JSON.stringify({ matrixProbe: true });
    const results = await inParallel(
      probes.map((p) => async () => {
        const headers: Record<string, string> = { ...(p.caller.token ? { authorization: `Bearer ${p.caller.token}` } : {}) };
        const withBody = ['POST', 'PUT', 'PATCH'].includes(p.method);
        if (withBody) headers['content-type'] = 'application/json';
        const res = await rawRequest(gw.httpPort, p.method, p.path, { headers, body: withBody ? body : undefined });
        return { ...p, status: res.status, body: res.body };
      }),
    );
    const describe = (r: (typeof results)[number]) => `${r.method} ${r.path} [${r.route.method} ${r.route.path}, ${r.spelling}] as ${r.caller.name}: ${r.status} ${r.body.slice(0, 160)}`;
    const breaches = results.filter((r) => !allowed(r.route.rule, r.caller) && ((r.status >= 200 && r.status < 300) || r.status >= 500));
    const wrongStatus = results.filter((r) => !allowed(r.route.rule, r.caller) && ![400, 401, 403, 404, 414].includes(r.status));
    const canonicalDenials = results.filter((r) => r.spelling === 'canonical' && !allowed(r.route.rule, r.caller) && r.status !== (r.caller.kind ? 403 : 401));
    const shutOut = results.filter((r) => r.spelling === 'canonical' && allowed(r.route.rule, r.caller) && [401, 403].includes(r.status));
    const errors = results.filter((r) => r.status >= 500 && !(r.route.path === '/health/ready' && r.status === 503));
    expect(breaches.map(describe)).toEqual([]);
    expect(wrongStatus.map(describe)).toEqual([]);
    expect(canonicalDenials.map(describe)).toEqual([]);
    expect(shutOut.map(describe)).toEqual([]);
    expect(errors.map(describe)).toEqual([]);
    // The matrix really ran: thousands of requests, with allowed callers reaching handlers.
    expect(results.length).toBeGreaterThan(2000);
    expect(results.filter((r) => r.spelling === 'canonical' && allowed(r.route.rule, r.caller) && r.route.rule.audience !== 'public').length).toBeGreaterThan(50);
  }, 120_000);

  it('a console session is its client under the same rules, and no state change passes with the cookie alone', async () => {
    const STATE_CHANGING = ['POST', 'PUT', 'PATCH', 'DELETE'];
    const probes: { route: Route; caller: (typeof sessions)[number]; csrf: boolean }[] = [];
    for (const route of routes.filter((r) => r.rule.audience !== 'public')) {
      for (const caller of sessions) {
        const changes = STATE_CHANGING.includes(route.method);
        if (changes) probes.push({ route, caller, csrf: false });
        // Signing out with the matrix's own sessions would end them: console-session.e2e-spec.ts covers it.
        if (!(route.method === 'DELETE' && route.path === '/console/api/session')) probes.push({ route, caller, csrf: changes });
      }
    }
    const body = JSON.stringify({ matrixProbe: true });
    const results = await inParallel(
      probes.map((p) => async () => {
        const headers: Record<string, string> = { cookie: `tongban_console=${p.caller.cookie}`, ...(p.csrf ? { 'x-csrf-token': p.caller.csrf } : {}) };
        const withBody = ['POST', 'PUT', 'PATCH'].includes(p.route.method);
        if (withBody) headers['content-type'] = 'application/json';
        const res = await rawRequest(gw.httpPort, p.route.method, p.route.path, { headers, body: withBody ? body : undefined });
        return { ...p, status: res.status, body: res.body };
      }),
    );
    const describe = (r: (typeof results)[number]) => `${r.route.method} ${r.route.path} as ${r.caller.name}${r.csrf ? ' with CSRF token' : ''}: ${r.status} ${r.body.slice(0, 160)}`;
    const withoutCsrf = results.filter((r) => STATE_CHANGING.includes(r.route.method) && !r.csrf);
    expect(withoutCsrf.length).toBeGreaterThan(20);
    expect(withoutCsrf.filter((r) => r.status !== 403 || !r.body.includes('"CSRF_TOKEN_INVALID"')).map(describe)).toEqual([]);
    const decided = results.filter((r) => r.csrf || !STATE_CHANGING.includes(r.route.method));
    expect(decided.filter((r) => !allowed(r.route.rule, r.caller) && (r.status !== 403 || !r.body.includes('"FORBIDDEN"'))).map(describe)).toEqual([]);
    expect(decided.filter((r) => allowed(r.route.rule, r.caller) && [401, 403].includes(r.status)).map(describe)).toEqual([]);
    expect(results.filter((r) => r.status >= 500).map(describe)).toEqual([]);
    // The sessions lived through it all.
    for (const s of sessions) expect((await rawRequest(gw.httpPort, 'GET', '/console/api/session', { headers: { cookie: `tongban_console=${s.cookie}` } })).status).toBe(200);
  }, 120_000);
});
