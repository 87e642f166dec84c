import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway, TEST_PG_URL, dropPostgresSchema, gatewayOptions, startGateway } from '@tongban/testkit';
import { closeRawAgent, rawRequest } from './support/raw-http';

// Hostile input on the local HTTP API of a real gateway: query strings go through each route's
// schema (on SQLite and PostgreSQL, where the same requests used to give 500 or return everything),
// and what Fastify and Node refuse before a handler runs still leaves in Tongban's error shape.

const MATERIAL_MAX = 1024 * 1024;

/** The `error` member of a JSON error answer. */
function errorOf(text: string): Record<string, unknown> | undefined {
  return (JSON.parse(text) as { error?: Record<string, unknown> }).error;
}

async function get(gw: Gateway, path: string, token: string | undefined) {
  const r = await rawRequest(gw.httpPort, 'GET', path, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: r.status, body: JSON.parse(r.body) as { error?: Record<string, string> } & Record<string, unknown> };
}

describe.each(['sqlite', 'postgres'] as const)('query parameters (%s)', (db) => {
  let gw: Gateway;
  const schema = `e2e_httpin_${Date.now().toString(36)}`;

  beforeAll(async () => {
    gw = await startGateway(await gatewayOptions('110000', db === 'postgres' ? { databaseUrl: TEST_PG_URL, env: { TONGBAN_DATABASE_SCHEMA: schema } } : {}));
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
    if (db === 'postgres') await dropPostgresSchema(schema);
  });

  // The requests of issue 9 (500 before, or every row for a negative limit on SQLite), and siblings.
  it.each([
    ['api', '/v1/tasks?status=A&status=B', 'status', 'ONE_OF'],
    ['api', '/v1/cases?status=A&status=B', 'status', 'UNKNOWN_FIELD'],
    ['api', '/v1/cases?itemCode=A&itemCode=B', 'itemCode', 'REPEATED'],
    ['api', '/v1/cases?offset=Infinity', 'offset', 'INTEGER'],
    ['api', '/v1/cases?offset=1e300&limit=-1', 'limit', 'INTEGER'],
    ['api', '/v1/cases?limit=1001', 'limit', 'RANGE'],
    ['api', '/v1/cases?overdue=yes', 'overdue', 'ONE_OF'],
    ['api', '/v1/cases/x?debug=1', 'debug', 'UNKNOWN_FIELD'],
    ['admin', '/admin/audit?limit=abc', 'limit', 'INTEGER'],
    ['admin', '/admin/audit?limit=-5', 'limit', 'INTEGER'],
    ['admin', '/admin/audit?after=1e3', 'after', 'INTEGER'],
    ['admin', '/admin/outbox?limit=abc', 'limit', 'INTEGER'],
    ['admin', '/admin/outbox?status=PENDING&status=DEAD', 'status', 'REPEATED'],
    ['admin', '/admin/material-transfers?limit=abc', 'limit', 'INTEGER'],
    ['admin', '/admin/webhook-deliveries?limit=0', 'limit', 'RANGE'],
  ])('%s GET %s is 400 naming %s (%s)', async (who, path, field, rule) => {
    const r = await get(gw, path, who === 'api' ? gw.apiToken : gw.adminToken);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'VALIDATION_FAILED', field, rule });
  });

  it('good queries still answer, lists repeated or comma-separated', async () => {
    expect((await get(gw, '/v1/cases?limit=5&offset=0&state=OPEN&overdue=true', gw.apiToken)).status).toBe(200);
    expect((await get(gw, '/v1/tasks?status=ASSIGNED&status=ACCEPTED', gw.apiToken)).status).toBe(200);
    expect((await get(gw, '/v1/tasks?status=ASSIGNED,ACCEPTED&limit=3', gw.apiToken)).status).toBe(200);
    // Two refusals audited (access.denied), then one of them asked for.
    for (let i = 0; i < 2; i++) expect((await get(gw, '/admin/peers', gw.apiToken)).status).toBe(403);
    const audit = await get(gw, '/admin/audit?limit=1', gw.adminToken);
    expect(audit.status).toBe(200);
    expect(audit.body.events).toHaveLength(1);
  });

  it('authorisation comes first: a bad query from a caller without a token is 401', async () => {
    expect((await get(gw, '/admin/audit?limit=abc', undefined)).status).toBe(401);
  });
});

describe('bodies, paths and URLs refused before a handler runs', () => {
  let gw: Gateway;

  beforeAll(async () => {
    gw = await startGateway(await gatewayOptions('110000', { env: { TONGBAN_MATERIAL_MAX_BYTES: String(MATERIAL_MAX) } }));
  }, 60_000);

  afterAll(async () => {
    closeRawAgent();
    await gw?.stop();
  });

  const json = { 'content-type': 'application/json' };

  it('a malformed JSON body is VALIDATION_FAILED on (body), rule JSON', async () => {
    for (const body of ['{bad', '{"a":1', '', '{"__proto__":{"x":1}}']) {
      const r = await rawRequest(gw.httpPort, 'POST', '/v1/cases', { headers: { ...json, authorization: `Bearer ${gw.apiToken}` }, body });
      expect(r.status).toBe(400);
      expect(errorOf(r.body)).toMatchObject({ code: 'VALIDATION_FAILED', field: '(body)', rule: 'JSON' });
    }
  });

  it('a path parameter over 100 characters is 414 URI_TOO_LONG in our shape, not echoed', async () => {
    const long = 'a'.repeat(3000);
    const r = await rawRequest(gw.httpPort, 'GET', `/v1/cases/${long}`, { headers: { authorization: `Bearer ${gw.apiToken}` } });
    expect(r.status).toBe(414);
    expect(errorOf(r.body)).toMatchObject({ code: 'URI_TOO_LONG', field: '(path)', rule: 'TOO_LONG' });
    expect(r.body).not.toContain(long.slice(0, 200));
  });

  it('a URL over 16 KiB is 431 HEADERS_TOO_LARGE in our shape', async () => {
    const r = await rawRequest(gw.httpPort, 'GET', `/v1/cases/${'b'.repeat(20_000)}`, { agent: false });
    expect(r.status).toBe(431);
    expect(errorOf(r.body)).toMatchObject({ code: 'HEADERS_TOO_LARGE' });
  });

  it('control characters, NUL and bad percent-encoding in a path parameter are 400', async () => {
    for (const [p, rule] of [
      ['a%00b', 'STORABLE_TEXT'],
      ['a%0Ab', 'STORABLE_TEXT'],
      ['a%1Bb', 'STORABLE_TEXT'],
      ['a%7Fb', 'STORABLE_TEXT'],
      ['a%FFb', 'ENCODING'],
      ['a%ED%A0%80b', 'ENCODING'],
    ]) {
      const r = await rawRequest(gw.httpPort, 'GET', `/v1/cases/${p}`, { headers: { authorization: `Bearer ${gw.apiToken}` } });
      expect([p, r.status]).toEqual([p, 400]);
      expect(errorOf(r.body)).toMatchObject({ code: 'VALIDATION_FAILED', rule });
    }
  });

  /** Streams `total` bytes chunked (no content-length) and reports what the client saw first. */
  function chunkedUpload(path: string, contentType: string, total: number): Promise<{ status?: number; body?: string; error?: string }> {
    return new Promise((resolve) => {
      const req = request({
        host: '127.0.0.1',
        port: gw.httpPort,
        method: path.includes('/materials/') ? 'PUT' : 'POST',
        path,
        agent: false,
        headers: { authorization: `Bearer ${gw.apiToken}`, 'content-type': contentType, 'transfer-encoding': 'chunked' },
      });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      req.on('response', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode, body }));
        res.on('error', () => resolve({ status: res.statusCode, body }));
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code }));
      const pump = () => {
        while (!req.destroyed && sent < total) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        if (!req.destroyed) req.end();
      };
      pump();
    });
  }

  it('an oversized chunked upload gets a readable 413 PAYLOAD_TOO_LARGE (materials and JSON)', async () => {
    for (let i = 0; i < 3; i++) {
      const material = await chunkedUpload('/v1/cases/x/materials/RESIDENT_ID_CARD', 'application/pdf', 8 * MATERIAL_MAX);
      expect(material.error).toBeUndefined();
      expect(material.status).toBe(413);
      expect(errorOf(material.body!)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      const body = await chunkedUpload('/v1/cases', 'application/json', 8 * 1024 * 1024);
      expect(body.error).toBeUndefined();
      expect(body.status).toBe(413);
      expect(errorOf(body.body!)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    }
  });

  it.each([['null'], ['[]'], ['"x"']])('a config file holding %s stops boot with exit 78 and a configuration message', async (content) => {
    const dir = mkdtempSync(join(tmpdir(), 'tongban-e2e-config-'));
    const file = join(dir, 'gateway.json');
    writeFileSync(file, content);
    const o = await gatewayOptions('110000', { env: { TONGBAN_CONFIG: file } });
    await expect(startGateway(o)).rejects.toThrow(/exited \(78\)[\s\S]*configuration error: config file .* must hold a JSON object of settings/);
  });
});

describe('a request that does not arrive in time', () => {
  let gw: Gateway;
  const TIMEOUT_MS = 2000;

  beforeAll(async () => {
    gw = await startGateway(await gatewayOptions('110000', { env: { TONGBAN_HTTP_REQUEST_TIMEOUT_MS: String(TIMEOUT_MS) } }));
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
  });

  it('a client trickling its body (a byte every 200 ms, never the whole) gets 408 REQUEST_TIMEOUT in our shape and the connection closes', async () => {
    const socket = connect(gw.httpPort, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const started = Date.now();
    socket.write(`POST /v1/cases HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${gw.apiToken}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{`);
    // Activity does not extend the deadline: the whole request must arrive within the timeout.
    const trickle = setInterval(() => socket.writable && socket.write(' '), 200);
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    clearInterval(trickle);
    const elapsed = Date.now() - started;
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(head).toMatch(/\r\nConnection: close(\r\n|$)/i);
    expect(errorOf(body)).toMatchObject({ code: 'REQUEST_TIMEOUT', message: 'the request was not received in time' });
    // Not before the timeout (checked every 250 ms here).
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    // A prompt client on a new connection is served as usual.
    const ok = await rawRequest(gw.httpPort, 'GET', '/health/live', { agent: false });
    expect(ok.status).toBe(200);
  });
});
