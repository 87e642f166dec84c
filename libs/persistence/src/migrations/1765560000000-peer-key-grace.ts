import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Peer keys: until when a RETIRED key is still accepted for envelopes (epoch ms). Set only when
 * the peer itself announced the retirement (a rotation: messages signed just before the switch may
 * still be in flight); null = a retired key signs no envelope (admin API, directory).
 */
export class PeerKeyGrace1765560000000 implements MigrationInterface {
  name = 'PeerKeyGrace1765560000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('peer_keys', new TableColumn({ name: 'envelopes_until', type: 'bigint', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('peer_keys', 'envelopes_until');
  }
}
