import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** Service catalogue and working-day calendar versions loaded by administrators. */
export class Catalogue1764300000000 implements MigrationInterface {
  name = 'Catalogue1764300000000';

  async up(q: QueryRunner): Promise<void> {
    for (const name of ['catalogue_versions', 'calendar_versions']) {
      await q.createTable(
        new Table({
          name,
          columns: [
            { name: 'version', type: 'varchar', length: '40', isPrimary: true },
            { name: 'content', type: 'text' },
            { name: 'loaded_at', type: 'bigint' },
            { name: 'loaded_by', type: 'varchar', length: '64' },
          ],
          // Every replica asks "which version is newest" on each refresh.
          indices: [{ name: `ix_${name}_loaded_at`, columnNames: ['loaded_at'] }],
        }),
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('calendar_versions');
    await q.dropTable('catalogue_versions');
  }
}
