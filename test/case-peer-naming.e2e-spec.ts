import { CaseEventNote, StepOutcome, StepStatusChanged } from '@tongban/proto';
import { FakePeer, Gateway, call } from '@tongban/testkit';
import type { CaseBody } from './support/bodies';
import { deliverFrom, gatewayWithFakePeer, openSpouseCaseWithOrigin } from './support/fake-peer-cases';

// A peer names a case by its collaboration id, on the case's own stream (docs/protocol-cases.md §2.6,
// "Naming the case"). A case message whose collaboration id is not its stream is rejected (else a
// peer could slip a message for one case into another case's ordered stream), and a receiver's local
// case id names no case for a peer, even on a stream of that name. Every handler that loads a case
// for a peer goes through the same check: the owner's (StepOutcome, CaseEventNote) and the replica's
// (StepStatusChanged here).
const BJ = '110000';
const TJ = '120000';

let bj: Gateway;
let tianjin: FakePeer;
let delivered = 0;

beforeAll(async () => {
  ({ gw: bj, peer: tianjin } = await gatewayWithFakePeer(BJ, TJ));
}, 60_000);

afterAll(async () => {
  await bj?.stop();
});

type Body = { type: string; bytes: Uint8Array };
const outcome = (collaborationId: string): Body => ({
  type: 'tongban.cases.v1.StepOutcome',
  bytes: StepOutcome.encode({
    collaborationId,
    stepIndex: 1,
    outcome: 'COMPLETED',
    outputsJson: JSON.stringify({ migration_certificate_no: '津迁字2026-7' }),
    reason: '',
    actor: '天津公安',
    at: undefined,
  }).finish(),
});
const note = (collaborationId: string): Body => ({
  type: 'tongban.cases.v1.CaseEventNote',
  bytes: CaseEventNote.encode({ collaborationId, type: 'POSTAL_MATERIALS_SENT', detailsJson: JSON.stringify({ carrier: 'EMS', trackingNumber: 'E1' }), actor: '天津公安', at: undefined }).finish(),
});
const statusChanged = (collaborationId: string): Body => ({
  type: 'tongban.cases.v1.StepStatusChanged',
  bytes: StepStatusChanged.encode({ collaborationId, stepIndex: 0, status: 'CANCELLED', actor: '天津公安', at: undefined, reason: '' }).finish(),
});

/** Delivers `body` from 天津 on `stream` at `seq`; resolves with the receipt's claims. */
const deliver = (stream: string, seq: number, body: Body) => deliverFrom(tianjin, bj, { messageId: `tj-naming-${++delivered}`, stream, seq, type: body.type, body: body.bytes });

it('a case message on another stream, or naming a local case id, is rejected and changes nothing; on its own stream by collaboration id it applies', async () => {
  const { collaborationId, caseId } = await openSpouseCaseWithOrigin(bj, TJ, '京准迁字2026第302号');
  expect(caseId).not.toBe(collaborationId);
  const before = (await call<CaseBody>(bj, 'GET', `/v1/cases/${collaborationId}`)).body;
  expect(before.steps[1].status).toBe('ASSIGNED');

  // The right case named on another stream: rejected before the case is read.
  const elsewhere = `${TJ}-another-stream`;
  expect(await deliver(elsewhere, 1, outcome(collaborationId))).toMatchObject({ sta: 'REJECTED', seq: 1, rsn: 'collaboration id differs from the stream' });
  expect(await deliver(elsewhere, 2, note(collaborationId))).toMatchObject({ sta: 'REJECTED', seq: 2, rsn: 'collaboration id differs from the stream' });
  expect(await deliver(elsewhere, 3, statusChanged(collaborationId))).toMatchObject({ sta: 'REJECTED', seq: 3, rsn: 'collaboration id differs from the stream' });

  // 北京's local case id, on a stream of that name: no case, for a peer.
  expect(await deliver(caseId, 1, outcome(caseId))).toMatchObject({ sta: 'REJECTED', seq: 1, rsn: `NOT_FOUND: no case ${caseId}` });
  expect(await deliver(caseId, 2, note(caseId))).toMatchObject({ sta: 'REJECTED', seq: 2, rsn: `NOT_FOUND: no case ${caseId}` });
  expect(await deliver(caseId, 3, statusChanged(caseId))).toMatchObject({ sta: 'REJECTED', seq: 3, rsn: `NOT_FOUND: no case ${caseId}` });

  const unchanged = (await call<CaseBody>(bj, 'GET', `/v1/cases/${collaborationId}`)).body;
  expect(unchanged.steps.map((s) => s.status)).toEqual(before.steps.map((s) => s.status));
  expect(unchanged.events).toHaveLength(before.events.length);

  // By its collaboration id on its own stream, the same outcome applies.
  expect(await deliver(collaborationId, 1, outcome(collaborationId))).toMatchObject({ sta: 'ACCEPTED', seq: 1 });
  const after = (await call<CaseBody>(bj, 'GET', `/v1/cases/${collaborationId}`)).body;
  expect(after.steps[1]).toMatchObject({ status: 'COMPLETED', outputs: { migration_certificate_no: '津迁字2026-7' } });
});
