import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** Outbox messages may name the key their envelope must be signed with (key announcements). */
export class OutboxSignKid1764800000000 implements MigrationInterface {
  name = 'OutboxSignKid1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('outbox_messages', new TableColumn({ name: 'sign_kid', type: 'varchar', length: '64', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('outbox_messages', 'sign_kid');
  }
}
