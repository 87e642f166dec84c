import { Gateway, call } from '@tongban/testkit';
import type { CaseBody, OutboxBody, OutboxRow } from './bodies';
import { waitFor } from './wait';

// 多地联办 户口迁移 (工作调动, HUKOU_WORK_TRANSFER) between any two gateways, run to the end the way
// the two provinces' clerks would: the destination accepts and approves, the origin de-registers,
// the destination registers. Used by suites that need a whole case across a given pair.

const caseAt = (gw: Gateway, id: string) => call<CaseBody>(gw, 'GET', `/v1/cases/${id}`).then((r) => r.body);

async function completeTask(gw: Gateway, taskId: string, outputs: Record<string, string>): Promise<void> {
  const r = await call(gw, 'POST', `/v1/tasks/${encodeURIComponent(taskId)}/complete`, { outputs });
  if (r.status !== 200) throw new Error(`${gw.code} complete ${taskId}: ${r.status} ${JSON.stringify(r.body)}`);
}

/** Opens the case at `destination` with `origin` as the origin, completes all three steps and waits until both sides say COMPLETED. */
export async function runHukouTransfer(destination: Gateway, origin: Gateway): Promise<{ caseId: string; collaborationId: string }> {
  const opened = await call<CaseBody>(destination, 'POST', '/v1/cases', {
    itemCode: 'HUKOU_WORK_TRANSFER',
    applicant: { name: '张三', idNumber: '11010519491231002X' },
    participants: { DESTINATION: destination.code, ORIGIN: origin.code },
    materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
    receivedAt: { office: `${destination.code} 政务服务中心`, clerk: '王窗口', channel: 'WINDOW' },
  });
  if (opened.status !== 201) throw new Error(`${destination.code} open a case with origin ${origin.code}: ${opened.status} ${JSON.stringify(opened.body)}`);
  const { caseId, collaborationId } = opened.body;
  const stepAt = (gw: Gateway, id: string, index: number) =>
    waitFor(
      `${gw.code} step ${index} of ${collaborationId} ASSIGNED`,
      () => caseAt(gw, id),
      (c) => c?.steps?.[index]?.status === 'ASSIGNED',
    );
  await completeTask(destination, `${collaborationId}~0`, { approval_no: `准迁字${origin.code}第1号` });
  await stepAt(origin, collaborationId, 1);
  await completeTask(origin, `${collaborationId}~1`, { migration_certificate_no: `迁字${destination.code}000001` });
  await stepAt(destination, caseId, 2);
  await completeTask(destination, `${collaborationId}~2`, { registered_on: '2026-12-03' });
  for (const [gw, id] of [
    [destination, caseId],
    [origin, collaborationId],
  ] as const) {
    await waitFor(
      `${gw.code} sees ${collaborationId} COMPLETED`,
      () => caseAt(gw, id),
      (c) => c?.state === 'COMPLETED',
    );
  }
  return { caseId, collaborationId };
}

/**
 * The messages `from` sent to `to` on `stream`, once every one is DELIVERED (`from` checked its
 * signed receipt). The last one may still be in flight when the receiver already shows its effect.
 */
export async function deliveredOn(from: Gateway, to: Gateway, stream: string): Promise<OutboxRow[]> {
  const sent = async () => (await call<OutboxBody>(from, 'GET', '/admin/outbox?limit=1000', undefined, from.adminToken)).body.messages.filter((m) => m.peer === to.code && m.stream === stream);
  return waitFor(`${from.code} → ${to.code} on ${stream} all DELIVERED`, sent, (ms) => ms.length > 0 && ms.every((m) => m.status === 'DELIVERED'));
}
