import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * Signed status lists (docs/protocol-status.md). Issuer side: `status_lists`, one row per published
 * list (a licence type has lists 0, 1, … of 131,072 entries each), and `status_list_entries`, the
 * random index each attested licence holds in one of them. Asker side: `status_list_cache`, the
 * newest list fetched from each issuer, with its version and when it was fetched.
 */
export class StatusLists1765801000000 implements MigrationInterface {
  name = 'StatusLists1765801000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'status_lists',
        columns: [
          { name: 'list_id', type: 'varchar', length: '32', isPrimary: true },
          { name: 'type_code', type: 'varchar', length: '21' },
          { name: 'seq', type: 'integer' },
          { name: 'size', type: 'integer' },
          { name: 'assigned', type: 'integer', default: 0 },
          { name: 'version', type: 'integer', default: 0 },
          { name: 'content_hash', type: 'varchar', length: '64', isNullable: true },
          { name: 'jws', type: 'text', isNullable: true },
          { name: 'generated_at', type: 'bigint', isNullable: true },
          { name: 'dirty', type: 'boolean', default: true },
        ],
        uniques: [{ name: 'uq_status_lists_type_seq', columnNames: ['type_code', 'seq'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'status_list_entries',
        columns: [
          { name: 'licence_id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'list_id', type: 'varchar', length: '32' },
          { name: 'idx', type: 'integer' },
        ],
        uniques: [{ name: 'uq_status_list_entries_list_idx', columnNames: ['list_id', 'idx'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'status_list_cache',
        columns: [
          { name: 'issuer', type: 'varchar', length: '16', isPrimary: true },
          { name: 'list_id', type: 'varchar', length: '32', isPrimary: true },
          { name: 'version', type: 'integer' },
          { name: 'issued_at', type: 'bigint' },
          { name: 'fetched_at', type: 'bigint' },
          { name: 'jws', type: 'text' },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('status_list_cache');
    await q.dropTable('status_list_entries');
    await q.dropTable('status_lists');
  }
}
