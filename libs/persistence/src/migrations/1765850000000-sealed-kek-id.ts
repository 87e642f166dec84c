import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Key-encryption secret rotation (docs/operations.md §4.1b): beside every sealed value, the id of the
 * secret it is sealed under (`kek-` + 12 hex digits, never the secret). Nullable and only added
 * (expand, §9.1): a previous release ignores it and writes NULL, which this one labels at start.
 */
export class SealedKekId1765850000000 implements MigrationInterface {
  name = 'SealedKekId1765850000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('signing_keys', new TableColumn({ name: 'kek_id', type: 'varchar', length: '32', isNullable: true }));
    await q.addColumn('webhooks', new TableColumn({ name: 'kek_id', type: 'varchar', length: '32', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('webhooks', 'kek_id');
    await q.dropColumn('signing_keys', 'kek_id');
  }
}
