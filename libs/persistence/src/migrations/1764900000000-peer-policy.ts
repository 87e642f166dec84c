import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** Peer policy: which service items a peer may route to us, and a request rate limit. */
export class PeerPolicy1764900000000 implements MigrationInterface {
  name = 'PeerPolicy1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('peers', new TableColumn({ name: 'allowed_items', type: 'text', isNullable: true }));
    await q.addColumn('peers', new TableColumn({ name: 'rate_limit_per_s', type: 'integer', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('peers', 'rate_limit_per_s');
    await q.dropColumn('peers', 'allowed_items');
  }
}
