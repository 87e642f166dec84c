import { MigrationInterface, QueryRunner, TableColumn, TableForeignKey, TableIndex } from 'typeorm';

/**
 * Material ids are unique per (case, origin), not across the gateway: a participant could otherwise
 * push a file under an id it knows another gateway will use, and the owner's real push then failed
 * ("already stored with other content"). `case_materials` gets its own key `storage_id` (existing
 * rows keep their id as key, so chunks and transfers need no rewrite) and a unique index on
 * (case_id, origin, id); chunks and transfers now reference `storage_id`.
 */
export class MaterialOwnership1765570000000 implements MigrationInterface {
  name = 'MaterialOwnership1765570000000';

  async up(q: QueryRunner): Promise<void> {
    for (const t of ['material_chunks', 'material_transfers']) {
      const table = await q.getTable(t);
      for (const fk of table?.foreignKeys.filter((f) => f.referencedTableName.endsWith('case_materials')) ?? []) await q.dropForeignKey(t, fk);
    }
    await q.addColumn('case_materials', new TableColumn({ name: 'storage_id', type: 'varchar', length: '64', isNullable: true }));
    await q.query('UPDATE case_materials SET storage_id = id');
    await q.changeColumn('case_materials', 'storage_id', new TableColumn({ name: 'storage_id', type: 'varchar', length: '64' }));
    await q.dropPrimaryKey('case_materials');
    await q.createPrimaryKey('case_materials', ['storage_id']);
    await q.createIndex('case_materials', new TableIndex({ name: 'ux_case_materials_case_origin_id', columnNames: ['case_id', 'origin', 'id'], isUnique: true }));
    for (const t of ['material_chunks', 'material_transfers']) {
      await q.createForeignKey(t, new TableForeignKey({ columnNames: ['material_id'], referencedTableName: 'case_materials', referencedColumnNames: ['storage_id'], onDelete: 'CASCADE' }));
    }
  }

  async down(q: QueryRunner): Promise<void> {
    // Only possible while no two rows share an id (received files keep a fresh storage_id).
    for (const t of ['material_chunks', 'material_transfers']) {
      const table = await q.getTable(t);
      for (const fk of table?.foreignKeys.filter((f) => f.referencedTableName.endsWith('case_materials')) ?? []) await q.dropForeignKey(t, fk);
    }
    await q.query('UPDATE material_chunks SET material_id = (SELECT m.id FROM case_materials m WHERE m.storage_id = material_chunks.material_id)');
    await q.query('UPDATE material_transfers SET material_id = (SELECT m.id FROM case_materials m WHERE m.storage_id = material_transfers.material_id)');
    await q.dropIndex('case_materials', 'ux_case_materials_case_origin_id');
    await q.dropPrimaryKey('case_materials');
    await q.dropColumn('case_materials', 'storage_id');
    await q.createPrimaryKey('case_materials', ['id']);
    for (const t of ['material_chunks', 'material_transfers']) {
      await q.createForeignKey(t, new TableForeignKey({ columnNames: ['material_id'], referencedTableName: 'case_materials', referencedColumnNames: ['id'], onDelete: 'CASCADE' }));
    }
  }
}
