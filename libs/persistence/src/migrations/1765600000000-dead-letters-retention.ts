import { MigrationInterface, QueryRunner, TableColumn, TableIndex } from 'typeorm';

/**
 * Poison messages end: each outbox row counts its consecutive failures of one non-transient kind
 * (`failure_code`, `failure_count`) and says why it went DEAD (`dead_reason`: FAILURES or AGE).
 * Retention: indexes for the batched deletes of old delivered rows (docs/operations.md §10.8).
 */
export class DeadLettersRetention1765600000000 implements MigrationInterface {
  name = 'DeadLettersRetention1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumns('outbox_messages', [
      new TableColumn({ name: 'failure_code', type: 'varchar', length: '64', isNullable: true }),
      new TableColumn({ name: 'failure_count', type: 'integer', default: 0 }),
      new TableColumn({ name: 'dead_reason', type: 'varchar', length: '16', isNullable: true }),
    ]);
    await q.createIndex('outbox_messages', new TableIndex({ name: 'ix_outbox_status_delivered', columnNames: ['status', 'delivered_at'] }));
    await q.createIndex('inbox_messages', new TableIndex({ name: 'ix_inbox_received', columnNames: ['received_at'] }));
    await q.createIndex('webhook_deliveries', new TableIndex({ name: 'ix_webhook_deliveries_status_created', columnNames: ['status', 'created_at'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropIndex('webhook_deliveries', 'ix_webhook_deliveries_status_created');
    await q.dropIndex('inbox_messages', 'ix_inbox_received');
    await q.dropIndex('outbox_messages', 'ix_outbox_status_delivered');
    await q.dropColumns('outbox_messages', ['dead_reason', 'failure_count', 'failure_code']);
  }
}
