import { makeGenericClientConstructor } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { randomUUID } from 'node:crypto';
import { Gateway, call, demoLicences, freePort, gatewayOptions, startFederation, startGateway, testCredentials } from '@tongban/testkit';
import type { VerificationResult } from '@tongban/verification';
import type { CaseBody, ErrorBody, OutboxBody } from './support/bodies';
import { waitFor } from './support/wait';

// Operations surface of real gateway processes: health and readiness (also during a SIGTERM grace
// period), Prometheus metrics, correlation ids across gateways, JSON logs, and the OpenAPI document
// whose examples must work against a federation with the demo licences imported.
const BJ = '110000';
const HB = '130000';
const GD = '440000';
/** The shutdown grace period of the SIGTERM tests: long enough that what they check inside it is not raced by a loaded machine. */
const GRACE_MS = 4000;

const HealthClient = makeGenericClientConstructor(healthService, 'grpc.health.v1.Health');
type HealthCheckClient = InstanceType<typeof HealthClient> & {
  check(req: { service: string }, options: { deadline: number }, cb: (err: Error | null, r?: { status: string }) => void): void;
};

/** The parts of the OpenAPI document these tests read. */
interface Operation {
  security?: unknown;
  responses: Record<string, { description: string; headers?: Record<string, unknown> }>;
  requestBody: { content: Record<string, { schema: { required?: string[] }; examples: Record<string, { value: unknown }> }> };
}
interface OpenApiDocument {
  openapi: string;
  components: { securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, Operation>>;
}
/** The first documented example of a POST body. */
const firstExample = (doc: OpenApiDocument, path: string) => Object.values(doc.paths[path].post.requestBody.content['application/json'].examples)[0].value;
/** A verification answer: the result on 200, the error otherwise (each test checks the status). */
type Answer = VerificationResult & ErrorBody;

let gws: Record<string, Gateway>;

beforeAll(async () => {
  // JSON logs at debug level: the receiving inbox logs each accepted delivery, and JSON lines carry
  // the correlation id of the request being handled.
  const list = await startFederation([BJ, HB, GD], { env: { TONGBAN_LOG_LEVEL: 'debug', TONGBAN_LOG_FORMAT: 'json' } });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 90_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

/** Sum of the samples of `name` whose labels include `labels`; NaN when there is none. */
function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = NaN;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total = (Number.isNaN(total) ? 0 : total) + Number(m[3]);
  }
  return total;
}

async function scrape(gw: Gateway): Promise<string> {
  const res = await fetch(`${gw.baseUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

async function post<T = unknown>(gw: Gateway, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(gw.baseUrl + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.apiToken}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T, headers: res.headers };
}

async function grpcHealth(gw: Gateway): Promise<string> {
  // The federation port asks every client for a certificate, health checkers included.
  const client = new HealthClient(gw.grpcEndpoint, await testCredentials('990000')) as HealthCheckClient;
  return new Promise<string>((resolve, reject) =>
    client.check({ service: 'tongban.federation.v1.FederationService' }, { deadline: Date.now() + 2000 }, (err, r) => {
      client.close();
      if (err) reject(err);
      else resolve(r?.status ?? '');
    }),
  );
}

describe('health', () => {
  it('/health/live is 200; /health/ready is 200 with every check ok; /health is kept', async () => {
    const live = await fetch(`${gws[BJ].baseUrl}/health/live`);
    expect([live.status, await live.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(`${gws[BJ].baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', keys: 'ok', shutdown: 'ok' } });
    expect((await call(gws[BJ], 'GET', '/health')).body).toEqual({ status: 'ok', code: BJ, transport: 'mtls' });
  });
});

describe('OpenAPI', () => {
  let doc: OpenApiDocument;

  beforeAll(async () => {
    const res = await fetch(`${gws[GD].baseUrl}/docs/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as OpenApiDocument;
  });

  it('serves the UI at /docs and a document of the local and admin APIs with both bearer schemes and the console session cookie', async () => {
    const ui = await fetch(`${gws[GD].baseUrl}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toContain('swagger-ui');
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['admin', 'api', 'console']);
    for (const path of [
      '/v1/verifications',
      '/v1/verifications/batch',
      '/v1/attestations/verify',
      '/v1/cases',
      '/v1/cases/{id}',
      '/v1/tasks',
      '/v1/tasks/{id}/{action}',
      '/v1/webhooks',
      '/admin/peers',
      '/admin/audit',
      '/health/ready',
      '/metrics',
    ]) {
      expect(doc.paths).toHaveProperty([path]);
    }
    expect(doc.paths['/v1/verifications'].post.security).toEqual([{ api: [] }]);
    expect(doc.paths['/admin/peers'].get.security).toEqual([{ admin: [] }]);
    expect(doc.paths['/v1/verifications'].post.requestBody.content['application/json'].schema.required).toEqual(expect.arrayContaining(['licenceType', 'purpose']));
  });

  it('every /v1 and /admin operation documents 503 UNAVAILABLE with its Retry-After header (a database fault is a 503 on any route)', () => {
    const operations = Object.entries(doc.paths)
      .filter(([path]) => /^\/(v1|admin)\//.test(path))
      .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, op })));
    expect(operations.length).toBeGreaterThan(30);
    const wrong = operations.filter(({ op }) => !op.responses['503']?.description.includes('UNAVAILABLE') || !op.responses['503'].headers?.['Retry-After']);
    expect(wrong.map((o) => o.at)).toEqual([]);
    // Routes that ask a peer keep the peer's 503 in the same description.
    expect(doc.paths['/v1/verifications'].post.responses['503'].description).toContain('ISSUER_UNREACHABLE');
  });

  it('every documented example of POST /v1/verifications and /batch succeeds at 广东 (北京 answers)', async () => {
    const examples = doc.paths['/v1/verifications'].post.requestBody.content['application/json'].examples;
    expect(Object.keys(examples).length).toBeGreaterThanOrEqual(2);
    for (const [name, ex] of Object.entries(examples)) {
      const res = await post<Answer>(gws[GD], '/v1/verifications', ex.value);
      expect([name, res.status, res.body.status, res.body.issuer?.province]).toEqual([name, 200, 'VALID', BJ]);
    }
    const batch = firstExample(doc, '/v1/verifications/batch') as { items: unknown[] };
    const res = await post<{ results: VerificationResult[] }>(gws[GD], '/v1/verifications/batch', batch);
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => r.status)).toEqual(batch.items.map(() => 'VALID'));
  });

  it('the documented case and webhook examples succeed at 北京', async () => {
    const open = firstExample(doc, '/v1/cases') as { itemCode: string };
    const opened = await post<CaseBody>(gws[BJ], '/v1/cases', open);
    expect(opened.status).toBe(201);
    expect(opened.body).toMatchObject({ state: 'OPEN', acceptingProvince: BJ, itemCode: open.itemCode });
    const hook = firstExample(doc, '/v1/webhooks') as { url: string; events: string[] };
    const registered = await post<{ id: string; url: string; events: string[] }>(gws[BJ], '/v1/webhooks', hook);
    expect(registered.status).toBe(201);
    expect(registered.body).toMatchObject({ url: hook.url, events: hook.events });
    expect((await call(gws[BJ], 'DELETE', `/v1/webhooks/${registered.body.id}`)).status).toBe(204);
  });

  it('a case closure counts tongban_cases_closed_total at the owner when it commits, and at each participant when its CaseClosed commits there', async () => {
    const open = firstExample(doc, '/v1/cases') as { itemCode: string };
    const opened = await post<CaseBody>(gws[BJ], '/v1/cases', open);
    expect(opened.status).toBe(201);
    const others = Object.values(opened.body.participants).filter((p) => p !== BJ && gws[p]);
    expect(others.length).toBeGreaterThan(0);
    const closed = async (code: string) => metric(await scrape(gws[code]), 'tongban_cases_closed_total', { state: 'CANCELLED' });
    const before = Object.fromEntries(await Promise.all([BJ, ...others].map(async (c) => [c, await closed(c)] as const)));
    // Every final state is shown from the start, at 0 if nothing closed.
    expect(metric(await scrape(gws[BJ]), 'tongban_cases_closed_total', { state: 'REFUSED' })).toBeGreaterThanOrEqual(0);
    for (const c of others)
      await waitFor(
        `${c} holds the case`,
        () => call<CaseBody>(gws[c], 'GET', `/v1/cases/${opened.body.collaborationId}`),
        (r) => r.status === 200,
      );
    const cancelled = await post<CaseBody>(gws[BJ], `/v1/cases/${opened.body.caseId}/cancel`, { reason: '申请人撤回' });
    expect([cancelled.status, cancelled.body.state]).toEqual([200, 'CANCELLED']);
    expect(await closed(BJ)).toBe(before[BJ] + 1);
    for (const c of others)
      await waitFor(
        `${c} counts the closure`,
        () => closed(c),
        (n) => n === before[c] + 1,
      );
  });
});

describe('metrics and correlation ids', () => {
  it('after a verification: the asker counts an ok peer call and a VALID result; gauges are computed at scrape', async () => {
    const ex = { licenceType: '11100000000013338W009', licenceId: demoLicences(BJ)[0].licenceId, holder: { name: demoLicences(BJ)[0].holderName }, purpose: '指标测试' };
    expect((await post(gws[GD], '/v1/verifications', ex)).status).toBe(200);
    const text = await scrape(gws[GD]);
    expect(metric(text, 'tongban_peer_calls_total', { method: 'VerifyLicences', peer: BJ, outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'tongban_peer_call_seconds_count', { method: 'VerifyLicences', peer: BJ })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'tongban_verifications_total', { status: 'VALID' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'tongban_signing_key_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(metric(text, 'tongban_cases_overdue')).toBe(0);
    expect(metric(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(metric(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    // 北京 opened a case above (documented example) and holds it OPEN.
    expect(metric(await scrape(gws[BJ]), 'tongban_cases', { state: 'OPEN' })).toBeGreaterThanOrEqual(1);
  });

  it('a refusal at the issuer counts tongban_refusals_total and logs the asker’s correlation id there', async () => {
    const before = metric(await scrape(gws[BJ]), 'tongban_refusals_total', { reason: 'PEER_SUSPENDED' }) || 0;
    expect((await call(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { status: 'SUSPENDED' }, gws[BJ].adminToken)).status).toBe(200);
    try {
      const correlationId = `ops-${randomUUID()}`;
      const l = demoLicences(BJ)[0];
      const res = await post<ErrorBody>(gws[GD], '/v1/verifications', { licenceType: l.typeCode, licenceId: l.licenceId, purpose: '拒绝测试' }, { 'x-correlation-id': correlationId });
      expect([res.status, res.body.error.code, res.body.error.reason, res.body.error.correlationId]).toEqual([403, 'ISSUER_REFUSED', 'PEER_SUSPENDED', correlationId]);
      expect(res.headers.get('x-correlation-id')).toBe(correlationId);
      expect(metric(await scrape(gws[BJ]), 'tongban_refusals_total', { reason: 'PEER_SUSPENDED' })).toBe(before + 1);
      expect(metric(await scrape(gws[GD]), 'tongban_peer_calls_total', { method: 'VerifyLicences', peer: BJ, outcome: 'ISSUER_REFUSED' })).toBeGreaterThanOrEqual(1);
      await waitFor(
        'refusal line with the correlation id at 北京',
        async () => gws[BJ].output(),
        (out) => out.includes(`refused VerifyLicences from ${GD}: PEER_SUSPENDED (correlation id ${correlationId})`),
      );
    } finally {
      expect((await call(gws[BJ], 'PATCH', `/admin/peers/${GD}`, { status: 'ACTIVE' }, gws[BJ].adminToken)).status).toBe(200);
    }
  });

  it('a case message carries the correlation id of the request that caused it, through the outbox to the peer', async () => {
    const correlationId = `case-${randomUUID()}`;
    const body = {
      itemCode: 'HUKOU_WORK_TRANSFER',
      applicant: { name: '张三', idNumber: '11010519491231002X' },
      participants: { DESTINATION: BJ, ORIGIN: HB },
      materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
      receivedAt: { office: '北京市东城区政务服务中心', clerk: '王窗口', channel: 'WINDOW' },
    };
    const opened = await post(gws[BJ], '/v1/cases', body, { 'x-correlation-id': correlationId });
    expect(opened.status).toBe(201);
    // 北京's outbox row keeps the id; the delivery to 河北 is sent with it.
    const sent = await waitFor(
      'the CaseOpened message delivered',
      async () => (await call<OutboxBody>(gws[BJ], 'GET', '/admin/outbox?status=DELIVERED&limit=1000', undefined, gws[BJ].adminToken)).body.messages,
      (ms) => ms.some((m) => m.correlationId === correlationId && m.peer === HB),
    );
    const message = sent.find((m) => m.correlationId === correlationId && m.peer === HB);
    // 河北's inbox logged the accepted delivery under the same id.
    const accepted = (out: string) =>
      out
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((l) => String(l.message).startsWith(`accepted ${String(message?.type)} ${message?.id}`));
    const line = (await waitFor(
      '河北 to log the accepted delivery',
      async () => accepted(gws[HB].output()),
      (l) => l !== undefined,
    ))!;
    expect(line).toMatchObject({ gateway: HB, context: 'Inbox', correlationId });
  });

  it('answers a valid x-correlation-id as sent and replaces a malformed or missing one', async () => {
    const ok = await fetch(`${gws[GD].baseUrl}/health/live`, { headers: { 'x-correlation-id': 'hall.req-42_A' } });
    expect(ok.headers.get('x-correlation-id')).toBe('hall.req-42_A');
    for (const bad of ['has space', 'x'.repeat(65), '%E4%B8%AD%E6%96%87', 'a/b', 'a,b']) {
      const res = await fetch(`${gws[GD].baseUrl}/v1/cases/none`, { headers: { 'x-correlation-id': bad, authorization: `Bearer ${gws[GD].apiToken}` } });
      const id = res.headers.get('x-correlation-id');
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(((await res.json()) as ErrorBody).error.correlationId).toBe(id);
    }
    expect((await fetch(`${gws[GD].baseUrl}/health/live`)).headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('no gateway logged a holder ID number or credit code, nor the applicant of the case example', () => {
    const codes = [BJ, HB, GD].flatMap((c) => demoLicences(c).map((l) => l.holderCode));
    for (const gw of Object.values(gws)) {
      for (const code of [...codes, '11010519491231002X']) expect(gw.output()).not.toContain(code);
    }
  });
});

describe('health port (TONGBAN_HEALTH_PORT)', () => {
  it('answers the probes from its own listener, nothing else, and goes 503 at SIGTERM; the process still exits', async () => {
    const healthPort = await freePort();
    const gw = await startGateway(await gatewayOptions(HB, { env: { TONGBAN_HEALTH_PORT: String(healthPort), TONGBAN_SHUTDOWN_GRACE_MS: String(GRACE_MS) } }));
    const health = `http://127.0.0.1:${healthPort}`;
    const ready = async () => {
      const r = await fetch(`${health}/health/ready`);
      return { status: r.status, body: await r.json() };
    };
    try {
      expect(await waitFor('health port ready', ready, (r) => r.status === 200)).toEqual({
        status: 200,
        body: { status: 'ok', checks: { database: 'ok', keys: 'ok', shutdown: 'ok', eventLoop: 'ok', listening: 'ok' } },
      });
      expect((await fetch(`${health}/health/live`)).status).toBe(200);
      expect((await fetch(`${health}/v1/cases`, { headers: { authorization: `Bearer ${gw.apiToken}` } })).status).toBe(404);
      expect(gw.output()).toContain(`health :${healthPort}`);
      gw.proc.kill('SIGTERM');
      const during = await waitFor('health port 503', ready, (r) => r.status === 503, GRACE_MS - 1000);
      expect(during.body).toEqual({ status: 'not_ready', checks: { database: 'ok', keys: 'ok', shutdown: 'shutting_down', eventLoop: 'ok', listening: 'ok' } });
      expect((await gw.exited).signal).toBe('SIGTERM');
    } finally {
      await gw.kill();
    }
  });
});

describe('shutdown and JSON logs', () => {
  it('SIGTERM: readiness 503 and gRPC NOT_SERVING during the grace period, liveness still 200, then exit', async () => {
    const gw = await startGateway(await gatewayOptions(HB, { env: { TONGBAN_SHUTDOWN_GRACE_MS: String(GRACE_MS), TONGBAN_LOG_FORMAT: 'json' } }));
    try {
      expect((await fetch(`${gw.baseUrl}/health/ready`)).status).toBe(200);
      expect(await grpcHealth(gw)).toBe('SERVING');
      const t0 = Date.now();
      gw.proc.kill('SIGTERM');
      const ready = await waitFor(
        'readiness 503',
        async () => {
          const r = await fetch(`${gw.baseUrl}/health/ready`);
          return { status: r.status, body: await r.json() };
        },
        (r) => r.status === 503,
        GRACE_MS - 1000,
      );
      expect(ready.body).toEqual({ status: 'not_ready', checks: { database: 'ok', keys: 'ok', shutdown: 'shutting_down' } });
      expect(await grpcHealth(gw)).toBe('NOT_SERVING');
      expect((await fetch(`${gw.baseUrl}/health/live`)).status).toBe(200);
      expect(Date.now() - t0).toBeLessThan(GRACE_MS - 100); // all of the above happened inside the grace period
      const exit = await gw.exited;
      expect(Date.now() - t0).toBeGreaterThanOrEqual(GRACE_MS - 50);
      expect(exit.signal).toBe('SIGTERM');

      const lines = gw
        .output()
        .split('\n')
        .filter((l) => l.trim());
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.every((r) => typeof r.level === 'string' && 'message' in r && r.gateway === HB && typeof r.time === 'string')).toBe(true);
      expect(records.some((r) => r.context === 'Gateway' && String(r.message) === `SIGTERM: not ready; closing in ${GRACE_MS} ms`)).toBe(true);
    } finally {
      await gw.kill();
    }
  });
});
