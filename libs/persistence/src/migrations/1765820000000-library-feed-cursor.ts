import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/**
 * Where the gateway is in its licence library's change feed (docs/licence-library.md §5): a single
 * row (id 1), advanced in the same transaction as each status change it applies.
 */
export class LibraryFeedCursor1765820000000 implements MigrationInterface {
  name = 'LibraryFeedCursor1765820000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'library_feed_cursor',
        columns: [
          { name: 'id', type: 'integer', isPrimary: true },
          { name: 'cursor', type: 'text', isNullable: false, default: "''" },
          { name: 'applied', type: 'bigint', isNullable: false, default: 0 },
          { name: 'updated_at', type: 'bigint', isNullable: true },
        ],
      }),
    );
    // The row exists from the start, so replicas can lock it (FOR UPDATE) before the first change.
    await q.query(`INSERT INTO library_feed_cursor (id, cursor, applied) VALUES (1, '', 0)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('library_feed_cursor');
  }
}
