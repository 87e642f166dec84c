import { MigrationInterface, QueryRunner, Table } from 'typeorm';

/** Webhooks of local systems and the deliveries queued for them (written with the case change). */
export class Webhooks1764600000000 implements MigrationInterface {
  name = 'Webhooks1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'webhooks',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'url', type: 'varchar', length: '2000' },
          { name: 'events', type: 'text' },
          { name: 'secret', type: 'varchar', length: '200' },
          { name: 'created_by', type: 'varchar', length: '100' },
          { name: 'created_at', type: 'bigint' },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'webhook_deliveries',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'webhook_id', type: 'varchar', length: '64' },
          { name: 'event_type', type: 'varchar', length: '40' },
          { name: 'body', type: 'text' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'next_attempt_at', type: 'bigint' },
          { name: 'last_status', type: 'integer', isNullable: true },
          { name: 'last_error', type: 'varchar', length: '300', isNullable: true },
          { name: 'created_at', type: 'bigint' },
          { name: 'delivered_at', type: 'bigint', isNullable: true },
          { name: 'lease_owner', type: 'varchar', length: '64', isNullable: true },
          { name: 'lease_until', type: 'bigint', isNullable: true },
        ],
        indices: [
          { name: 'ix_webhook_deliveries_status_next', columnNames: ['status', 'next_attempt_at'] },
          { name: 'ix_webhook_deliveries_webhook', columnNames: ['webhook_id'] },
        ],
      }),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['webhook_deliveries', 'webhooks']) await q.dropTable(t);
  }
}
