import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** Local API clients (provincial systems with scopes, administrators with roles), tokens hashed. */
export class ApiClients1765100000000 implements MigrationInterface {
  name = 'ApiClients1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'api_clients',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'name', type: 'varchar', length: '64', isUnique: true },
          { name: 'token_hash', type: 'varchar', length: '64', isUnique: true },
          { name: 'kind', type: 'varchar', length: '8' },
          { name: 'scopes', type: 'text' },
          { name: 'role', type: 'varchar', length: '16', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'disabled_at', type: 'bigint', isNullable: true },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('api_clients');
  }
}
