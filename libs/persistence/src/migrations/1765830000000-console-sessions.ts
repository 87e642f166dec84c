import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Admin console sessions: the session id only as a SHA-256 (the cookie holds the id itself). */
export class ConsoleSessions1765830000000 implements MigrationInterface {
  name = 'ConsoleSessions1765830000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'console_sessions',
        columns: [
          { name: 'id_hash', type: 'varchar', length: '64', isPrimary: true },
          { name: 'client_id', type: 'varchar', length: '64' },
          { name: 'client_name', type: 'varchar', length: '64' },
          { name: 'source_ip', type: 'varchar', length: '64' },
          { name: 'created_at', type: 'bigint' },
          { name: 'last_seen_at', type: 'bigint' },
          { name: 'absolute_expires_at', type: 'bigint' },
        ],
      }),
    );
    await q.createIndex('console_sessions', new TableIndex({ name: 'idx_console_sessions_absolute', columnNames: ['absolute_expires_at'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('console_sessions');
  }
}
