import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * The licence library's initial full synchronisation (docs/licence-library.md §5.2): when the
 * gateway last brought its statuses in line with the library's full listing. NULL: never, so the
 * next start synchronises (also after an upgrade from a release that followed only the feed).
 * Nullable and only added (expand, operations.md §9.1).
 */
export class LibraryFeedSynced1796200000000 implements MigrationInterface {
  name = 'LibraryFeedSynced1796200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('library_feed_cursor', new TableColumn({ name: 'synced_at', type: 'bigint', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('library_feed_cursor', 'synced_at');
  }
}
