import { Gateway, call, dropFederationSchemas, startFederation, startGateway } from '@tongban/testkit';
import type { CaseBody, CaseListBody, ErrorBody, OutboxBody, TaskListBody } from './support/bodies';
import { waitFor } from './support/wait';

// Three real gateways: 北京 110000, 河北 130000, 广东 440000; cases routed between them over signed gRPC.
const BJ = '110000';
const HB = '130000';
const GD = '440000';
const FAST = { TONGBAN_DELIVERY_BACKOFF_BASE_MS: '50', TONGBAN_DELIVERY_BACKOFF_CAP_MS: '400', TONGBAN_DELIVERY_POLL_MS: '100' };

let gws: Record<string, Gateway>;

const applicant = { name: '张三', idNumber: '11010519491231002X' };
const received = { office: '北京市东城区政务服务中心', clerk: '王窗口', channel: 'WINDOW' };

function hukou(origin = HB) {
  return {
    itemCode: 'HUKOU_WORK_TRANSFER',
    applicant,
    participants: { DESTINATION: BJ, ORIGIN: origin },
    materials: [{ code: 'HOUSEHOLD_REGISTER' }, { code: 'RESIDENT_ID_CARD' }, { code: 'TRANSFER_PROOF', form: 'PAPER' }],
    receivedAt: received,
  };
}

const caseAt = (gw: Gateway, id: string) => call<CaseBody>(gw, 'GET', `/v1/cases/${id}`).then((r) => r.body);
const task = (gw: Gateway, id: string, action: string, body: unknown = {}) => call<ErrorBody>(gw, 'POST', `/v1/tasks/${encodeURIComponent(id)}/${action}`, body);
const stateAt = (gw: Gateway, id: string, state: string) =>
  waitFor(
    `${id} ${state} at ${gw.code}`,
    () => caseAt(gw, id),
    (c) => c?.state === state,
  );
const stepAt = (gw: Gateway, id: string, index: number, status: string) =>
  waitFor(
    `${id} step ${index} ${status} at ${gw.code}`,
    () => caseAt(gw, id),
    (c) => c?.steps?.[index]?.status === status,
  );

// The same scenarios on the embedded database and on PostgreSQL (one schema per gateway); the
// PostgreSQL run is skipped (loudly, by test/global-setup.js) only when no server is reachable outside CI.
const DATABASES: ('sqlite' | 'postgres')[] = process.env.TEST_PG_AVAILABLE === '1' ? ['sqlite', 'postgres'] : ['sqlite'];

describe.each(DATABASES)('cases on %s', (database) => {
  beforeAll(async () => {
    const list = await startFederation([BJ, HB, GD], { env: FAST }, database);
    gws = Object.fromEntries(list.map((g) => [g.code, g]));
  }, 60_000);

  afterAll(async () => {
    const list = Object.values(gws ?? {});
    await Promise.all(list.map((g) => g.stop()));
    await dropFederationSchemas(list);
  });

  describe('多地联办: 户口迁移 (工作调动) between 北京 (destination) and 河北 (origin)', () => {
    it('succeeds: approve → de-register within 5 working days → register within 2, same final state everywhere', async () => {
      const opened = await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou());
      expect(opened.status).toBe(201);
      const { caseId, collaborationId } = opened.body;
      expect(collaborationId).toMatch(/^110000-\d{8}-[0-9A-F]{10}$/);
      expect(opened.body.applicant.idNumber).not.toContain('19491231');
      expect(opened.body.steps.map((s) => [s.province, s.status])).toEqual([
        [BJ, 'ASSIGNED'],
        [HB, 'WAITING'],
        [BJ, 'WAITING'],
      ]);
      expect(opened.body.steps[0].dueAt).toBeTruthy();

      expect((await task(gws[BJ], `${collaborationId}~0`, 'complete', { outputs: { approval_no: '京准迁字2026第001号' } })).status).toBe(200);
      const hb = await stepAt(gws[HB], collaborationId, 1, 'ASSIGNED');
      expect(hb.acceptingProvince).toBe(BJ);
      expect(hb.steps[1].inputs).toEqual({ approval_no: '京准迁字2026第001号' });
      expect(hb.steps[1].timeLimitWorkingDays).toBe(5);
      const tasks = (await call<TaskListBody>(gws[HB], 'GET', '/v1/tasks?status=ASSIGNED')).body.tasks;
      expect(tasks.map((t) => t.id)).toContain(`${collaborationId}~1`);
      const who = await call(gws[HB], 'GET', `/v1/tasks/${collaborationId}~1/applicant`);
      expect(who.body).toEqual(applicant);

      expect((await task(gws[HB], `${collaborationId}~1`, 'accept')).status).toBe(200);
      const done = await task(gws[HB], `${collaborationId}~1`, 'complete', { outputs: { migration_certificate_no: '冀迁字2026000123' } });
      expect(done.status).toBe(200);
      const bj = await stepAt(gws[BJ], caseId, 2, 'ASSIGNED');
      expect(bj.steps[1]).toMatchObject({ status: 'COMPLETED', outputs: { migration_certificate_no: '冀迁字2026000123' } });
      expect(bj.steps[2].inputs).toEqual({ migration_certificate_no: '冀迁字2026000123' });

      expect((await task(gws[BJ], `${collaborationId}~2`, 'complete', { outputs: { registered_on: '2026-11-26' } })).status).toBe(200);
      expect((await caseAt(gws[BJ], caseId)).state).toBe('COMPLETED');
      const final = await stateAt(gws[HB], collaborationId, 'COMPLETED');
      expect(final.steps.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
      expect(final.events.map((e) => e.type)).toEqual(expect.arrayContaining(['CASE_OPENED', 'STEP_ASSIGNED', 'STEP_COMPLETED', 'CASE_COMPLETED']));
      // 广东 takes no part: it never heard of the case.
      expect((await call(gws[GD], 'GET', `/v1/cases/${collaborationId}`)).status).toBe(404);
    });

    it('the origin refuses (不予迁出): REFUSED everywhere, naming the step and the reason', async () => {
      const { collaborationId } = (await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou())).body;
      await task(gws[BJ], `${collaborationId}~0`, 'complete', { outputs: { approval_no: '京准迁字2026第002号' } });
      await stepAt(gws[HB], collaborationId, 1, 'ASSIGNED');
      expect((await task(gws[HB], `${collaborationId}~1`, 'refuse', { reason: '户籍信息不符，不予迁出' })).status).toBe(200);
      const bj = await stateAt(gws[BJ], collaborationId, 'REFUSED');
      expect(bj).toMatchObject({ refusedStep: 1, closeReason: '户籍信息不符，不予迁出' });
      expect(bj.steps[2].status).toBe('CANCELLED');
      await stateAt(gws[HB], collaborationId, 'REFUSED');
    });

    it('bad input is a 400 naming the field, and changes nothing', async () => {
      const before = (await call<CaseListBody>(gws[BJ], 'GET', '/v1/cases?limit=1000')).body.cases.length;
      const cases: [unknown, string, string][] = [
        [{ ...hukou(), itemCode: 'NO_SUCH_ITEM' }, 'itemCode', 'UNKNOWN_ITEM'],
        [{ ...hukou(), participants: { DESTINATION: BJ } }, 'participants.ORIGIN', 'REQUIRED'],
        [{ ...hukou(), participants: { DESTINATION: HB, ORIGIN: BJ } }, 'participants.DESTINATION', 'ACCEPTING_PROVINCE'],
        [{ ...hukou(), applicant: { name: '张三', idNumber: '110105194912310021' } }, 'applicant.idNumber', 'GB11643_CHECK_CHARACTER'],
        [{ ...hukou(), materials: [{ code: 'RESIDENT_ID_CARD' }] }, 'materials', 'REQUIRED_MATERIAL'],
      ];
      for (const [body, field, rule] of cases) {
        const r = await call<ErrorBody>(gws[BJ], 'POST', '/v1/cases', body);
        expect({ status: r.status, field: r.body.error?.field, rule: r.body.error?.rule }).toEqual({ status: 400, field, rule });
        expect(JSON.stringify(r.body)).not.toContain('110105194912310021');
      }
      expect((await call<CaseListBody>(gws[BJ], 'GET', '/v1/cases?limit=1000')).body.cases.length).toBe(before);
      const { collaborationId } = (await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou())).body;
      const missing = await task(gws[BJ], `${collaborationId}~0`, 'complete', { outputs: {} });
      expect(missing.body.error).toMatchObject({ field: 'outputs.approval_no', rule: 'REQUIRED' });
      const twice = await task(gws[BJ], `${collaborationId}~0`, 'refuse', { reason: 'x' });
      expect(twice.status).toBe(200);
      expect((await task(gws[BJ], `${collaborationId}~0`, 'complete', { outputs: { approval_no: 'A1' } })).status).toBe(409);
    });
  });

  describe('养老保险关系转移接续 (three steps, 15 working days each)', () => {
    it('new office → old office → new office, completed on both sides', async () => {
      const body = {
        itemCode: 'PENSION_TRANSFER',
        applicant,
        participants: { NEW_OFFICE: GD, OLD_OFFICE: HB },
        materials: [{ code: 'RESIDENT_ID_CARD' }],
        receivedAt: { ...received, office: '广州市社保中心' },
      };
      const opened = await call<CaseBody>(gws[GD], 'POST', '/v1/cases', body);
      expect(opened.status).toBe(201);
      const id = opened.body.collaborationId;
      expect(opened.body.steps.map((s) => s.timeLimitWorkingDays)).toEqual([15, 15, 15]);
      await task(gws[GD], `${id}~0`, 'complete', { outputs: { acceptance_letter_no: '粤社保接字2026-77' } });
      await stepAt(gws[HB], id, 1, 'ASSIGNED');
      await task(gws[HB], `${id}~1`, 'complete', { outputs: { transfer_record_no: '冀转字2026-9', funds_transferred_on: '2026-11-25' } });
      await stepAt(gws[GD], id, 2, 'ASSIGNED');
      await task(gws[GD], `${id}~2`, 'complete', { outputs: { completed_on: '2026-11-27' } });
      await stateAt(gws[GD], id, 'COMPLETED');
      await stateAt(gws[HB], id, 'COMPLETED');
    });
  });

  describe('异地代收代办: 无犯罪记录证明 collected in 广东, decided in 北京', () => {
    it('records review, postal tracking of materials and result, and result delivery on both sides', async () => {
      const body = {
        itemCode: 'NO_CRIMINAL_RECORD',
        applicant,
        participants: { RECEIVING: GD, HOME: BJ },
        materials: [{ code: 'RESIDENT_ID_CARD' }, { code: 'APPLICATION_FORM', form: 'PAPER' }],
        receivedAt: { office: '深圳市福田区政务服务中心', clerk: '李窗口', channel: 'WINDOW' },
      };
      const opened = await call<CaseBody>(gws[GD], 'POST', '/v1/cases', body);
      expect(opened.body.mode).toBe('PROXY');
      const id = opened.body.collaborationId;
      await task(gws[GD], `${id}~0`, 'complete', { note: '形式审查通过，身份核验通过' });
      expect((await call(gws[GD], 'POST', `/v1/cases/${id}/postal`, { item: 'MATERIALS', event: 'SENT', carrier: 'EMS', trackingNumber: 'EMS1234567890' })).status).toBe(200);
      await stepAt(gws[BJ], id, 1, 'ASSIGNED');
      await waitFor(
        'postal note at BJ',
        () => caseAt(gws[BJ], id),
        (c) => c.events.some((e) => e.type === 'POSTAL_MATERIALS_SENT' && e.details?.trackingNumber === 'EMS1234567890'),
      );
      expect((await call(gws[BJ], 'POST', `/v1/cases/${id}/postal`, { item: 'MATERIALS', event: 'RECEIVED', carrier: 'EMS', trackingNumber: 'EMS1234567890' })).status).toBe(200);
      await task(gws[BJ], `${id}~1`, 'complete', { outputs: { certificate_no: '京无犯证2026-1' } });
      await call(gws[BJ], 'POST', `/v1/cases/${id}/postal`, { item: 'RESULT', event: 'SENT', carrier: 'EMS', trackingNumber: 'EMS999000111' });
      await stepAt(gws[GD], id, 2, 'ASSIGNED');
      await waitFor(
        'result posted, seen at GD',
        () => caseAt(gws[GD], id),
        (c) => c.events.some((e) => e.type === 'POSTAL_RESULT_SENT'),
      );
      await call(gws[GD], 'POST', `/v1/cases/${id}/result-delivery`, { channel: 'WINDOW', reference: '当面领取' });
      await task(gws[GD], `${id}~2`, 'complete', { outputs: { delivered_on: '2026-11-28' } });
      const bj = await stateAt(gws[BJ], id, 'COMPLETED');
      const types = bj.events.map((e) => e.type);
      expect(types).toEqual(expect.arrayContaining(['POSTAL_MATERIALS_SENT', 'POSTAL_MATERIALS_RECEIVED', 'POSTAL_RESULT_SENT', 'RESULT_DELIVERED']));
      const bad = await call<ErrorBody>(gws[GD], 'POST', `/v1/cases/${id}/postal`, { item: 'RESULT', event: 'SENT', carrier: 'EMS', trackingNumber: '!' });
      expect(bad.body.error).toMatchObject({ field: 'trackingNumber' });
    });
  });

  describe('cancellation', () => {
    it('the accepting office cancels with a reason; every participant sees CANCELLED and the task is gone', async () => {
      const { collaborationId } = (await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou())).body;
      await task(gws[BJ], `${collaborationId}~0`, 'complete', { outputs: { approval_no: '京准迁字2026第003号' } });
      await stepAt(gws[HB], collaborationId, 1, 'ASSIGNED');
      expect((await call(gws[HB], 'POST', `/v1/cases/${collaborationId}/cancel`, { reason: 'x' })).status).toBe(403);
      const cancelled = await call(gws[BJ], 'POST', `/v1/cases/${collaborationId}/cancel`, { reason: '申请人撤回申请' });
      expect(cancelled.body).toMatchObject({ state: 'CANCELLED', closeReason: '申请人撤回申请' });
      const hb = await stateAt(gws[HB], collaborationId, 'CANCELLED');
      expect(hb.steps[1].status).toBe('CANCELLED');
      const open = (await call<TaskListBody>(gws[HB], 'GET', '/v1/tasks')).body.tasks.map((t) => t.id);
      expect(open).not.toContain(`${collaborationId}~1`);
      expect((await task(gws[HB], `${collaborationId}~1`, 'complete', { outputs: { migration_certificate_no: 'X1' } })).status).toBe(409);
    });
  });

  describe('a participant that is down', () => {
    it('messages wait in the outbox and go out when it returns; the case completes', async () => {
      await gws[HB].stop();
      const { collaborationId } = (await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou())).body;
      await task(gws[BJ], `${collaborationId}~0`, 'complete', { outputs: { approval_no: '京准迁字2026第004号' } });
      const pending = await waitFor(
        'undelivered messages to HB',
        () => call<OutboxBody>(gws[BJ], 'GET', '/admin/outbox?status=PENDING', undefined, gws[BJ].adminToken),
        (r) => r.body.messages.some((m) => m.peer === HB && m.stream === collaborationId && m.attempts > 0),
      );
      expect(pending.body.messages.find((m) => m.stream === collaborationId)?.lastError).toMatch(/ISSUER_UNREACHABLE|did not answer/);
      gws[HB] = await startGateway(gws[HB].options);
      await stepAt(gws[HB], collaborationId, 1, 'ASSIGNED');
      await task(gws[HB], `${collaborationId}~1`, 'complete', { outputs: { migration_certificate_no: '冀迁字2026000999' } });
      await stepAt(gws[BJ], collaborationId, 2, 'ASSIGNED');
      await task(gws[BJ], `${collaborationId}~2`, 'complete', { outputs: { registered_on: '2026-11-30' } });
      await stateAt(gws[HB], collaborationId, 'COMPLETED');
      const delivered = (await call<OutboxBody>(gws[BJ], 'GET', '/admin/outbox?status=DELIVERED&limit=1000', undefined, gws[BJ].adminToken)).body.messages.filter((m) => m.stream === collaborationId);
      expect(delivered.length).toBeGreaterThanOrEqual(3);
      for (const m of delivered) expect(m.receipt?.split('.')).toHaveLength(3);
    });
  });

  describe('peer policy for cases', () => {
    it('we do not route an item a peer is not allowed, and a peer rejects an item it does not accept', async () => {
      await call(gws[BJ], 'PATCH', `/admin/peers/${HB}`, { allowedItems: ['PENSION_TRANSFER'] }, gws[BJ].adminToken);
      try {
        const refused = await call<ErrorBody>(gws[BJ], 'POST', '/v1/cases', hukou());
        expect(refused.status).toBe(400);
        expect(refused.body.error).toMatchObject({ field: 'participants.ORIGIN', rule: 'ITEM_NOT_ALLOWED' });
      } finally {
        await call(gws[BJ], 'PATCH', `/admin/peers/${HB}`, { allowedItems: ['*'] }, gws[BJ].adminToken);
      }
      await call(gws[HB], 'PATCH', `/admin/peers/${BJ}`, { allowedItems: ['PENSION_TRANSFER'] }, gws[HB].adminToken);
      try {
        const { collaborationId } = (await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou())).body;
        const rejected = await waitFor(
          'a REJECTED receipt from 河北',
          () => call<OutboxBody>(gws[BJ], 'GET', '/admin/outbox?status=DELIVERED&limit=1000', undefined, gws[BJ].adminToken),
          (r) => r.body.messages.some((m) => m.stream === collaborationId && /ITEM_NOT_ALLOWED/.test(m.lastError ?? '')),
        );
        const receipt = rejected.body.messages.find((m) => m.stream === collaborationId)?.receipt ?? '';
        expect(JSON.parse(Buffer.from(receipt.split('.')[1], 'base64url').toString())).toMatchObject({ iss: HB, sta: 'REJECTED' });
        expect((await call(gws[HB], 'GET', `/v1/cases/${collaborationId}`)).status).toBe(404);
      } finally {
        await call(gws[HB], 'PATCH', `/admin/peers/${BJ}`, { allowedItems: ['*'] }, gws[HB].adminToken);
      }
    });

    it('we do not give a peer a role it is not allowed, and a peer rejects a case in which we take a role it does not accept', async () => {
      // 北京 lets 河北 act only as DESTINATION: 河北 as ORIGIN is refused before anything is written.
      expect((await call(gws[BJ], 'PATCH', `/admin/peers/${HB}`, { allowedRoles: ['DESTINATION'] }, gws[BJ].adminToken)).status).toBe(200);
      try {
        const casesBefore = (await call<CaseListBody>(gws[BJ], 'GET', '/v1/cases?limit=1000')).body.cases.length;
        const refused = await call<ErrorBody>(gws[BJ], 'POST', '/v1/cases', hukou());
        expect(refused.status).toBe(400);
        expect(refused.body.error).toMatchObject({ field: 'participants.ORIGIN', rule: 'ROLE_NOT_ALLOWED' });
        expect((await call<CaseListBody>(gws[BJ], 'GET', '/v1/cases?limit=1000')).body.cases.length).toBe(casesBefore);
        expect((await call(gws[BJ], 'PATCH', `/admin/peers/${HB}`, { allowedRoles: ['bad role'] }, gws[BJ].adminToken)).status).toBe(400);
      } finally {
        await call(gws[BJ], 'PATCH', `/admin/peers/${HB}`, { allowedRoles: ['*'] }, gws[BJ].adminToken);
      }
      // 河北 lets 北京 act only as ORIGIN; 北京 opens a case as DESTINATION: 河北 answers REJECTED.
      expect((await call(gws[HB], 'PATCH', `/admin/peers/${BJ}`, { allowedRoles: ['ORIGIN'] }, gws[HB].adminToken)).status).toBe(200);
      try {
        const { collaborationId } = (await call<CaseBody>(gws[BJ], 'POST', '/v1/cases', hukou())).body;
        await waitFor(
          'a REJECTED receipt naming ROLE_NOT_ALLOWED',
          () => call<OutboxBody>(gws[BJ], 'GET', '/admin/outbox?status=DELIVERED&limit=1000', undefined, gws[BJ].adminToken),
          (r) => r.body.messages.some((m) => m.stream === collaborationId && /ROLE_NOT_ALLOWED: 110000 may not take the role DESTINATION/.test(m.lastError ?? '')),
        );
        expect((await call(gws[HB], 'GET', `/v1/cases/${collaborationId}`)).status).toBe(404);
        expect(
          (await call<{ peers: { code: string; allowedRoles: string[] }[] }>(gws[HB], 'GET', '/admin/peers', undefined, gws[HB].adminToken)).body.peers.find((p) => p.code === BJ)?.allowedRoles,
        ).toEqual(['ORIGIN']);
      } finally {
        await call(gws[HB], 'PATCH', `/admin/peers/${BJ}`, { allowedRoles: ['*'] }, gws[HB].adminToken);
      }
    });
  });
});
