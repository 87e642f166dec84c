import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Reliable delivery: transactional outbox and idempotent inbox. */
export class Delivery1764200000000 implements MigrationInterface {
  name = 'Delivery1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'outbox_messages',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'peer', type: 'varchar', length: '6' },
          { name: 'stream', type: 'varchar', length: '64' },
          { name: 'seq', type: 'integer' },
          { name: 'type', type: 'varchar', length: '100' },
          { name: 'body', type: 'text' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'integer', default: 0 },
          { name: 'next_attempt_at', type: 'bigint' },
          { name: 'created_at', type: 'bigint' },
          { name: 'delivered_at', type: 'bigint', isNullable: true },
          { name: 'receipt', type: 'text', isNullable: true },
          { name: 'last_error', type: 'varchar', length: '300', isNullable: true },
          { name: 'lease_owner', type: 'varchar', length: '64', isNullable: true },
          { name: 'lease_until', type: 'bigint', isNullable: true },
        ],
        indices: [
          { name: 'uq_outbox_peer_stream_seq', columnNames: ['peer', 'stream', 'seq'], isUnique: true },
          { name: 'ix_outbox_status_next', columnNames: ['status', 'next_attempt_at'] },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'inbox_messages',
        columns: [
          { name: 'sender', type: 'varchar', length: '6', isPrimary: true },
          { name: 'message_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'stream', type: 'varchar', length: '64' },
          { name: 'seq', type: 'integer' },
          { name: 'type', type: 'varchar', length: '100' },
          { name: 'received_at', type: 'bigint' },
          { name: 'receipt', type: 'text' },
        ],
      }),
    );
    await q.createIndex('inbox_messages', new TableIndex({ name: 'ix_inbox_sender_stream_seq', columnNames: ['sender', 'stream', 'seq'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropTable('inbox_messages');
    await q.dropTable('outbox_messages');
  }
}
