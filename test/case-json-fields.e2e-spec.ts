import { DeliveryPayload, DeliveryReceiptPayload, StepOutcome } from '@tongban/proto';
import { FakePeer, Gateway, call, startFederation } from '@tongban/testkit';
import type { CaseBody } from './support/bodies';

// A case message whose *_json field is not a JSON object can never apply: the receiver answers with a
// REJECTED receipt naming the field, which uses up the message's seq, so the ordered stream goes on
// (docs/protocol-cases.md §2.6). An INTERNAL error instead would be retried and stall the case.
const BJ = '110000';
const TJ = '120000';

let bj: Gateway;
let tianjin: FakePeer;

beforeAll(async () => {
  [bj] = await startFederation([BJ]);
  tianjin = await FakePeer.create(TJ);
  expect((await call(bj, 'POST', '/admin/peers', { code: TJ, endpoint: '127.0.0.1:1', keys: [tianjin.jwk()] }, bj.adminToken)).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await bj?.stop();
});

function deliver(collaborationId: string, seq: number, outputsJson: string) {
  const body = StepOutcome.encode({ collaborationId, stepIndex: 1, outcome: 'COMPLETED', outputsJson, reason: '', actor: '天津公安', at: undefined }).finish();
  const payload = DeliveryPayload.encode({
    messageId: `tj-json-${seq}-${collaborationId}`,
    stream: collaborationId,
    seq: String(seq),
    type: 'tongban.cases.v1.StepOutcome',
    body: Buffer.from(body),
  }).finish();
  return FakePeer.send(bj.grpcEndpoint, 'deliver', tianjin.craft({ aud: BJ, mty: 'tongban.federation.v1.DeliveryPayload', payload }));
}

const receiptClaims = (r: Awaited<ReturnType<typeof deliver>>) => {
  expect({ code: r.code, details: r.details }).toEqual({ code: undefined, details: undefined });
  const receipt = DeliveryReceiptPayload.decode(r.envelope!.payload).receipt;
  return JSON.parse(Buffer.from(receipt.split('.')[1], 'base64url').toString()) as { sta: string; rsn?: string; seq: number };
};

it('an unparsable or non-object *_json field: REJECTED naming the field, seq used up, nothing applied; the next seq applies', async () => {
  const opened = await call<CaseBody>(bj, 'POST', '/v1/cases', {
    itemCode: 'HUKOU_SPOUSE',
    applicant: { name: '李四', idNumber: '11010519491231002X' },
    participants: { DESTINATION: BJ, ORIGIN: TJ },
    materials: [{ code: 'HOUSEHOLD_REGISTERS' }, { code: 'RESIDENT_ID_CARD' }, { code: 'MARRIAGE_CERTIFICATE' }],
    receivedAt: { office: '北京市朝阳区政务服务中心', clerk: '赵窗口', channel: 'WINDOW' },
  });
  expect(opened.status).toBe(201);
  const { collaborationId } = opened.body;
  expect((await call(bj, 'POST', `/v1/tasks/${collaborationId}~0/complete`, { outputs: { approval_no: '京准迁字2026第301号' } })).status).toBe(200);

  expect(receiptClaims(await deliver(collaborationId, 1, '{"migration_certificate_no": '))).toMatchObject({ sta: 'REJECTED', seq: 1, rsn: 'outputs_json is not a JSON object' });
  expect(receiptClaims(await deliver(collaborationId, 2, '["津迁字2026-1"]'))).toMatchObject({ sta: 'REJECTED', seq: 2, rsn: 'outputs_json is not a JSON object' });
  let c = (await call<CaseBody>(bj, 'GET', `/v1/cases/${collaborationId}`)).body;
  expect(c.steps[1].status).toBe('ASSIGNED');
  expect(c.events.filter((e) => e.type === 'STEP_COMPLETED' && e.stepIndex === 1)).toHaveLength(0);

  // The stream did not stall: seq 3 (not 1 again) is the next one, and it applies.
  expect(receiptClaims(await deliver(collaborationId, 3, JSON.stringify({ migration_certificate_no: '津迁字2026-1' })))).toMatchObject({ sta: 'ACCEPTED', seq: 3 });
  c = (await call<CaseBody>(bj, 'GET', `/v1/cases/${collaborationId}`)).body;
  expect(c.steps[1]).toMatchObject({ status: 'COMPLETED', outputs: { migration_certificate_no: '津迁字2026-1' } });
});
