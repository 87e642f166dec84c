import { DataSource } from 'typeorm';
import { AuditEventEntity, AuditLog } from '@tongban/audit';
import { SystemClock } from '@tongban/common';
import { SecretSealer } from '@tongban/keys';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookEntity } from './webhook.entity';
import { WebhookService } from './webhook.service';

// Webhook HMAC secrets are sealed at rest: new ones at registration, rows from earlier versions at
// the next start; a sealed value only opens for its own row and with the right secret.
describeEachDatabase('webhook secrets at rest', (fresh) => {
  let ds: DataSource;
  let service: WebhookService;
  const sealer = new SecretSealer({ keyEncryptionSecret: 'a-test-key-encryption-secret-0123' });

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [WebhookEntity, WebhookDeliveryEntity, AuditEventEntity]));
    const clock = new SystemClock();
    service = new WebhookService(ds, clock, new AuditLog(ds, clock), { backoffBaseMs: 1000, backoffCapMs: 10_000, maxAttempts: 3, timeoutMs: 1000 } as never, sealer);
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('stores a new secret sealed only, bound to its row', async () => {
    const secret = 'a-registered-webhook-secret-0001';
    const { id } = await service.register({ url: 'http://127.0.0.1:9/hook', secret }, 'tester');
    const row = await ds.getRepository(WebhookEntity).findOneByOrFail({ id });
    expect(row.secret).toBe('');
    expect(row.secretSealed).not.toContain(secret);
    expect(sealer.open('webhook', id, row.secretSealed!)).toBe(secret);
    expect(() => sealer.open('webhook', 'another-row', row.secretSealed!)).toThrow();
    expect(() => new SecretSealer({ keyEncryptionSecret: 'another-secret-of-enough-length' }).open('webhook', id, row.secretSealed!)).toThrow();
  });

  it('seals a plaintext secret left by an earlier version, once', async () => {
    const legacy: WebhookEntity = { id: 'legacy-hook', url: 'http://127.0.0.1:9/old', events: ['*'], secret: 'an-old-plaintext-webhook-secret', secretSealed: null, createdBy: 'old', createdAt: new Date() };
    await ds.getRepository(WebhookEntity).insert(legacy);
    expect(await service.sealLegacySecrets()).toBe(1);
    const row = await ds.getRepository(WebhookEntity).findOneByOrFail({ id: 'legacy-hook' });
    expect(row.secret).toBe('');
    expect(sealer.open('webhook', 'legacy-hook', row.secretSealed!)).toBe('an-old-plaintext-webhook-secret');
    expect(await service.sealLegacySecrets()).toBe(0);
  });
});
