import { Gateway, call, startFederation, startGateway } from '@tongban/testkit';
import { waitFor } from './support/wait';
import { RECEIVER_ENV, WebhookReceiver } from './support/webhook-receiver';

// The webhook boundary at 北京: two local API clients each see and delete only their own webhooks
// (administrators see and delete all); URLs to loopback, private, link-local and metadata addresses
// are refused at registration (400 naming url) unless the operator allows the range; a client holds
// at most TONGBAN_WEBHOOK_MAX_PER_CLIENT webhooks; and when the allowed range is withdrawn, deliveries
// to it are blocked at send time, counted in tongban_webhook_blocked_total and logged.
const BJ = '110000';
const HB = '130000';
const ENV = { ...RECEIVER_ENV, TONGBAN_WEBHOOK_BACKOFF_CAP_MS: '200', TONGBAN_WEBHOOK_MAX_ATTEMPTS: '50', TONGBAN_WEBHOOK_MAX_PER_CLIENT: '3' };

interface Hook {
  id: string;
  url: string;
  createdBy: string;
}
interface Answer {
  id: string;
  token: string;
  webhooks: Hook[];
  error: { code: string; field?: string; rule?: string; message: string };
}
interface Delivery {
  id: string;
  webhookId: string;
  attempts: number;
}

let gws: Record<string, Gateway>;
let receiver: WebhookReceiver;
let base: string;
let hall: string;
let tasks: string;

const as = (token: string, method: string, path: string, body?: unknown) => call<Answer>(gws[BJ], method, path, body, token);
const admin = (method: string, path: string) => call<Answer>(gws[BJ], method, path, undefined, gws[BJ].adminToken);
const idsOf = (r: { body: { webhooks: { id: string }[] } }) => r.body.webhooks.map((w) => w.id).sort();

beforeAll(async () => {
  receiver = await WebhookReceiver.start();
  base = receiver.base;
  const list = await startFederation([BJ, HB], { env: ENV });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
  const client = async (name: string) => {
    const r = await call<Answer>(gws[BJ], 'POST', '/admin/clients', { kind: 'SYSTEM', name, scopes: ['cases', 'tasks'] }, gws[BJ].adminToken);
    expect(r.status).toBe(201);
    return r.body.token;
  };
  hall = await client('hall');
  tasks = await client('tasks');
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
  await receiver?.close();
});

describe('the webhook boundary', () => {
  it('each API client sees and deletes only its own webhooks; an administrator sees and deletes all', async () => {
    const a = await as(hall, 'POST', '/v1/webhooks', { url: `${base}/hall` });
    const b = await as(tasks, 'POST', '/v1/webhooks', { url: `${base}/tasks` });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(idsOf(await as(hall, 'GET', '/v1/webhooks'))).toEqual([a.body.id]);
    expect(idsOf(await as(tasks, 'GET', '/v1/webhooks'))).toEqual([b.body.id]);
    expect((await as(hall, 'GET', '/v1/webhooks')).body.webhooks[0]).toMatchObject({ createdBy: 'hall', url: `${base}/hall` });

    // Another client's webhook does not exist for it: 404, and it is still there.
    expect((await as(tasks, 'DELETE', `/v1/webhooks/${a.body.id}`)).status).toBe(404);
    expect(idsOf(await as(hall, 'GET', '/v1/webhooks'))).toEqual([a.body.id]);

    // Administrators: every webhook, with its owner; and delete any.
    const all = await admin('GET', '/admin/webhooks');
    expect(all.status).toBe(200);
    expect(
      all.body.webhooks
        .filter((w) => [a.body.id, b.body.id].includes(w.id))
        .map((w) => w.createdBy)
        .sort(),
    ).toEqual(['hall', 'tasks']);
    expect((await admin('DELETE', `/admin/webhooks/${b.body.id}`)).status).toBe(204);
    expect(idsOf(await as(tasks, 'GET', '/v1/webhooks'))).toEqual([]);
    expect((await as(hall, 'DELETE', `/v1/webhooks/${a.body.id}`)).status).toBe(204);
    const deleted = (await call<{ events: { subject: string; actor: string }[] }>(gws[BJ], 'GET', '/admin/audit?event=admin.webhook.deleted', undefined, gws[BJ].adminToken)).body.events;
    expect(deleted.map((e) => [e.subject, e.actor]).sort()).toEqual(
      [
        [a.body.id, 'hall'],
        [b.body.id, 'admin'],
      ].sort(),
    );
  });

  it('refuses URLs to non-public addresses at registration with 400 naming url, storing nothing', async () => {
    const before = idsOf(await admin('GET', '/admin/webhooks'));
    for (const [url, kind] of [
      ['http://10.1.2.3/hook', 'private'],
      ['http://192.168.1.10:8080/hook', 'private'],
      ['http://169.254.169.254/latest/meta-data/', 'metadata'],
      ['http://[fd00:ec2::254]/latest/meta-data/', 'metadata'],
      ['http://[::1]:8080/hook', 'loopback'],
      ['http://[::ffff:10.0.0.1]/hook', 'private'],
      ['http://[fe80::1]/hook', 'link-local'],
      ['http://0.0.0.0/hook', 'unspecified'],
      ['http://224.0.0.1/hook', 'multicast'],
    ]) {
      const r = await as(hall, 'POST', '/v1/webhooks', { url });
      expect({ url, status: r.status, code: r.body.error.code, field: r.body.error.field, rule: r.body.error.rule }).toEqual({
        url,
        status: 400,
        code: 'VALIDATION_FAILED',
        field: 'url',
        rule: 'PUBLIC_ADDRESS',
      });
      expect(r.body.error.message).toContain(`a ${kind} address`);
      expect(r.body.error.message).toContain('TONGBAN_WEBHOOK_ALLOW_CIDRS');
    }
    expect(idsOf(await admin('GET', '/admin/webhooks'))).toEqual(before);
  });

  it('caps webhooks per client: the fourth is 409 (rule MAX_PER_CLIENT); another client is not affected', async () => {
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await as(hall, 'POST', '/v1/webhooks', { url: `${base}/cap-${i}` });
      expect(r.status).toBe(201);
      made.push(r.body.id);
    }
    const fourth = await as(hall, 'POST', '/v1/webhooks', { url: `${base}/cap-3` });
    expect(fourth.status).toBe(409);
    expect(fourth.body.error).toMatchObject({ code: 'CONFLICT', rule: 'MAX_PER_CLIENT' });
    expect(fourth.body.error.message).toContain('at most 3 per client');
    expect((await as(tasks, 'POST', '/v1/webhooks', { url: `${base}/other` })).status).toBe(201);
    for (const id of made) expect((await as(hall, 'DELETE', `/v1/webhooks/${id}`)).status).toBe(204);
    expect((await as(hall, 'POST', '/v1/webhooks', { url: `${base}/after` })).status).toBe(201);
  });

  it('blocks deliveries at send time once the address is no longer allowed: counted, logged, nothing sent', async () => {
    // Registered while loopback is allowed, then the operator withdraws the range and restarts.
    const hook = await as(tasks, 'POST', '/v1/webhooks', { url: `${base}/withdrawn`, events: ['CASE_OPENED'] });
    expect(hook.status).toBe(201);
    await gws[BJ].stop();
    const { TONGBAN_WEBHOOK_ALLOW_CIDRS: _withdrawn, ...env } = ENV;
    gws[BJ] = await startGateway({ ...gws[BJ].options, env });

    const opened = await call(gws[BJ], 'POST', '/v1/cases', {
      itemCode: 'HUKOU_WORK_TRANSFER',
      applicant: { name: '张三', idNumber: '11010519491231002X' },
      participants: { DESTINATION: BJ, ORIGIN: HB },
      materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
      receivedAt: { office: '北京市东城区政务服务中心', clerk: '王窗口', channel: 'WINDOW' },
    });
    expect(opened.status).toBe(201);
    const delivery = await waitFor(
      'a blocked attempt',
      async () =>
        (await call<{ deliveries: Delivery[] }>(gws[BJ], 'GET', '/admin/webhook-deliveries?limit=1000', undefined, gws[BJ].adminToken)).body.deliveries.find((d) => d.webhookId === hook.body.id),
      (d) => (d?.attempts ?? 0) >= 1,
    );
    expect(delivery).toMatchObject({ status: 'PENDING', lastStatus: null, lastError: 'blocked: 127.0.0.1, a loopback address' });
    const metrics = await (await fetch(`${gws[BJ].baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^tongban_webhook_blocked_total\{reason="loopback"\} [1-9]\d*$/m);
    expect(gws[BJ].output()).toContain(`webhook delivery ${delivery?.id} to ${base} blocked: 127.0.0.1, a loopback address`);
    expect(receiver.received.map((r) => r.path)).not.toContain('/withdrawn');
  });
});
