import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * Licence status over time (issue 12): the current status of each licence whose status was ever
 * changed through LicenceStatusService, with a version that grows by one per change (notices and
 * status lists carry it, so an older fact never overrides a newer one). A licence without a row
 * has never changed: its status is the one imported (or served by the licence library), version 0.
 */
export class LicenceStatus1765800000000 implements MigrationInterface {
  name = 'LicenceStatus1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'licence_status',
        columns: [
          { name: 'licence_id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'type_code', type: 'varchar', length: '21' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'version', type: 'integer' },
          { name: 'changed_at', type: 'bigint' },
          { name: 'reason', type: 'varchar', length: '200' },
          { name: 'source', type: 'varchar', length: '16' },
          { name: 'actor', type: 'varchar', length: '64' },
        ],
        indices: [{ name: 'ix_licence_status_type', columnNames: ['type_code'] }],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('licence_status');
  }
}
