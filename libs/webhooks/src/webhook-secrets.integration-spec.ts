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
// the next start; a sealed value only opens for its own row and with the right secret. And the
// admin's re-queue of a DEAD delivery.
describeEachDatabase('webhook secrets at rest, and re-queueing deliveries', (fresh) => {
  let ds: DataSource;
  let service: WebhookService;
  let nudges = 0;
  const sealer = new SecretSealer({ keyEncryptionSecret: 'a-test-key-encryption-secret-0123' });

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [WebhookEntity, WebhookDeliveryEntity, AuditEventEntity]));
    const clock = new SystemClock();
    service = new WebhookService(
      ds,
      clock,
      new AuditLog(ds, clock),
      { backoffBaseMs: 1000, backoffCapMs: 10_000, maxAttempts: 3, timeoutMs: 1000, allowCidrs: ['127.0.0.0/8'], maxPerClient: 20 } as never,
      sealer,
      {
        nudge: () => void nudges++,
      } as never,
    );
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
    await expect(sealer.open('webhook', id, row.secretSealed!)).resolves.toBe(secret);
    await expect(sealer.open('webhook', 'another-row', row.secretSealed!)).rejects.toThrow();
    await expect(new SecretSealer({ keyEncryptionSecret: 'another-secret-of-enough-length' }).open('webhook', id, row.secretSealed!)).rejects.toThrow();
  });

  it('seals a plaintext secret left by an earlier version, once', async () => {
    const legacy: WebhookEntity = {
      id: 'legacy-hook',
      url: 'http://127.0.0.1:9/old',
      events: ['*'],
      secret: 'an-old-plaintext-webhook-secret',
      secretSealed: null,
      createdBy: 'old',
      createdAt: new Date(),
    };
    await ds.getRepository(WebhookEntity).insert(legacy);
    expect(await service.sealLegacySecrets()).toBe(1);
    const row = await ds.getRepository(WebhookEntity).findOneByOrFail({ id: 'legacy-hook' });
    expect(row.secret).toBe('');
    await expect(sealer.open('webhook', 'legacy-hook', row.secretSealed!)).resolves.toBe('an-old-plaintext-webhook-secret');
    expect(await service.sealLegacySecrets()).toBe(0);
  });

  it('re-queues a DEAD delivery with a fresh attempt budget; refuses one that is not DEAD or whose webhook was deleted', async () => {
    const { id: hookId } = await service.register({ url: 'http://127.0.0.1:9/requeue' }, 'tester');
    const old = new Date(Date.now() - 86_400_000);
    const delivery = (id: string, webhookId: string, status: WebhookDeliveryEntity['status']): WebhookDeliveryEntity => ({
      id,
      webhookId,
      eventType: 'CASE_OPENED',
      body: '{}',
      status,
      attempts: 12,
      nextAttemptAt: old,
      lastStatus: 500,
      lastError: 'HTTP 500',
      createdAt: old,
      deliveredAt: null,
      leaseOwner: null,
      leaseUntil: null,
    });
    await ds.getRepository(WebhookDeliveryEntity).insert([delivery('d-dead', hookId, 'DEAD'), delivery('d-done', hookId, 'DELIVERED'), delivery('d-orphan', 'deleted-hook', 'DEAD')]);
    const view = await service.requeue('d-dead');
    expect(view).toMatchObject({ id: 'd-dead', status: 'PENDING', attempts: 0, lastError: null, lastStatus: null });
    expect(nudges).toBe(1);
    await expect(service.requeue('d-done')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(service.requeue('d-orphan')).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/was deleted/) });
    await expect(service.requeue('d-none')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await ds.getRepository(WebhookDeliveryEntity).findOneByOrFail({ id: 'd-orphan' })).status).toBe('DEAD');
    expect(nudges).toBe(1);
  });
});
