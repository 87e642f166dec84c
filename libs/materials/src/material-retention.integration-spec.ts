import { DataSource } from 'typeorm';
import { CaseEntity } from '@tongban/cases';
import { RetentionWorker, buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { CaseMaterialEntity } from './case-material.entity';
import { MaterialChunkEntity } from './material-chunk.entity';
import { materialRetention } from './material-retention';
import { MaterialStore } from './material-store.service';
import { MaterialTransferEntity } from './material-transfer.entity';

const DAY = 86_400_000;

describeEachDatabase('Retention of material files', (fresh) => {
  let ds: DataSource;
  const now = Date.now();
  const old = new Date(now - 400 * DAY);
  const recent = new Date(now - 10 * DAY);

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [MaterialTransferEntity, CaseMaterialEntity, MaterialChunkEntity, CaseEntity]));
  });
  afterEach(async () => {
    await ds.destroy();
  });

  async function caseWithFile(id: string, state: 'OPEN' | 'COMPLETED', closedAt: Date | null, transfer?: MaterialTransferEntity['status']): Promise<void> {
    await ds.getRepository(CaseEntity).insert({
      id,
      collaborationId: `collab-${id}`,
      itemCode: 'HUKOU_WORK_TRANSFER',
      itemVersion: '1',
      item: {} as never,
      mode: 'MULTI',
      owner: '110000',
      state,
      participants: {},
      applicantName: 'x',
      received: {},
      materials: [],
      currentStep: 0,
      createdAt: old,
      updatedAt: old,
      closedAt,
    });
    const bytes = Buffer.alloc(600 * 1024, id); // three chunks
    await runInTransaction(ds, (tx) =>
      new MaterialStore(ds).insert(
        tx,
        { storageId: `s-${id}`, id: `f-${id}`, caseId: id, code: 'X', name: 'x.pdf', mediaType: 'application/pdf', size: bytes.length, sha256: '0'.repeat(64), createdAt: old, origin: '110000' },
        bytes,
      ),
    );
    if (transfer) {
      await ds.getRepository(MaterialTransferEntity).insert({
        materialId: `s-${id}`,
        peer: '130000',
        status: transfer,
        attempts: 1,
        nextAttemptAt: old,
        createdAt: old,
        deliveredAt: transfer === 'DELIVERED' ? old : null,
        lastError: null,
        receipt: null,
        leaseOwner: null,
        leaseUntil: null,
      });
    }
  }

  it('deletes the files (row, chunks, finished transfers) of cases closed long ago; open, recently closed and still-pushing ones stay; off at 0 days', async () => {
    await caseWithFile('gone', 'COMPLETED', old, 'DELIVERED');
    await caseWithFile('gone-too', 'COMPLETED', old);
    await caseWithFile('open', 'OPEN', null);
    await caseWithFile('recent', 'COMPLETED', recent);
    await caseWithFile('pushing', 'COMPLETED', old, 'PENDING');
    const run = (days: number, batchSize: number) => new RetentionWorker(ds, () => now, [materialRetention(days)], { intervalMs: 0, batchSize }).runOnce();

    expect(await run(0, 1000)).toEqual({});
    expect(await ds.getRepository(MaterialChunkEntity).count()).toBe(15);

    // Batches of one file: the worker goes on until none is left.
    expect(await run(365, 1)).toEqual({ case_materials: 2, material_chunks: 6, material_transfers: 1 });
    const files = (await ds.getRepository(CaseMaterialEntity).find({ order: { caseId: 'ASC' } })).map((m) => m.caseId);
    expect(files).toEqual(['open', 'pushing', 'recent']);
    const chunkOwners = [...new Set((await ds.getRepository(MaterialChunkEntity).find()).map((c) => c.materialId))].sort();
    expect(chunkOwners).toEqual(['s-open', 's-pushing', 's-recent']);
    expect((await ds.getRepository(MaterialTransferEntity).find()).map((t) => t.materialId)).toEqual(['s-pushing']);
    // The cases themselves are records: untouched.
    expect(await ds.getRepository(CaseEntity).count()).toBe(5);
  });
});
