import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** The signed federation directory last applied to the trust store (a single row, id 1). */
export class Directory1765000000000 implements MigrationInterface {
  name = 'Directory1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'directory_state',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true },
          { name: 'serial', type: 'bigint', isNullable: true },
          { name: 'jws', type: 'text', isNullable: true },
          { name: 'applied_at', type: 'bigint', isNullable: true },
          { name: 'not_after', type: 'bigint', isNullable: true },
        ],
      }),
    );
    // The row exists from the start, so replicas can lock it (FOR UPDATE) before the first apply.
    await q.query('INSERT INTO directory_state (id) VALUES (1)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('directory_state');
  }
}
