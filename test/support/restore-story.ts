import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gateway, call, runCli, startGateway } from '@tongban/testkit';
import type { AuditBody, CaseBody, CaseListBody, OutboxBody } from './bodies';
import { waitFor } from './wait';

/** 北京: the owner of every case of the story. */
export const BJ = '110000';
/** 河北: the gateway backed up and restored. */
export const HB = '130000';
export const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };

/** How one database backs up and restores 河北 (SQLite: tongban backup/restore; PostgreSQL: pg_dump, pg_restore, mark). */
export interface RestoreSteps {
  /** Backs 河北 up while it serves, with messages to 北京 still queued. */
  backup(hb: Gateway): Promise<void>;
  /** 河北 still runs: the restore must be refused. */
  refusedWhileRunning(hb: Gateway): Promise<void>;
  /** 河北 is stopped: restore the backup and leave it in the restored state. */
  restore(hb: Gateway): Promise<void>;
}

const hukou = {
  itemCode: 'HUKOU_WORK_TRANSFER',
  applicant: { name: '张三', idNumber: '11010519491231002X' },
  participants: { DESTINATION: BJ, ORIGIN: HB },
  materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
  receivedAt: { office: '北京市东城区政务服务中心', clerk: '王窗口', channel: 'WINDOW' },
};

const caseAt = (gw: Gateway, id: string) => call<CaseBody>(gw, 'GET', `/v1/cases/${id}`).then((r) => r.body);
const ok = async (p: Promise<{ status: number; body: unknown }>) => {
  const r = await p;
  if (r.status !== 200 && r.status !== 201) throw new Error(`${r.status} ${JSON.stringify(r.body)}`);
  return r;
};
const task = (gw: Gateway, id: string, action: string, body: unknown = {}) => ok(call(gw, 'POST', `/v1/tasks/${encodeURIComponent(id)}/${action}`, body));
const stepAt = (gw: Gateway, id: string, index: number, status: string) =>
  waitFor(
    `${id} step ${index} ${status} at ${gw.code}`,
    () => caseAt(gw, id),
    (c) => c?.steps?.[index]?.status === status,
    30_000,
  );
const count = (events: { type: string; stepIndex: number | null }[], type: string, step: number | null = null) => events.filter((e) => e.type === type && e.stepIndex === step).length;

/**
 * Backup and restore with a peer that moved on (docs/operations.md §8.3–8.6): 河北 is backed up
 * while serving, with a message still queued; cases go on; 河北 is stopped and restored to the
 * backup; at start it resynchronises with 北京. Afterwards every case exists once on both sides in
 * the same state, no message was applied twice, a new message of 河北 on a case whose messages it
 * lost is accepted (its seq floor was raised), and 河北's audit trail verifies. Returns 河北 as
 * restarted (stopped again).
 */
export async function restoreStory(bj: Gateway, first: Gateway, steps: RestoreSteps): Promise<Gateway> {
  let hb = first;
  const open = async () => (await ok(call<CaseBody>(bj, 'POST', '/v1/cases', hukou))).body as CaseBody;
  const setPeer = (status: 'ACTIVE' | 'SUSPENDED') => ok(call(hb, 'PATCH', `/admin/peers/${BJ}`, { status }, hb.adminToken));
  const sameEverywhere = (id: string) =>
    waitFor(
      `${id} in the same state at ${BJ} and ${HB}`,
      async () => [await caseAt(bj, id), await caseAt(hb, id)],
      ([a, b]) => !!a?.state && a.state === b?.state && JSON.stringify(a.steps.map((s) => s.status)) === JSON.stringify(b.steps?.map((s) => s.status)),
      45_000,
    );

  // Before the backup: c1 runs to the end; c2 waits at 河北's step, which 河北 completes while its
  // messages to 北京 are held back (北京 suspended in 河北's trust store), so the backup holds them PENDING.
  const c1 = (await open()).collaborationId;
  await task(bj, `${c1}~0`, 'complete', { outputs: { approval_no: 'A-1' } });
  await stepAt(hb, c1, 1, 'ASSIGNED');
  await task(hb, `${c1}~1`, 'complete', { outputs: { migration_certificate_no: 'M-1' } });
  await stepAt(bj, c1, 2, 'ASSIGNED');
  await task(bj, `${c1}~2`, 'complete', { outputs: { registered_on: '2026-12-01' } });
  const c2 = (await open()).collaborationId;
  await task(bj, `${c2}~0`, 'complete', { outputs: { approval_no: 'A-2' } });
  await stepAt(hb, c2, 1, 'ASSIGNED');
  await sameEverywhere(c1);
  await setPeer('SUSPENDED');
  await task(hb, `${c2}~1`, 'accept');
  await task(hb, `${c2}~1`, 'complete', { outputs: { migration_certificate_no: 'M-2' } });

  await steps.backup(hb);

  // After the backup: the held messages go; c2 closes; c3 opens and 河北 completes its step.
  await setPeer('ACTIVE');
  await stepAt(bj, c2, 2, 'ASSIGNED');
  await task(bj, `${c2}~2`, 'complete', { outputs: { registered_on: '2026-12-02' } });
  const c3 = (await open()).collaborationId;
  await task(bj, `${c3}~0`, 'complete', { outputs: { approval_no: 'A-3' } });
  await stepAt(hb, c3, 1, 'ASSIGNED');
  await task(hb, `${c3}~1`, 'complete', { outputs: { migration_certificate_no: 'M-3' } });
  await stepAt(bj, c3, 2, 'ASSIGNED');
  await sameEverywhere(c2);
  const jwks = join(hb.options.dir, 'hb-jwks.json');
  writeFileSync(jwks, await fetch(`${hb.baseUrl}/.well-known/jwks.json`).then((r) => r.text()));

  await steps.refusedWhileRunning(hb);
  await hb.stop();
  await steps.restore(hb);
  hb = await startGateway(hb.options);
  // The backup was made while 北京 was suspended in 河北's trust store: the restore brought that back.
  await setPeer('ACTIVE');

  // 北京 sends again what 河北 lost (c3 comes back, its step 1 assigned: 河北's completion was lost).
  // 河北 then writes a note on c3, whose messages from 河北 it lost: its seq floor must put it after them.
  await stepAt(hb, c3, 1, 'ASSIGNED');
  await ok(call(hb, 'POST', `/v1/cases/${c3}/postal`, { item: 'MATERIALS', event: 'SENT', carrier: 'EMS', trackingNumber: 'EMS1234567890' }));
  await waitFor(
    `postal note of ${HB} on ${c3} at ${BJ}`,
    () => caseAt(bj, c3),
    (c) => count(c.events, 'POSTAL_MATERIALS_SENT') === 1,
    45_000,
  );
  await task(bj, `${c3}~2`, 'complete', { outputs: { registered_on: '2026-12-03' } });
  for (const id of [c1, c2, c3]) expect((await sameEverywhere(id))[0].state).toBe('COMPLETED');

  // Once each, on both sides; no message applied twice (the re-sent StepOutcome of c2 was answered from 北京's inbox).
  for (const gw of [bj, hb]) {
    const ids = (await call<CaseListBody>(gw, 'GET', '/v1/cases?limit=1000')).body.cases.map((c) => c.collaborationId);
    expect(ids.filter((id) => [c1, c2, c3].includes(id)).sort()).toEqual([c1, c2, c3].sort());
  }
  const atBj = await caseAt(bj, c2);
  expect([count(atBj.events, 'CASE_OPENED'), count(atBj.events, 'STEP_ACCEPTED', 1), count(atBj.events, 'STEP_COMPLETED', 1), count(atBj.events, 'CASE_COMPLETED')]).toEqual([1, 1, 1, 1]);
  for (const id of [c2, c3]) {
    const atHb = await caseAt(hb, id);
    expect([count(atHb.events, 'CASE_OPENED'), count(atHb.events, 'CASE_COMPLETED')]).toEqual([1, 1]);
  }
  for (const gw of [bj, hb]) {
    const dead = await call<OutboxBody>(gw, 'GET', '/admin/outbox?status=DEAD', undefined, gw.adminToken);
    expect(dead.body.messages).toEqual([]);
  }

  // The audit trail: backup.restored, then backup.resynced for 北京 (which wrote federation.resync.served).
  const resynced = (await call<AuditBody>(hb, 'GET', '/admin/audit?event=backup.resynced', undefined, hb.adminToken)).body.events;
  expect(resynced).toHaveLength(1);
  expect(resynced[0]).toMatchObject({ actor: 'system', subject: BJ, outcome: 'OK' });
  // One floor: c3, on which 北京 holds 河北's StepOutcome the restore took from 河北's outbox.
  const details = JSON.parse(resynced[0].details as string) as Record<string, number>;
  expect(details).toMatchObject({ floorsRaised: 1, lostOwnStreams: 0, unrecoverable: 0 });
  expect(details.requeuedByPeer).toBeGreaterThan(0);
  const served = (await call<AuditBody>(bj, 'GET', '/admin/audit?event=federation.resync.served', undefined, bj.adminToken)).body.events;
  expect(served).toMatchObject([{ actor: HB, subject: 'Resync', outcome: 'OK' }]);
  await hb.stop();
  const verified = await runCli(hb.options, ['audit', 'verify', '--jwks', jwks]);
  expect(verified.stdout).toMatch(/^audit chain PROVEN: \d+ entries/);
  expect(verified.code).toBe(0);
  return hb;
}
