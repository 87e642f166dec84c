import { Gateway, call, startFederation } from '@tongban/testkit';
import type { CaseBody, TaskListBody } from './support/bodies';
import { waitFor, waitForOutput } from './support/wait';

// The working-day calendar knows holidays only for the years it lists. A deadline computed past its
// end counts unknown holidays as working days: it is marked dueAtProvisional, at the owner and at
// the province that receives the step; the gateway warns and exposes where the calendar ends.
const BJ = '110000';
const HB = '130000';
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };

let gws: Record<string, Gateway>;

beforeAll(async () => {
  const list = await startFederation([BJ, HB], { env: FAST });
  gws = Object.fromEntries(list.map((g) => [g.code, g]));
}, 60_000);

afterAll(async () => {
  await Promise.all(Object.values(gws ?? {}).map((g) => g.stop()));
});

const metric = async (gw: Gateway, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(await (await fetch(`${gw.baseUrl}/metrics`)).text())?.[1]);

it('a calendar that ends before today: warning, metric, and every deadline computed past it is provisional, also across the wire', async () => {
  // A calendar version holding only 2025 (today is later, whatever the date the test runs on).
  const current = (await call(gws[BJ], 'GET', '/admin/calendar', undefined, gws[BJ].adminToken)).body as { holidays: string[]; workdays: string[] };
  const only2025 = { ...current, version: 'e2e-only-2025', holidays: current.holidays.filter((d) => d.startsWith('2025')), workdays: current.workdays.filter((d) => d.startsWith('2025')) };
  const loaded = await call(gws[BJ], 'PUT', '/admin/calendar', only2025, gws[BJ].adminToken);
  expect(loaded.status).toBe(200);
  await waitForOutput(gws[BJ], /the working-day calendar \(version e2e-only-2025\) knows public holidays only until 2025-12-31/);
  expect(await metric(gws[BJ], 'tongban_calendar_covered_until_seconds')).toBe(Date.parse('2026-01-01T00:00:00+08:00') / 1000);

  const opened = await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', {
    itemCode: 'HUKOU_WORK_TRANSFER',
    applicant: { name: '张三', idNumber: '11010519491231002X' },
    participants: { DESTINATION: BJ, ORIGIN: HB },
    materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
    receivedAt: { office: '北京市东城区政务服务中心', clerk: '王窗口', channel: 'WINDOW' },
  });
  expect(opened.status).toBe(201);
  const { collaborationId } = opened.body;
  expect(opened.body.steps[0]).toMatchObject({ status: 'ASSIGNED', dueAtProvisional: true });
  expect(opened.body.steps[1]).toMatchObject({ status: 'WAITING', dueAtProvisional: false, dueAt: null });

  // Step 1 goes to 河北 with its deadline computed by 北京: 河北 learns it is provisional from StepAssigned.
  const done = await call(gws[BJ], 'POST', `/v1/tasks/${encodeURIComponent(`${collaborationId}~0`)}/complete`, { outputs: { approval_no: '京准迁字2026第001号' } });
  expect(done.status).toBe(200);
  const hb = await waitFor(
    `step 1 assigned at ${HB}`,
    () => call<CaseBody | undefined>(gws[HB], 'GET', `/v1/cases/${collaborationId}`).then((r) => r.body),
    (c) => c?.steps?.[1]?.status === 'ASSIGNED',
  );
  expect(hb!.steps[1]).toMatchObject({ dueAtProvisional: true, dueAt: expect.any(String) });
  // 河北's replica of step 0 (from CaseOpened) carries the flag too.
  expect(hb!.steps[0].dueAtProvisional).toBe(true);
  const tasks = (await call<TaskListBody>(gws[HB], 'GET', '/v1/tasks?status=ASSIGNED')).body.tasks;
  expect(tasks.find((t) => t.id === `${collaborationId}~1`)).toMatchObject({ dueAtProvisional: true });
});
