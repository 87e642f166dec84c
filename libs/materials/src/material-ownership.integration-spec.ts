import { CaseEntity } from '@tongban/cases';
import { buildDataSource, DatabaseTarget, isUniqueViolation, MIGRATIONS, openDatabase, runInTransaction } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { CaseMaterialEntity } from './case-material.entity';
import { MaterialChunkEntity } from './material-chunk.entity';
import { MaterialStore, sha256Hex } from './material-store.service';
import { MaterialTransferEntity } from './material-transfer.entity';

const ENTITIES = [CaseEntity, CaseMaterialEntity, MaterialChunkEntity, MaterialTransferEntity];
const at = new Date('2026-11-20T08:00:00Z');

function caseRow(id: string, owner: string): never {
  return {
    id,
    collaborationId: `collab-${id}`,
    itemCode: 'NO_CRIMINAL_RECORD',
    itemVersion: '1',
    item: {},
    mode: 'PROXY',
    owner,
    state: 'OPEN',
    participants: {},
    applicantName: 'x',
    received: {},
    materials: [],
    currentStep: 0,
    createdAt: at,
    updatedAt: at,
  } as never;
}

function material(storageId: string, id: string, caseId: string, origin: string, bytes: Buffer): CaseMaterialEntity {
  return { storageId, id, caseId, code: 'RESIDENT_ID_CARD', name: 'x.pdf', mediaType: 'application/pdf', size: bytes.length, sha256: sha256Hex(bytes), createdAt: at, origin };
}

// Material ids are chosen by the sending gateway, so they are unique per (case, origin) only: a
// file another gateway pushed under an id cannot stop the owner's file with that id being stored.
describeEachDatabase('case materials keyed per (case, origin)', (fresh) => {
  it('migrates materials stored before: their id becomes their key, chunks, transfers and cascades still hold', async () => {
    const target: DatabaseTarget = fresh();
    // The schema as the previous release left it, with one material, its chunk and a transfer.
    const old = buildDataSource(target, [CaseEntity]);
    old.setOptions({
      migrations: MIGRATIONS.slice(
        0,
        MIGRATIONS.findIndex((m) => m.name === 'MaterialOwnership1765570000000'),
      ),
    });
    await openDatabase(old);
    const bytes = Buffer.from('a scanned identity card');
    await old.getRepository(CaseEntity).insert(caseRow('case-old', '440000'));
    await old.query(
      `INSERT INTO case_materials (id, case_id, code, name, media_type, size, sha256, created_at, origin)
       VALUES ('m-old', 'case-old', 'RESIDENT_ID_CARD', 'id.pdf', 'application/pdf', ${bytes.length}, '${sha256Hex(bytes)}', ${at.getTime()}, '440000')`,
    );
    await old.query(`INSERT INTO material_chunks (material_id, idx, data) VALUES ('m-old', 0, '${bytes.toString('base64')}')`);
    await old.query(`INSERT INTO material_transfers (material_id, peer, status, attempts, next_attempt_at, created_at) VALUES ('m-old', '110000', 'PENDING', 0, 0, 0)`);
    await old.destroy();

    const ds = await openDatabase(buildDataSource(target, ENTITIES));
    try {
      const m = await ds.getRepository(CaseMaterialEntity).findOneByOrFail({ id: 'm-old' });
      expect(m.storageId).toBe('m-old');
      expect((await new MaterialStore(ds).bytes(m)).equals(bytes)).toBe(true);
      const joined: unknown = await ds.query('SELECT t.peer FROM material_transfers t JOIN case_materials m ON m.storage_id = t.material_id');
      expect(joined).toEqual([{ peer: '110000' }]);
      // A chunk or transfer of a material that does not exist is still refused (foreign keys moved to storage_id).
      await expect(ds.query(`INSERT INTO material_chunks (material_id, idx, data) VALUES ('nothing', 0, 'AA==')`)).rejects.toThrow();
      await ds.getRepository(CaseEntity).delete({ id: 'case-old' });
      expect(await ds.getRepository(MaterialChunkEntity).count()).toBe(0);
      expect(await ds.getRepository(MaterialTransferEntity).count()).toBe(0);
    } finally {
      await ds.destroy();
    }
  });

  it('holds one id in two cases from two origins; the same (case, origin, id) twice is a unique violation', async () => {
    const ds = await openDatabase(buildDataSource(fresh(), ENTITIES));
    try {
      const store = new MaterialStore(ds);
      await ds.getRepository(CaseEntity).insert([caseRow('case-a', '440000'), caseRow('case-c', '120000')]);
      const squat = Buffer.from('what another gateway pushed first under the id');
      const real = Buffer.from("the owner's real file");
      await runInTransaction(ds, (tx) => store.insert(tx, material('k-squat', 'shared-id', 'case-c', '120000', squat), squat));
      await runInTransaction(ds, (tx) => store.insert(tx, material('k-real', 'shared-id', 'case-a', '440000', real), real));
      const rows = await ds.getRepository(CaseMaterialEntity).find({ where: { id: 'shared-id' }, order: { caseId: 'ASC' } });
      expect(rows.map((r) => [r.caseId, r.origin])).toEqual([
        ['case-a', '440000'],
        ['case-c', '120000'],
      ]);
      expect((await store.bytes(rows[0])).equals(real)).toBe(true);
      expect((await store.bytes(rows[1])).equals(squat)).toBe(true);
      const again = await runInTransaction(ds, (tx) => store.insert(tx, material('k-again', 'shared-id', 'case-a', '440000', real), real)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isUniqueViolation(again)).toBe(true);
    } finally {
      await ds.destroy();
    }
  });
});
