import { DeliveryPayload, DeliveryReceiptPayload, StepOutcome } from '@tongban/proto';
import { FakePeer, Gateway, call, connectAll, dropPostgresSchema, gatewayOptions, importDemoLicences, startFederation, startGateway } from '@tongban/testkit';
import type { AuditBody, CaseBody, OutboxBody } from './support/bodies';
import { waitFor } from './support/wait';

const BJ = '110000';
const HB = '130000';
const TJ = '120000';
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };
const applicant = { name: '李四', idNumber: '11010519491231002X' };

function hukou(origin: string) {
  return {
    itemCode: 'HUKOU_SPOUSE',
    applicant,
    participants: { DESTINATION: BJ, ORIGIN: origin },
    materials: [{ code: 'HOUSEHOLD_REGISTERS' }, { code: 'RESIDENT_ID_CARD' }, { code: 'MARRIAGE_CERTIFICATE' }],
    receivedAt: { office: '北京市朝阳区政务服务中心', clerk: '赵窗口', channel: 'WINDOW' },
  };
}
const caseAt = (gw: Gateway, id: string) => call<CaseBody>(gw, 'GET', `/v1/cases/${id}`).then((r) => r.body);
const task = (gw: Gateway, id: string, action: string, body: unknown = {}) => call(gw, 'POST', `/v1/tasks/${id}/${action}`, body);

describe('reliable delivery under faults', () => {
  let gws: Record<string, Gateway>;

  beforeAll(async () => {
    const list = await startFederation([BJ, HB], { env: FAST });
    gws = Object.fromEntries(list.map((g) => [g.code, g]));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
  });

  it('the same message delivered twice takes effect once and gets the same signed receipt', async () => {
    const tianjin = await FakePeer.create(TJ);
    expect((await call(gws[BJ], 'POST', '/admin/peers', { code: TJ, endpoint: '127.0.0.1:1', keys: [tianjin.jwk()] }, gws[BJ].adminToken)).status).toBe(201);
    const { collaborationId } = (await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou(TJ))).body;
    await task(gws[BJ], `${collaborationId}~0`, 'complete', { outputs: { approval_no: '京准迁字2026第101号' } });
    const outcome = StepOutcome.encode({
      collaborationId,
      stepIndex: 1,
      outcome: 'COMPLETED',
      outputsJson: JSON.stringify({ migration_certificate_no: '津迁字2026-1' }),
      reason: '',
      actor: '天津公安',
      at: undefined,
    }).finish();
    const delivery = DeliveryPayload.encode({ messageId: 'tj-msg-1', stream: collaborationId, seq: '1', type: 'tongban.cases.v1.StepOutcome', body: Buffer.from(outcome) }).finish();
    const send = () => FakePeer.send(gws[BJ].grpcEndpoint, 'deliver', tianjin.craft({ aud: BJ, mty: 'tongban.federation.v1.DeliveryPayload', payload: delivery }));
    const first = await send();
    const second = await send();
    expect(first.code).toBeUndefined();
    expect(second.code).toBeUndefined();
    const r1 = DeliveryReceiptPayload.decode(first.envelope!.payload).receipt;
    const r2 = DeliveryReceiptPayload.decode(second.envelope!.payload).receipt;
    expect(r2).toBe(r1);
    const claims: unknown = JSON.parse(Buffer.from(r1.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({ iss: BJ, aud: TJ, mid: 'tj-msg-1', sta: 'ACCEPTED', seq: 1 });
    const c = await caseAt(gws[BJ], collaborationId);
    expect(c.steps[1].status).toBe('COMPLETED');
    expect(c.steps[2].status).toBe('ASSIGNED');
    expect(c.events.filter((e) => e.type === 'STEP_COMPLETED' && e.stepIndex === 1)).toHaveLength(1);
    // A message skipping ahead in the stream is refused until its predecessors arrive.
    const gap = DeliveryPayload.encode({ messageId: 'tj-msg-3', stream: collaborationId, seq: '3', type: 'tongban.cases.v1.StepOutcome', body: Buffer.from(outcome) }).finish();
    const refused = await FakePeer.send(gws[BJ].grpcEndpoint, 'deliver', tianjin.craft({ aud: BJ, mty: 'tongban.federation.v1.DeliveryPayload', payload: gap }));
    expect(refused.refusal).toBe('OUT_OF_ORDER');
  });

  it('kill -9 of the accepting gateway mid-case, then restart: nothing lost, no step applied twice', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou(HB))).body.collaborationId);
    // Complete step 0 everywhere and kill while the outbox is still draining.
    const done = await Promise.all(ids.map((id, i) => task(gws[BJ], `${id}~0`, 'complete', { outputs: { approval_no: `京准迁字2026第2${i}号` } })));
    expect(done.map((r) => r.status)).toEqual(ids.map(() => 200));
    await gws[BJ].kill();
    gws[BJ] = await startGateway(gws[BJ].options);
    for (const id of ids) {
      await waitFor(
        `${id} step 1 at HB`,
        () => caseAt(gws[HB], id),
        (c) => c?.steps?.[1]?.status === 'ASSIGNED',
      );
      expect((await task(gws[HB], `${id}~1`, 'complete', { outputs: { migration_certificate_no: `冀迁字${id.slice(-4)}` } })).status).toBe(200);
    }
    await gws[HB].kill();
    gws[HB] = await startGateway(gws[HB].options);
    for (const id of ids) {
      await waitFor(
        `${id} step 2 at BJ`,
        () => caseAt(gws[BJ], id),
        (c) => c?.steps?.[2]?.status === 'ASSIGNED',
      );
      await task(gws[BJ], `${id}~2`, 'complete', { outputs: { registered_on: '2026-12-01' } });
      const hb = await waitFor(
        `${id} completed at HB`,
        () => caseAt(gws[HB], id),
        (c) => c?.state === 'COMPLETED',
      );
      const bj = await caseAt(gws[BJ], id);
      expect(bj.state).toBe('COMPLETED');
      for (const c of [bj, hb]) {
        const completions = c.events.filter((e) => e.type === 'STEP_COMPLETED').map((e) => e.stepIndex);
        expect(completions.sort()).toEqual([0, 1, 2]);
      }
    }
  });
});

const pg = process.env.TEST_PG_AVAILABLE === '1' ? describe : describe.skip;
pg('two replicas of one province on PostgreSQL share one outbox', () => {
  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  let replicas: Gateway[] = [];
  let hebei: Gateway;
  const schema = `e2e_${Date.now().toString(36)}`;

  afterAll(async () => {
    await Promise.all([...replicas, hebei].filter(Boolean).map((g) => g.stop()));
    await dropPostgresSchema(schema);
  });

  it('never sends the same message twice', async () => {
    const env = { ...FAST, TONGBAN_DATABASE_SCHEMA: schema, TONGBAN_DELIVERY_POLL_MS: '20' };
    const a = await gatewayOptions(BJ, { databaseUrl: url, env });
    const b = await gatewayOptions(BJ, { databaseUrl: url, env, secrets: a.secrets });
    const h = await gatewayOptions(HB, { env: FAST });
    await importDemoLicences(h);
    replicas = [await startGateway(a), await startGateway(b)];
    hebei = await startGateway(h);
    await connectAll([replicas[0], hebei]);
    // Replica B learns the peer when A's change commits (the admin tables' trigger; both share the database).
    await waitFor(
      'replica B trusts 河北',
      () => call(replicas[1], 'GET', `/admin/peers/${HB}`, undefined, replicas[1].adminToken),
      (r) => r.status === 200,
      30_000,
    );
    const kids = await Promise.all(replicas.map(async (r) => ((await (await fetch(`${r.baseUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)));
    expect(kids[1]).toEqual(kids[0]);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = replicas[i % 2];
      const { collaborationId } = (await call<CaseBody>(r, 'POST', '/v1/cases', hukou(HB))).body;
      ids.push(collaborationId);
      await task(replicas[(i + 1) % 2], `${collaborationId}~0`, 'complete', { outputs: { approval_no: `京准迁字2026第3${i}号` } });
    }
    for (const id of ids)
      await waitFor(
        `${id} at HB`,
        () => caseAt(hebei, id),
        (c) => c?.steps?.[1]?.status === 'ASSIGNED',
      );
    const outbox = (await call<OutboxBody>(replicas[0], 'GET', '/admin/outbox?status=DELIVERED&limit=1000', undefined, replicas[0].adminToken)).body.messages.filter((m) => m.peer === HB);
    const pending = (await call<OutboxBody>(replicas[0], 'GET', '/admin/outbox?status=PENDING&limit=1000', undefined, replicas[0].adminToken)).body.messages;
    expect(pending).toEqual([]);
    const accepted = (await call<AuditBody>(hebei, 'GET', '/admin/audit?event=federation.request.accepted&limit=1000', undefined, hebei.adminToken)).body.events.filter(
      (e) => e.subject === 'Deliver' && e.actor === BJ,
    );
    // Per case: CaseOpened (carrying step 0 ASSIGNED), then StepAssigned(1) (implying step 0 COMPLETED).
    expect(outbox.length).toBe(2 * ids.length);
    expect(accepted.length).toBe(outbox.length);
  });
});
