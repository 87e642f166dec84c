import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/** Peer policy: the JWS algorithms a peer must sign with (e.g. only SM2SM3); null = any on the allow-list. */
export class PeerAllowedAlgs1765720000000 implements MigrationInterface {
  name = 'PeerAllowedAlgs1765720000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('peers', new TableColumn({ name: 'allowed_algs', type: 'text', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('peers', 'allowed_algs');
  }
}
