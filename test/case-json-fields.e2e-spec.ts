import { StepOutcome } from '@tongban/proto';
import { FakePeer, Gateway, call } from '@tongban/testkit';
import type { CaseBody } from './support/bodies';
import { deliverFrom, gatewayWithFakePeer, openSpouseCaseWithOrigin } from './support/fake-peer-cases';

// A case message whose *_json field is not a JSON object can never apply: the receiver answers with a
// REJECTED receipt naming the field, which uses up the message's seq, so the ordered stream goes on
// (docs/protocol-cases.md §2.6). An INTERNAL error instead would be retried and stall the case.
const BJ = '110000';
const TJ = '120000';

let bj: Gateway;
let tianjin: FakePeer;

beforeAll(async () => {
  ({ gw: bj, peer: tianjin } = await gatewayWithFakePeer(BJ, TJ));
}, 60_000);

afterAll(async () => {
  await bj?.stop();
});

function deliver(collaborationId: string, seq: number, outputsJson: string) {
  const body = StepOutcome.encode({ collaborationId, stepIndex: 1, outcome: 'COMPLETED', outputsJson, reason: '', actor: '天津公安', at: undefined }).finish();
  return deliverFrom(tianjin, bj, { messageId: `tj-json-${seq}-${collaborationId}`, stream: collaborationId, seq, type: 'tongban.cases.v1.StepOutcome', body });
}

it('an unparsable or non-object *_json field: REJECTED naming the field, seq used up, nothing applied; the next seq applies', async () => {
  const { collaborationId } = await openSpouseCaseWithOrigin(bj, TJ, '京准迁字2026第301号');

  expect(await deliver(collaborationId, 1, '{"migration_certificate_no": ')).toMatchObject({ sta: 'REJECTED', seq: 1, rsn: 'outputs_json is not a JSON object' });
  expect(await deliver(collaborationId, 2, '["津迁字2026-1"]')).toMatchObject({ sta: 'REJECTED', seq: 2, rsn: 'outputs_json is not a JSON object' });
  let c = (await call<CaseBody>(bj, 'GET', `/v1/cases/${collaborationId}`)).body;
  expect(c.steps[1].status).toBe('ASSIGNED');
  expect(c.events.filter((e) => e.type === 'STEP_COMPLETED' && e.stepIndex === 1)).toHaveLength(0);

  // The stream did not stall: seq 3 (not 1 again) is the next one, and it applies.
  expect(await deliver(collaborationId, 3, JSON.stringify({ migration_certificate_no: '津迁字2026-1' }))).toMatchObject({ sta: 'ACCEPTED', seq: 3 });
  c = (await call<CaseBody>(bj, 'GET', `/v1/cases/${collaborationId}`)).body;
  expect(c.steps[1]).toMatchObject({ status: 'COMPLETED', outputs: { migration_certificate_no: '津迁字2026-1' } });
});
