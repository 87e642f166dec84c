import { CatalogueStore } from '@tongban/catalogue';
import { SystemClock } from '@tongban/common';
import { DataSource, buildDataSource, databaseStatementCount, openDatabase, runInTransaction } from '@tongban/persistence';
import { PlanNode, describeEachDatabase, explainAnalyze, rowsTouched, seedRows } from '@tongban/testkit';
import { CaseEntity, caseNamedBy } from './case.entity';
import { CaseEventEntity } from './case-event.entity';
import { CaseQuery } from './case-query.service';
import { CaseStepEntity, UNWORKED_STEP } from './case-step.entity';

// The view, the case list and the task list read with hand-written SQL (one statement each, case
// and steps joined): what they return must be what the entities hold.
describeEachDatabase('CaseQuery reads', (fresh, kind) => {
  let ds: DataSource;
  let query: CaseQuery;
  const at = new Date(1_796_312_520_275);

  const caseRow = (n: number): CaseEntity => ({
    id: `case-${n}`,
    collaborationId: `110000-20261203-000000000${n}`,
    itemCode: 'X',
    itemVersion: 'v1',
    item: { name: `item ${n}`, steps: [], materials: [] } as never,
    mode: 'JOINT',
    owner: '110000',
    state: 'OPEN',
    participants: { A: '110000', B: '130000' },
    applicantName: `applicant ${n}`,
    applicantIdNumber: '11010519491231002X',
    received: { by: 'office' },
    materials: [],
    currentStep: 1,
    createdAt: at,
    updatedAt: at,
    closedAt: null,
    closeReason: null,
    refusedStep: null,
  });
  const step = (caseId: string, idx: number, province: string, status: CaseStepEntity['status']): CaseStepEntity => ({
    caseId,
    idx,
    role: idx === 0 ? 'A' : 'B',
    province,
    action: `ACT${idx}`,
    name: `step ${idx}`,
    timeLimitDays: 5,
    status,
    assignedAt: status === 'WAITING' ? null : at,
    dueAt: null,
    ...UNWORKED_STEP,
    outputs: idx === 0 ? { doc: 'D-1' } : null,
  });

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [CaseEntity, CaseStepEntity, CaseEventEntity]));
    await ds.getRepository(CaseEntity).insert([caseRow(1), caseRow(2)] as never);
    await ds
      .getRepository(CaseStepEntity)
      .insert([step('case-1', 0, '110000', 'COMPLETED'), step('case-1', 1, '130000', 'ASSIGNED'), step('case-2', 0, '110000', 'COMPLETED'), step('case-2', 1, '130000', 'ACCEPTED')]);
    await ds.getRepository(CaseEventEntity).insert([
      { caseId: 'case-1', at, type: 'CASE_OPENED', province: '110000', actor: 'office', stepIndex: null, details: { itemCode: 'X' } },
      { caseId: 'case-2', at, type: 'CASE_OPENED', province: '110000', actor: 'office', stepIndex: null, details: null },
      { caseId: 'case-1', at, type: 'STEP_ASSIGNED', province: '110000', actor: 'office', stepIndex: 1, details: { province: '130000' } },
    ]);
  });
  afterAll(() => ds.destroy());

  it("lists the open steps this province performs, each with its case's fields", async () => {
    query = new CaseQuery(ds, new SystemClock(), {} as CatalogueStore, '130000');
    const { tasks } = await query.tasks({});
    expect(tasks.map((t) => [t.id, t.status, t.caseId, t.itemName, t.caseState, t.applicant.name, t.acceptingProvince]).sort()).toEqual([
      ['110000-20261203-0000000001~1', 'ASSIGNED', 'case-1', 'item 1', 'OPEN', 'applicant 1', '110000'],
      ['110000-20261203-0000000002~1', 'ACCEPTED', 'case-2', 'item 2', 'OPEN', 'applicant 2', '110000'],
    ]);
    expect((await query.tasks({ status: ['ACCEPTED'] })).tasks.map((t) => t.id)).toEqual(['110000-20261203-0000000002~1']);
    expect((await query.tasks({ limit: 1 })).tasks).toHaveLength(1);
    expect((await new CaseQuery(ds, new SystemClock(), {} as CatalogueStore, '120000').tasks({})).tasks).toEqual([]);
  });

  it('views a case with its steps and its history in order, the ID number masked', async () => {
    query = new CaseQuery(ds, new SystemClock(), {} as CatalogueStore, '110000');
    const before = databaseStatementCount();
    const v = await query.view('110000-20261203-0000000001');
    // Case, steps and history in one statement.
    expect(databaseStatementCount() - before).toBe(1);
    expect(await query.view('case-2')).toMatchObject({ collaborationId: '110000-20261203-0000000002', events: [{ type: 'CASE_OPENED', details: null }] });
    await expect(query.view('no-such-case')).rejects.toThrow(/no case/);
    expect(v.applicant.idNumber).not.toBe('11010519491231002X');
    expect(v.steps.map((s) => [s.index, s.status, s.outputs])).toEqual([
      [0, 'COMPLETED', { doc: 'D-1' }],
      [1, 'ASSIGNED', null],
    ]);
    expect(v.events.map((e) => [e.type, e.at, e.stepIndex, e.details])).toEqual([
      ['CASE_OPENED', at.toISOString(), null, { itemCode: 'X' }],
      ['STEP_ASSIGNED', at.toISOString(), 1, { province: '130000' }],
    ]);
    expect(v.events[0].seq).toBeLessThan(v.events[1].seq);
  });
  it("names a case by its id or by its collaboration id; an id wins over another case's equal collaboration id", async () => {
    query = new CaseQuery(ds, new SystemClock(), {} as CatalogueStore, '110000');
    // case-9's collaboration id is case-1's local id: 'case-1' names case-1 (it matched both before).
    await ds.getRepository(CaseEntity).insert([{ ...caseRow(9), collaborationId: 'case-1' }] as never);
    expect((await query.view('case-1')).collaborationId).toBe('110000-20261203-0000000001');
    expect((await query.view('110000-20261203-0000000001')).caseId).toBe('case-1');
    expect((await query.view('case-9')).collaborationId).toBe('case-1');
    await ds.getRepository(CaseEntity).delete({ id: 'case-9' });
  });

  if (kind === 'postgres') {
    it('PostgreSQL names a case through the two unique indexes, not a bitmap of both (one case among thousands)', async () => {
      // The case load's statement (CaseTransactions.load) over 2,000 more cases, with statistics.
      await seedRows(ds, 'cases', 2000, { id: `'seed-' || i`, collaboration_id: `'110000-20261203-S' || lpad(i::text, 9, '0')`, created_at: '0', updated_at: '0' });
      await ds.query('ANALYZE cases; ANALYZE case_steps');
      const [sql] = ds.driver.escapeQueryWithParameters(`SELECT c.id FROM cases c JOIN case_steps s ON s.case_id = c.id WHERE ${caseNamedBy('c')} ORDER BY s.idx FOR UPDATE`, { ref: '' }, {});
      const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];
      try {
        for (const ref of ['case-1', '110000-20261203-0000000001']) {
          const plan = await runInTransaction(ds, (tx) => explainAnalyze(tx.connection, sql, [ref]));
          const kinds = nodes(plan).map((n) => `${n['Node Type']}${n['Relation Name'] ? ` on ${n['Relation Name']}` : ''}`);
          expect(kinds).not.toContain('BitmapOr');
          // Each read of cases is an index scan of one row (case_steps holds four rows here: a scan of them is fine).
          const onCases = kinds.filter((k) => k.endsWith(' on cases'));
          expect(onCases.length).toBeGreaterThanOrEqual(2);
          for (const k of onCases) expect(k).toMatch(/^Index (Only )?Scan on cases$/);
          expect(rowsTouched(plan)).toBeLessThan(20);
        }
      } finally {
        await ds.query(`DELETE FROM cases WHERE id LIKE 'seed-%'`);
      }
    });
  }

  it('lists cases newest first with their steps in one statement; filters and pages', async () => {
    query = new CaseQuery(ds, new SystemClock(), {} as CatalogueStore, '110000');
    const later = (ms: number) => new Date(at.getTime() + ms);
    await ds.getRepository(CaseEntity).insert([
      { ...caseRow(3), itemCode: 'Y', state: 'COMPLETED', createdAt: later(1000), updatedAt: later(1000) },
      { ...caseRow(4), createdAt: later(2000), updatedAt: later(2000) },
    ] as never);
    // case-3 has no step rows (kept by the join); case-4's open step is past its due time.
    await ds.getRepository(CaseStepEntity).insert([{ ...step('case-4', 0, '110000', 'ASSIGNED'), dueAt: at }]);
    const ids = async (q: Parameters<CaseQuery['list']>[0]) => (await query.list(q)).cases.map((c) => c.caseId);
    const before = databaseStatementCount();
    const { cases } = await query.list({});
    expect(databaseStatementCount() - before).toBe(1);
    expect(cases.map((c) => [c.caseId, c.state, c.overdue, c.itemName, c.openedAt])).toEqual([
      ['case-4', 'OPEN', true, 'item 4', later(2000).toISOString()],
      ['case-3', 'COMPLETED', false, 'item 3', later(1000).toISOString()],
      ['case-1', 'OPEN', false, 'item 1', at.toISOString()],
      ['case-2', 'OPEN', false, 'item 2', at.toISOString()],
    ]);
    expect(await ids({ state: 'COMPLETED' })).toEqual(['case-3']);
    expect(await ids({ itemCode: 'Y' })).toEqual(['case-3']);
    expect(await ids({ overdue: true })).toEqual(['case-4']);
    expect(await ids({ state: 'OPEN', overdue: true })).toEqual(['case-4']);
    expect(await ids({ limit: 2, offset: 1 })).toEqual(['case-3', 'case-1']);
    expect(await ids({ offset: 4 })).toEqual([]);
  });

  it('refuses paging numbers outside the schema, whoever calls: they are written into the statement', async () => {
    const bad = [{ limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { offset: -1 }, { limit: '1; DROP TABLE cases' }, { offset: Number.NaN }];
    for (const q of bad) {
      await expect(query.list(q as never)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { field: Object.keys(q)[0], rule: 'RANGE' } });
    }
    expect(await query.list({ limit: 1000 })).toMatchObject({ cases: expect.any(Array) });
  });
});
