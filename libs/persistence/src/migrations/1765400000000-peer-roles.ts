import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** Per-peer policy: the case roles a peer may take in cases shared with us (JSON array; null = every role). */
export class PeerRoles1765400000000 implements MigrationInterface {
  name = 'PeerRoles1765400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('peers', new TableColumn({ name: 'allowed_roles', type: 'text', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('peers', 'allowed_roles');
  }
}
