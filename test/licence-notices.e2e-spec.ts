import { Gateway, call, demoLicences, startFederation, verificationBody } from '@tongban/testkit';
import type { AuditBody, LicenceStatusChangedWebhook } from './support/bodies';
import { waitFor } from './support/wait';
import { RECEIVER_ENV, WebhookReceiver, signatureValid } from './support/webhook-receiver';

// Change notices (docs/protocol-notices.md) between real gateways: 广东 verifies a 北京 licence with
// notify: true and has a webhook receiver in this test process; 北京 revokes the licence through its
// admin API (LicenceStatusService); 广东's receiver gets the signed licence.status.changed webhook.
// 河北 verified the same licence without notify and learns nothing.
const BJ = '110000';
const GD = '440000';
const HB = '130000';
const ENV = RECEIVER_ENV;
const SECRET = 'notices-e2e-webhook-secret-0123';
const [LICENCE, OTHER] = demoLicences(BJ).filter((l) => l.status === 'VALID');

interface Verified {
  status: string;
  notify?: { subscriptionId: string | null; outcome: string; expiresAt: string | null };
}
interface Subscription {
  id: string;
  peer?: string;
  notifyRef?: string;
  licenceId: string;
  lastVersion?: number;
  lastStatus?: string | null;
}

let gws: Record<string, Gateway>;
let receiver: WebhookReceiver<LicenceStatusChangedWebhook>;
let base: string;

const verify = (gw: Gateway, l: typeof LICENCE, extra: Record<string, unknown> = {}) => call<Verified>(gw, 'POST', '/v1/verifications', verificationBody(l, extra));
const issuerSide = async (query: string) => (await call<{ subscriptions: Subscription[] }>(gws[BJ], 'GET', `/admin/licence-subscriptions?${query}`, undefined, gws[BJ].adminToken)).body.subscriptions;
const audit = async (gw: Gateway, event: string) => (await call<AuditBody>(gw, 'GET', `/admin/audit?event=${event}&limit=1000`, undefined, gw.adminToken)).body.events;

beforeAll(async () => {
  receiver = await WebhookReceiver.start<LicenceStatusChangedWebhook>();
  base = receiver.base;
  const list = await startFederation([BJ, GD, HB], { env: ENV });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
  for (const code of [GD, HB]) {
    const r = await call(gws[code], 'POST', '/v1/webhooks', { url: `${base}/${code}`, events: code === GD ? ['licence.status.changed'] : ['*'], secret: SECRET });
    expect(r.status).toBe(201);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
  await receiver?.close();
});

describe('licence status notices between gateways', () => {
  it('广东 subscribes with notify: true, 河北 without; a revocation at 北京 reaches 广东 as a signed webhook within 5 s, and 河北 learns nothing', async () => {
    const gd = await verify(gws[GD], LICENCE, { notify: true });
    expect(gd.status).toBe(200);
    expect(gd.body).toMatchObject({ status: 'VALID', notify: { subscriptionId: expect.any(String), outcome: 'ACCEPTED', expiresAt: expect.any(String) } });
    const subscriptionId = gd.body.notify!.subscriptionId!;
    const hb = await verify(gws[HB], LICENCE);
    expect(hb.body.status).toBe('VALID');
    expect(hb.body.notify).toBeUndefined();

    // Both sides list it; the issuer holds the opaque reference, nothing about the client.
    expect((await call<{ subscriptions: Subscription[] }>(gws[GD], 'GET', '/v1/licence-subscriptions')).body.subscriptions).toEqual([
      expect.objectContaining({ id: subscriptionId, issuerProvince: BJ, licenceId: LICENCE.licenceId, origin: 'VERIFICATION', lastVersion: 0 }),
    ]);
    expect(await issuerSide(`licenceId=${LICENCE.licenceId}`)).toEqual([expect.objectContaining({ peer: GD, notifyRef: subscriptionId, licenceId: LICENCE.licenceId })]);

    const started = Date.now();
    const hook = receiver.next(`/${GD}`, (h) => h.body.licenceId === LICENCE.licenceId, 5000);
    const revoked = await call(gws[BJ], 'POST', `/admin/licences/${LICENCE.licenceId}/revoke`, { reason: '吊销营业执照（测试）' }, gws[BJ].adminToken);
    expect(revoked.status).toBe(200);
    const got = await hook;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(signatureValid(SECRET, got.signature, got.raw)).toBe(true);
    expect(got.body).toMatchObject({
      type: 'licence.status.changed',
      subscriptionId,
      issuerProvince: BJ,
      licenceId: LICENCE.licenceId,
      status: 'REVOKED',
      previous: 'VALID',
      version: 1,
      reason: '吊销营业执照（测试）',
    });
    expect(Date.parse(got.body.changedAt)).toBeLessThanOrEqual(Date.now());

    // 北京 sent exactly one notice, to 广东; 河北's receiver got nothing and its gateway applied nothing.
    // (Routine audit rows are written in batches: waited for, not assumed.)
    const sent = await waitFor(
      '北京 audits the notice',
      () => audit(gws[BJ], 'licence.notice.sent'),
      (rows) => rows.length > 0,
    );
    expect(sent.map((e) => JSON.parse(String(e.details)) as unknown)).toEqual([{ peer: GD, version: 1 }]);
    expect(receiver.received.filter((r) => r.path === `/${HB}`)).toEqual([]);
    expect(await audit(gws[HB], 'licence.notice.received')).toEqual([]);
    await waitFor(
      '广东 records the version',
      () => call<{ subscriptions: Subscription[] }>(gws[GD], 'GET', '/v1/licence-subscriptions'),
      (r) => r.body.subscriptions[0]?.lastStatus === 'REVOKED',
    );
    const got2 = await waitFor(
      '广东 audits the notice',
      () => audit(gws[GD], 'licence.notice.received'),
      (rows) => rows.length > 0,
    );
    expect(got2.map((e) => [e.actor, e.outcome, e.reason])).toEqual([[BJ, 'OK', 'REVOKED']]);
  }, 60_000);

  it('unsubscribing at 广东 removes the subscription at 北京 too; a peer whose policy forbids notices is refused', async () => {
    const gd = await verify(gws[GD], OTHER, { notify: true });
    const id = gd.body.notify!.subscriptionId!;
    expect(await issuerSide(`peer=${GD}&licenceId=${OTHER.licenceId}`)).toHaveLength(1);
    const del = await fetch(`${gws[GD].baseUrl}/v1/licence-subscriptions/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${gws[GD].apiToken}` } });
    expect(del.status).toBe(204);
    await waitFor(
      '北京 forgets the subscription',
      () => issuerSide(`peer=${GD}&licenceId=${OTHER.licenceId}`),
      (s) => s.length === 0,
    );

    // A standing subscription for the type: verifications without notify subscribe; notify: false does not.
    const standing = await call<{ id: string; error?: { rule?: string } }>(gws[GD], 'POST', '/v1/licence-subscriptions/standing', { licenceType: OTHER.typeCode });
    expect(standing.status).toBe(201);
    expect((await call<{ error: { rule: string } }>(gws[GD], 'POST', '/v1/licence-subscriptions/standing', { licenceType: OTHER.typeCode })).body.error.rule).toBe('STANDING_EXISTS');
    const bad = await call<{ error: { field: string; rule: string } }>(gws[GD], 'POST', '/v1/licence-subscriptions/standing', { licenceType: 'x' });
    expect({ status: bad.status, field: bad.body.error.field }).toEqual({ status: 400, field: 'licenceType' });
    expect((await verify(gws[GD], OTHER, { notify: false })).body.notify).toBeUndefined();
    expect((await verify(gws[GD], OTHER)).body.notify).toMatchObject({ outcome: 'ACCEPTED' });
    const listed = (await call<{ subscriptions: (Subscription & { origin: string })[] }>(gws[GD], 'GET', '/v1/licence-subscriptions')).body.subscriptions;
    expect(listed.find((x) => x.licenceId === OTHER.licenceId)).toMatchObject({ origin: 'STANDING' });
    expect((await fetch(`${gws[GD].baseUrl}/v1/licence-subscriptions/standing/${standing.body.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${gws[GD].apiToken}` } })).status).toBe(204);

    expect((await call(gws[BJ], 'PATCH', `/admin/peers/${HB}`, { allowNotices: false }, gws[BJ].adminToken)).status).toBe(200);
    const hb = await verify(gws[HB], OTHER, { notify: true });
    expect(hb.body).toMatchObject({ status: 'VALID', notify: { subscriptionId: null, outcome: 'NOTICES_NOT_ALLOWED', expiresAt: null } });
    expect(await issuerSide(`peer=${HB}`)).toEqual([]);
  }, 60_000);
});
