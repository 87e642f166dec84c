import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * Case materials: the file (metadata), its bytes in chunks (base64 TEXT of at most 256 KiB each,
 * so that one migration fits SQLite and PostgreSQL alike) and the transfers to other participants.
 */
export class Materials1764500000000 implements MigrationInterface {
  name = 'Materials1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'case_materials',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'case_id', type: 'varchar', length: '64' },
          { name: 'code', type: 'varchar', length: '60' },
          { name: 'name', type: 'varchar', length: '200' },
          { name: 'media_type', type: 'varchar', length: '100' },
          { name: 'size', type: 'integer' },
          { name: 'sha256', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
          { name: 'origin', type: 'varchar', length: '6' },
        ],
        foreignKeys: [{ columnNames: ['case_id'], referencedTableName: 'cases', referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
        indices: [{ name: 'ix_case_materials_case', columnNames: ['case_id', 'created_at'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'material_chunks',
        columns: [
          { name: 'material_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'idx', type: 'integer', isPrimary: true },
          { name: 'data', type: 'text' },
        ],
        foreignKeys: [{ columnNames: ['material_id'], referencedTableName: 'case_materials', referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'material_transfers',
        columns: [
          { name: 'material_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'peer', type: 'varchar', length: '6', isPrimary: true },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'next_attempt_at', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
          { name: 'delivered_at', type: 'bigint', isNullable: true },
          { name: 'last_error', type: 'varchar', length: '300', isNullable: true },
          { name: 'receipt', type: 'text', isNullable: true },
          { name: 'lease_owner', type: 'varchar', length: '64', isNullable: true },
          { name: 'lease_until', type: 'bigint', isNullable: true },
        ],
        foreignKeys: [{ columnNames: ['material_id'], referencedTableName: 'case_materials', referencedColumnNames: ['id'], onDelete: 'CASCADE' }],
        indices: [{ name: 'ix_material_transfers_status_next', columnNames: ['status', 'next_attempt_at'] }],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['material_transfers', 'material_chunks', 'case_materials']) await q.dropTable(t);
  }
}
