import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * The correlation id of the request that caused an outbox message (null: none, e.g. a robot or
 * a timer): sent as `x-correlation-id` with every delivery attempt, so one id follows a case
 * message from the local system through both gateways' logs.
 */
export class OutboxCorrelation1765300000000 implements MigrationInterface {
  name = 'OutboxCorrelation1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('outbox_messages', new TableColumn({ name: 'correlation_id', type: 'varchar', length: '64', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('outbox_messages', 'correlation_id');
  }
}
