import { MigrationInterface, QueryRunner, Table, TableColumn } from 'typeorm';

/**
 * Licence status notices (docs/protocol-notices.md): subscriptions peers made at this issuer, the
 * subscriptions this gateway made for its local clients (with the newest version seen), standing
 * subscriptions per client and licence type, and the peer policy that allows subscribing.
 */
export class LicenceNotices1765810000000 implements MigrationInterface {
  name = 'LicenceNotices1765810000000';

  async up(q: QueryRunner): Promise<void> {
    await q.createTable(
      new Table({
        name: 'licence_subscriptions',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'peer', type: 'varchar', length: '6' },
          { name: 'notify_ref', type: 'varchar', length: '64' },
          { name: 'licence_id', type: 'varchar', length: '128' },
          { name: 'licence_type', type: 'varchar', length: '21' },
          { name: 'created_at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint' },
        ],
        uniques: [{ name: 'uq_licence_subscriptions_peer_ref', columnNames: ['peer', 'notify_ref'] }],
        indices: [
          { name: 'ix_licence_subscriptions_licence', columnNames: ['licence_id', 'expires_at'] },
          { name: 'ix_licence_subscriptions_expiry', columnNames: ['expires_at'] },
        ],
      }),
    );
    await q.createTable(
      new Table({
        name: 'notice_subscriptions',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'client', type: 'varchar', length: '100' },
          { name: 'issuer', type: 'varchar', length: '6' },
          { name: 'licence_id', type: 'varchar', length: '128' },
          { name: 'licence_type', type: 'varchar', length: '21' },
          { name: 'origin', type: 'varchar', length: '16' },
          { name: 'created_at', type: 'bigint' },
          { name: 'expires_at', type: 'bigint' },
          { name: 'last_version', type: 'integer', default: 0 },
          { name: 'last_status', type: 'varchar', length: '16', isNullable: true },
          { name: 'last_changed_at', type: 'bigint', isNullable: true },
        ],
        uniques: [{ name: 'uq_notice_subscriptions_client_licence', columnNames: ['client', 'licence_id'] }],
        indices: [{ name: 'ix_notice_subscriptions_licence', columnNames: ['issuer', 'licence_id'] }],
      }),
    );
    await q.createTable(
      new Table({
        name: 'notice_standing_subscriptions',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'client', type: 'varchar', length: '100' },
          { name: 'licence_type', type: 'varchar', length: '21' },
          { name: 'created_at', type: 'bigint' },
        ],
        uniques: [{ name: 'uq_notice_standing_client_type', columnNames: ['client', 'licence_type'] }],
      }),
    );
    await q.addColumn('peers', new TableColumn({ name: 'allow_notices', type: 'boolean', isNullable: false, default: 'true' }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('peers', 'allow_notices');
    for (const t of ['notice_standing_subscriptions', 'notice_subscriptions', 'licence_subscriptions']) await q.dropTable(t);
  }
}
