import { MigrationInterface, QueryRunner, Table, TableIndex } from 'typeorm';

/** Foundation schema: keys, peers, licences, replay store and audit events. */
export class InitialSchema1764100000000 implements MigrationInterface {
  name = 'InitialSchema1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'signing_keys',
        columns: [
          { name: 'kid', type: 'varchar', length: '64', isPrimary: true },
          { name: 'alg', type: 'varchar', length: '16' },
          { name: 'public_jwk', type: 'text' },
          { name: 'private_key_enc', type: 'text' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'created_at', type: 'bigint' },
          { name: 'activated_at', type: 'bigint', isNullable: true },
          { name: 'retired_at', type: 'bigint', isNullable: true },
          { name: 'revoked_at', type: 'bigint', isNullable: true },
          { name: 'revocation_reason', type: 'varchar', length: '200', isNullable: true },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'peers',
        columns: [
          { name: 'code', type: 'varchar', length: '6', isPrimary: true },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'endpoint', type: 'varchar', length: '255' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'allowed_licence_types', type: 'text' },
          { name: 'created_at', type: 'bigint' },
          { name: 'updated_at', type: 'bigint' },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'peer_keys',
        columns: [
          { name: 'peer_code', type: 'varchar', length: '6', isPrimary: true },
          { name: 'kid', type: 'varchar', length: '64', isPrimary: true },
          { name: 'alg', type: 'varchar', length: '16' },
          { name: 'public_jwk', type: 'text' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'added_at', type: 'bigint' },
          { name: 'retired_at', type: 'bigint', isNullable: true },
        ],
        foreignKeys: [{ columnNames: ['peer_code'], referencedTableName: 'peers', referencedColumnNames: ['code'], onDelete: 'CASCADE' }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'licences',
        columns: [
          { name: 'licence_id', type: 'varchar', length: '128', isPrimary: true },
          { name: 'type_code', type: 'varchar', length: '21' },
          { name: 'name', type: 'varchar', length: '100' },
          { name: 'number', type: 'varchar', length: '64' },
          { name: 'issuer_organ_name', type: 'varchar', length: '200' },
          { name: 'issuer_organ_code', type: 'varchar', length: '18' },
          { name: 'holder_name', type: 'varchar', length: '200' },
          { name: 'holder_code', type: 'varchar', length: '18' },
          { name: 'holder_code_type', type: 'varchar', length: '3' },
          { name: 'issue_date', type: 'varchar', length: '10' },
          { name: 'valid_from', type: 'varchar', length: '10' },
          { name: 'valid_until', type: 'varchar', length: '10', isNullable: true },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'jurisdiction_code', type: 'varchar', length: '6' },
          { name: 'updated_at', type: 'bigint' },
        ],
        indices: [{ name: 'uq_licences_type_number', columnNames: ['type_code', 'number'], isUnique: true }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'seen_messages',
        columns: [
          { name: 'sender', type: 'varchar', length: '6', isPrimary: true },
          { name: 'message_id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'expires_at', type: 'bigint' },
        ],
      }),
    );
    await q.createIndex('seen_messages', new TableIndex({ name: 'ix_seen_messages_expires', columnNames: ['expires_at'] }));
    await q.createTable(
      new Table({
        name: 'audit_events',
        columns: [
          { name: 'seq', type: 'integer', isPrimary: true, isGenerated: true, generationStrategy: 'increment' },
          { name: 'at', type: 'bigint' },
          { name: 'event', type: 'varchar', length: '64' },
          { name: 'actor', type: 'varchar', length: '64' },
          { name: 'subject', type: 'varchar', length: '256' },
          { name: 'outcome', type: 'varchar', length: '16' },
          { name: 'reason', type: 'varchar', length: '64', isNullable: true },
          { name: 'message_id', type: 'varchar', length: '64', isNullable: true },
          { name: 'details', type: 'text', isNullable: true },
        ],
      }),
    );
    await q.createIndex('audit_events', new TableIndex({ name: 'ix_audit_events_event_at', columnNames: ['event', 'at'] }));
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['audit_events', 'seen_messages', 'licences', 'peer_keys', 'peers', 'signing_keys']) {
      await q.dropTable(t);
    }
  }
}
