import { DataSource } from 'typeorm';
import { SystemClock } from '@tongban/common';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { CaseEntity } from '@tongban/cases';
import { CaseMaterialEntity } from './case-material.entity';
import { MaterialTransferAdmin } from './material-transfer-admin.service';
import { MaterialTransferEntity } from './material-transfer.entity';

describeEachDatabase('MaterialTransferAdmin.requeue', (fresh) => {
  let ds: DataSource;
  let nudges = 0;
  let admin: MaterialTransferAdmin;
  const old = new Date(Date.now() - 30 * 86_400_000);
  const row = (materialId: string, status: MaterialTransferEntity['status']): MaterialTransferEntity => ({
    materialId,
    peer: '130000',
    status,
    attempts: 37,
    nextAttemptAt: old,
    createdAt: old,
    deliveredAt: null,
    lastError: 'ISSUER_UNREACHABLE',
    receipt: null,
    leaseOwner: null,
    leaseUntil: null,
  });

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [MaterialTransferEntity, CaseMaterialEntity, CaseEntity]));
    admin = new MaterialTransferAdmin(ds, new SystemClock(), { nudge: () => void nudges++ } as never);
    // A transfer belongs to a stored material of a case (foreign keys): the smallest such case.
    await ds.getRepository(CaseEntity).insert({
      id: 'case-1',
      collaborationId: 'collab-1',
      itemCode: 'HUKOU_WORK_TRANSFER',
      itemVersion: '1',
      item: {} as never,
      mode: 'MULTI',
      owner: '110000',
      state: 'OPEN',
      participants: {},
      applicantName: 'x',
      received: {},
      materials: [],
      currentStep: 0,
      createdAt: old,
      updatedAt: old,
    } as never);
    for (const id of ['m-dead', 'm-pending']) {
      await ds
        .getRepository(CaseMaterialEntity)
        .insert({ storageId: id, id, caseId: 'case-1', code: 'X', name: 'x.pdf', mediaType: 'application/pdf', size: 1, sha256: '0'.repeat(64), createdAt: old, origin: '110000' });
    }
    await ds.getRepository(MaterialTransferEntity).insert([row('m-dead', 'DEAD'), row('m-pending', 'PENDING')]);
  });
  afterAll(async () => {
    await ds?.destroy();
  });

  it('puts a DEAD transfer back: PENDING, attempts 0, due now, age restarted; the pusher is nudged', async () => {
    const before = Date.now();
    const view = await admin.requeue('m-dead', '130000');
    expect(view).toMatchObject({ materialId: 'm-dead', peer: '130000', status: 'PENDING', attempts: 0, lastError: null });
    expect(Date.parse(view.createdAt)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(view.nextAttemptAt)).toBeLessThanOrEqual(Date.now());
    expect(nudges).toBe(1);
  });

  it('refuses what is not DEAD (409) and what does not exist (404), changing nothing', async () => {
    await expect(admin.requeue('m-pending', '130000')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(admin.requeue('m-dead', '130000')).rejects.toMatchObject({ code: 'CONFLICT' }); // already re-queued
    await expect(admin.requeue('m-none', '130000')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const pending = await ds.getRepository(MaterialTransferEntity).findOneByOrFail({ materialId: 'm-pending' });
    expect(pending.attempts).toBe(37);
    expect(nudges).toBe(1);
  });
});
