import { DataSource } from 'typeorm';
import { CaseEntity, CaseStepEntity, CaseState, OPEN_STEP, StepStatus } from '@tongban/cases';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { caseCounts } from './case-counts';

const NOW = Date.UTC(2026, 10, 25, 2, 0, 0);
const DAY = 86_400_000;

describeEachDatabase('caseCounts', (fresh) => {
  let ds: DataSource;

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [CaseEntity, CaseStepEntity]));
  });

  afterAll(async () => {
    if (ds?.isInitialized) await ds.destroy();
  });

  const add = async (id: string, state: CaseState, steps: { status: StepStatus; dueAt: number | null }[]) => {
    const at = new Date(NOW - 10 * DAY);
    const cases = ds.getRepository(CaseEntity);
    await cases.save(
      cases.create({
        id,
        collaborationId: `110000-20261115-${id}`,
        itemCode: 'HUKOU_WORK_TRANSFER',
        itemVersion: '2026.11-1',
        item: { code: 'HUKOU_WORK_TRANSFER' } as never,
        mode: 'JOINT',
        owner: '110000',
        state,
        participants: { DESTINATION: '110000', ORIGIN: '130000' },
        applicantName: '测试',
        applicantIdNumber: null,
        received: {},
        materials: [],
        currentStep: 0,
        createdAt: at,
        updatedAt: at,
        closedAt: null,
        closeReason: null,
        refusedStep: null,
      }),
    );
    for (const [idx, s] of steps.entries()) {
      const stepRepo = ds.getRepository(CaseStepEntity);
      await stepRepo.save(
        stepRepo.create({
          caseId: id,
          idx,
          role: 'DESTINATION',
          province: '110000',
          action: 'ACCEPT_AND_APPROVE',
          name: 'step',
          timeLimitDays: 5,
          status: s.status,
          assignedAt: at,
          dueAt: s.dueAt === null ? null : new Date(s.dueAt),
          acceptedAt: null,
          finishedAt: null,
          actor: null,
          inputs: null,
          outputs: null,
          reason: null,
        }),
      );
    }
  };

  it('is all zero on an empty database', async () => {
    expect(await caseCounts(ds, OPEN_STEP, NOW)).toEqual({ open: 0, overdue: 0 });
  });

  it('counts cases by state, and OPEN cases with an open step past its due time as overdue (once each)', async () => {
    await add('late1', 'OPEN', [
      { status: 'ASSIGNED', dueAt: NOW - DAY },
      { status: 'ACCEPTED', dueAt: NOW - 2 * DAY },
    ]);
    await add('late2', 'OPEN', [{ status: 'MATERIALS_REQUESTED', dueAt: NOW - 1 }]);
    await add('ontime', 'OPEN', [{ status: 'ASSIGNED', dueAt: NOW + DAY }]);
    await add('waiting', 'OPEN', [{ status: 'WAITING', dueAt: null }]);
    await add('donelate', 'OPEN', [{ status: 'COMPLETED', dueAt: NOW - DAY }]);
    await add('closed', 'COMPLETED', [{ status: 'COMPLETED', dueAt: NOW - DAY }]);
    await add('cancelled', 'CANCELLED', [{ status: 'ASSIGNED', dueAt: NOW - DAY }]);
    expect(await caseCounts(ds, OPEN_STEP, NOW)).toEqual({ open: 5, overdue: 2 });
  });
});
