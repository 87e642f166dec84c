import { MigrationInterface, QueryRunner, TableColumn } from 'typeorm';

/**
 * Webhook HMAC secrets encrypted at rest: `secret_sealed` holds the AES-256-GCM sealed secret. The
 * old `secret` column is emptied by the gateway at its next start (it needs the key-encryption
 * secret, which migrations do not have) and kept only so that an older build can still be rolled
 * back to before that start.
 */
export class WebhookSecretSealed1765200000000 implements MigrationInterface {
  name = 'WebhookSecretSealed1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.addColumn('webhooks', new TableColumn({ name: 'secret_sealed', type: 'text', isNullable: true }));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.dropColumn('webhooks', 'secret_sealed');
  }
}
