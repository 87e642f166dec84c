import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gateway, call, startFederation } from '@tongban/testkit';
import type { AuditBody, CaseBody, ErrorBody } from './support/bodies';
import { waitFor } from './support/wait';
import { RECEIVER_ENV, WebhookReceiver, signatureValid } from './support/webhook-receiver';

// Webhooks of a local system at 河北: a real HTTP receiver in this test process gets the case and
// task events of a 户口迁移 case (北京 destination, 河北 origin), signed with HMAC-SHA256.
const BJ = '110000';
const HB = '130000';
const ENV = { ...RECEIVER_ENV, TONGBAN_WEBHOOK_MAX_ATTEMPTS: '4' };

/** What a webhook receiver gets (one case event). */
interface WebhookEvent {
  id: string;
  type: string;
  caseId: string;
  collaborationId: string;
  stepIndex: number | null;
  taskId: string | null;
  actor: string | null;
  province: string;
  at: string;
  details: unknown;
}
/** A registered webhook; `secret` only in the answer to its registration. The error on a refusal (tests check the status). */
type Webhook = { id: string; url: string; events: string[]; secret?: string; createdBy?: string; createdAt?: string } & Partial<ErrorBody>;
/** One row of GET /admin/webhook-deliveries. */
type WebhookDelivery = { id: string; webhookId: string; eventType: string; status: string; attempts: number; lastError: string | null };

let gws: Record<string, Gateway>;
let receiver: WebhookReceiver<WebhookEvent>;
let base: string;
const tries = new Map<string, number>();
/** /recovering answers 500 until this is set. */
let recovered = false;

const hookAt = (gw: Gateway, body: unknown) => call<Webhook>(gw, 'POST', '/v1/webhooks', body);
const unhook = (gw: Gateway, id: string) => fetch(`${gw.baseUrl}/v1/webhooks/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${gw.apiToken}` } });
const at = (path: string) => receiver.at(path);
const deliveries = async (gw: Gateway, status?: string) =>
  (await call<{ deliveries: WebhookDelivery[] }>(gw, 'GET', `/admin/webhook-deliveries?limit=1000${status ? `&status=${status}` : ''}`, undefined, gw.adminToken)).body.deliveries;
const caseAt = (gw: Gateway, id: string) => call<CaseBody>(gw, 'GET', `/v1/cases/${id}`).then((r) => r.body);

/** A 户口迁移 case: 北京 destination (accepting), 河北 origin. */
const hukou = () => ({
  itemCode: 'HUKOU_WORK_TRANSFER',
  applicant: { name: '张三', idNumber: '11010519491231002X' },
  participants: { DESTINATION: BJ, ORIGIN: HB },
  materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
  receivedAt: { office: '北京市东城区政务服务中心', clerk: '王窗口', channel: 'WINDOW' },
});

/** Opens a 户口迁移 case at 北京 and, once 河北 has it, records there that the materials were posted (a POSTAL_MATERIALS_SENT event at 河北). */
async function postalSentAtHebei(trackingNumber: string): Promise<string> {
  const { collaborationId } = (await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou())).body;
  await waitFor(
    'case at 河北',
    () => call(gws[HB], 'GET', `/v1/cases/${collaborationId}`),
    (r) => r.status === 200,
  );
  expect((await call(gws[HB], 'POST', `/v1/cases/${collaborationId}/postal`, { item: 'MATERIALS', event: 'SENT', carrier: 'EMS', trackingNumber })).status).toBe(200);
  return collaborationId;
}

beforeAll(async () => {
  receiver = await WebhookReceiver.start<WebhookEvent>(({ path, headers }) => {
    // /flaky answers 500 to the first two attempts of every delivery.
    const id = String(headers['x-tongban-delivery']);
    const n = (tries.get(id) ?? 0) + 1;
    tries.set(id, n);
    return (path === '/flaky' && n <= 2) || (path === '/recovering' && !recovered) ? 500 : 204;
  });
  base = receiver.base;
  const list = await startFederation([BJ, HB], { env: ENV });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
  await receiver?.close();
});

describe('webhooks for local systems', () => {
  it('registration: secret returned once (generated or given), never listed; bad URLs and short secrets are 400; delete is 204', async () => {
    const generated = await hookAt(gws[HB], { url: `${base}/tmp` });
    expect(generated.status).toBe(201);
    expect(generated.body).toEqual({ id: expect.any(String), url: `${base}/tmp`, events: ['*'], secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    const listed = await call<{ webhooks: Webhook[] }>(gws[HB], 'GET', '/v1/webhooks');
    expect(listed.body.webhooks.find((w) => w.id === generated.body.id)).toEqual({ id: generated.body.id, url: `${base}/tmp`, events: ['*'], createdBy: 'local', createdAt: expect.any(String) });
    expect(JSON.stringify(listed.body)).not.toContain(generated.body.secret);

    const bad: [unknown, string, string][] = [
      [{ url: 'ftp://example.org/x' }, 'url', 'SCHEME'],
      [{ url: 'not a url' }, 'url', 'URL'],
      [{ url: `${base}/x`, secret: 'too-short' }, 'secret', 'TOO_SHORT'],
      [{ url: `${base}/x`, events: ['step_assigned'] }, 'events.0', 'FORMAT'],
      [{ url: `${base}/x`, extra: 1 }, '(body)', 'UNKNOWN_FIELD'],
    ];
    for (const [body, field, rule] of bad) {
      const r = await hookAt(gws[HB], body);
      expect({ status: r.status, field: r.body.error?.field, rule: r.body.error?.rule }).toEqual({ status: 400, field, rule });
    }
    expect((await unhook(gws[HB], generated.body.id)).status).toBe(204);
    expect((await unhook(gws[HB], generated.body.id)).status).toBe(404);
    expect((await call<{ webhooks: Webhook[] }>(gws[HB], 'GET', '/v1/webhooks')).body.webhooks.map((w) => w.id)).not.toContain(generated.body.id);
    const audit = (await call<AuditBody>(gws[HB], 'GET', '/admin/audit?event=admin.webhook.registered', undefined, gws[HB].adminToken)).body.events;
    expect(audit.some((e) => e.subject === generated.body.id && e.actor === 'local')).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(generated.body.secret);
    expect(gws[HB].output()).not.toContain(generated.body.secret);
    // Encrypted at rest: the secret is nowhere in the database files (main file and WAL).
    const db = join(gws[HB].options.dir, `tongban-${HB}.sqlite`);
    const bytes = Buffer.concat([readFileSync(db), existsSync(`${db}-wal`) ? readFileSync(`${db}-wal`) : Buffer.alloc(0)]);
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes(Buffer.from(generated.body.secret!))).toBe(false);
  });

  it('户口迁移 at 河北: case and task events arrive signed; a receiver answering 500 twice gets every delivery on the third attempt', async () => {
    const secret = 'hebei-public-security-webhook-secret';
    const all = await hookAt(gws[HB], { url: `${base}/all`, secret });
    expect(all.status).toBe(201);
    expect(all.body.secret).toBe(secret);
    const flaky = (await hookAt(gws[HB], { url: `${base}/flaky`, secret, events: ['STEP_*'] })).body;
    const opened = (await hookAt(gws[HB], { url: `${base}/opened`, secret, events: ['CASE_OPENED'] })).body;

    const body = hukou();
    const { caseId: ownerCaseId, collaborationId } = (await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', body)).body;
    expect((await call(gws[BJ], 'POST', `/v1/tasks/${collaborationId}~0/complete`, { outputs: { approval_no: '京准迁字2026第501号' } })).status).toBe(200);
    const task = `${collaborationId}~1`;
    await waitFor(
      'task assigned at 河北',
      () => caseAt(gws[HB], collaborationId),
      (c) => c?.steps?.[1]?.status === 'ASSIGNED',
    );
    expect((await call(gws[HB], 'POST', `/v1/tasks/${task}/accept`, {})).status).toBe(200);
    expect((await call(gws[HB], 'POST', `/v1/tasks/${task}/complete`, { outputs: { migration_certificate_no: '冀迁字2026000501' } })).status).toBe(200);
    await waitFor(
      'step 2 assigned at 北京',
      () => caseAt(gws[BJ], ownerCaseId),
      (c) => c?.steps?.[2]?.status === 'ASSIGNED',
    );

    const mine = (path: string) => at(path).filter((r) => r.body.collaborationId === collaborationId);
    const types = (path: string) => mine(path).map((r) => `${r.body.type}:${r.body.stepIndex}`);
    await waitFor(
      'events at /all',
      async () => types('/all'),
      (t) => ['CASE_OPENED:null', 'STEP_ASSIGNED:1', 'STEP_ACCEPTED:1', 'STEP_COMPLETED:1', 'STEP_ASSIGNED:2'].every((x) => t.includes(x)),
    );

    const hb = await caseAt(gws[HB], collaborationId);
    for (const r of mine('/all')) {
      expect(signatureValid(secret, r.headers['x-tongban-signature'] as string, r.raw)).toBe(true);
      expect(signatureValid('some-other-secret-0000', r.headers['x-tongban-signature'] as string, r.raw)).toBe(false);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-tongban-event']).toBe(r.body.type);
      expect(r.headers['x-tongban-delivery']).toMatch(/^[0-9a-f-]{36}$/);
      expect(Object.keys(r.body).sort()).toEqual(['actor', 'at', 'caseId', 'collaborationId', 'details', 'id', 'province', 'stepIndex', 'taskId', 'type']);
      expect(r.body.caseId).toBe(hb.caseId);
    }
    // Each event once per webhook, matching 河北's own case history.
    expect(mine('/all').length).toBe(hb.events.length);
    expect(new Set(mine('/all').map((r) => r.body.id)).size).toBe(hb.events.length);
    // A task event names the task of this province; other steps' events do not.
    const assigned = mine('/all').find((r) => r.body.type === 'STEP_ASSIGNED' && r.body.stepIndex === 1)!.body;
    expect(assigned).toMatchObject({ taskId: task, province: BJ, details: { action: 'DEREGISTER' } });
    expect(mine('/all').find((r) => r.body.type === 'STEP_COMPLETED' && r.body.stepIndex === 1)!.body).toMatchObject({
      taskId: task,
      province: HB,
      actor: 'local',
      details: { outputs: { migration_certificate_no: '冀迁字2026000501' } },
    });
    expect(mine('/all').find((r) => r.body.type === 'STEP_ASSIGNED' && r.body.stepIndex === 2)!.body.taskId).toBeNull();
    // Filters: CASE_OPENED only; STEP_* only.
    expect(types('/opened')).toEqual(['CASE_OPENED:null']);
    expect(mine('/flaky').every((r) => r.body.type.startsWith('STEP_'))).toBe(true);

    // Every delivery to /flaky failed twice (HTTP 500), was retried with backoff and then DELIVERED.
    const flakyRows = await waitFor(
      'flaky deliveries done',
      async () => (await deliveries(gws[HB])).filter((d) => d.webhookId === flaky.id),
      (rows) => rows.length === new Set(mine('/flaky').map((r) => r.body.id)).size && rows.every((d) => d.status === 'DELIVERED'),
    );
    for (const d of flakyRows) {
      expect(d).toMatchObject({ status: 'DELIVERED', attempts: 3, lastStatus: 204, lastError: null, deliveredAt: expect.any(String) });
      const seen = receiver.received.filter((r) => r.headers['x-tongban-delivery'] === d.id);
      expect(seen).toHaveLength(3);
      expect(new Set(seen.map((r) => r.raw)).size).toBe(1);
    }
    const delivered = await deliveries(gws[HB], 'DELIVERED');
    expect(delivered.filter((d) => d.webhookId === opened.id && d.eventType === 'CASE_OPENED').length).toBeGreaterThanOrEqual(1);
    expect(delivered.every((d) => !('body' in d))).toBe(true);
    expect(gws[HB].output()).not.toContain(secret);
  });

  it('a receiver that never answers 2xx: parked as DEAD after the attempt limit; deleting a webhook parks its queue', async () => {
    const closed = (await hookAt(gws[HB], { url: 'http://127.0.0.1:1/closed', events: ['POSTAL_MATERIALS_SENT'] })).body;
    const doomed = (await hookAt(gws[HB], { url: 'http://127.0.0.1:1/doomed', events: ['POSTAL_MATERIALS_SENT'] })).body;
    const collaborationId = await postalSentAtHebei('EMS5550001');
    expect((await unhook(gws[HB], doomed.id)).status).toBe(204);
    const dead = await waitFor(
      'DEAD after 4 attempts',
      async () => (await deliveries(gws[HB], 'DEAD')).filter((d) => [closed.id, doomed.id].includes(d.webhookId)),
      (rows) => rows.length === 2,
    );
    expect(dead.find((d) => d.webhookId === closed.id)).toMatchObject({
      eventType: 'POSTAL_MATERIALS_SENT',
      attempts: 4,
      lastStatus: null,
      lastError: expect.stringMatching(/fetch failed|ECONNREFUSED/),
    });
    expect(dead.find((d) => d.webhookId === doomed.id)).toMatchObject({ eventType: 'POSTAL_MATERIALS_SENT', lastError: 'webhook deleted' });
    const metrics = await fetch(`${gws[HB].baseUrl}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/tongban_dead_letters_total\{queue="webhook_deliveries",reason="ATTEMPTS"\} [1-9]/);
    // The case itself is untouched by a failing subscriber.
    expect((await caseAt(gws[HB], collaborationId)).events.some((e) => e.type === 'POSTAL_MATERIALS_SENT')).toBe(true);
  });

  it('an operator re-queues a DEAD delivery once the receiver is back; it arrives signed; a deleted webhook cannot be re-queued', async () => {
    const secret = 'recovering-receiver-webhook-secret';
    const hook = (await hookAt(gws[HB], { url: `${base}/recovering`, secret, events: ['POSTAL_MATERIALS_SENT'] })).body;
    await postalSentAtHebei('EMS5550002');
    const [dead] = await waitFor(
      'DEAD after 4 attempts',
      async () => (await deliveries(gws[HB], 'DEAD')).filter((d) => d.webhookId === hook.id),
      (rows) => rows.length === 1,
    );
    expect(dead).toMatchObject({ attempts: 4, lastStatus: 500 });

    // An operator (not only an admin) may re-queue; an auditor may not.
    const operator = (await call<{ token: string }>(gws[HB], 'POST', '/admin/clients', { kind: 'ADMIN', name: 'night-operator', role: 'operator' }, gws[HB].adminToken)).body.token;
    const auditor = (await call<{ token: string }>(gws[HB], 'POST', '/admin/clients', { kind: 'ADMIN', name: 'webhook-auditor', role: 'auditor' }, gws[HB].adminToken)).body.token;
    expect((await call(gws[HB], 'POST', `/admin/webhook-deliveries/${dead.id}/requeue`, undefined, auditor)).status).toBe(403);
    recovered = true;
    const requeued = await call(gws[HB], 'POST', `/admin/webhook-deliveries/${dead.id}/requeue`, undefined, operator);
    expect(requeued.status).toBe(200);
    expect(requeued.body).toMatchObject({ id: dead.id, status: 'PENDING', attempts: 0 });
    await waitFor(
      'the re-queued delivery to arrive',
      async () => (await deliveries(gws[HB], 'DELIVERED')).filter((d) => d.id === dead.id),
      (rows) => rows.length === 1,
    );
    const arrived = at('/recovering').filter((r) => r.headers['x-tongban-delivery'] === dead.id);
    expect(signatureValid(secret, arrived.at(-1)!.headers['x-tongban-signature'] as string, arrived.at(-1)!.raw)).toBe(true);
    const again = await call(gws[HB], 'POST', `/admin/webhook-deliveries/${dead.id}/requeue`, undefined, operator);
    expect(again.status).toBe(409);
    const audit = (await call<AuditBody>(gws[HB], 'GET', '/admin/audit?event=admin.webhook_delivery.requeued', undefined, gws[HB].adminToken)).body.events;
    expect(audit).toEqual([expect.objectContaining({ actor: 'night-operator', subject: dead.id, outcome: 'OK' })]);

    // The delivery of the deleted webhook (previous test) stays DEAD.
    const orphan = (await deliveries(gws[HB], 'DEAD')).find((d) => d.lastError === 'webhook deleted');
    expect(orphan).toBeDefined();
    const refused = await call<ErrorBody>(gws[HB], 'POST', `/admin/webhook-deliveries/${orphan!.id}/requeue`, undefined, operator);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/was deleted/);
  });
});
