import { DataSource } from 'typeorm';
import { AuditEventEntity, AuditLog } from '@tongban/audit';
import { SystemClock } from '@tongban/common';
import { SecretSealer } from '@tongban/keys';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { WebhookDeliveryEntity } from './webhook-delivery.entity';
import { WebhookEntity } from './webhook.entity';
import { WebhookService } from './webhook.service';

// A webhook belongs to the API client that registered it; URLs must reach public addresses unless
// the operator allows a range; each client holds at most maxPerClient webhooks.
describeEachDatabase('webhook ownership, address policy and cap', (fresh) => {
  let ds: DataSource;
  let service: WebhookService;

  beforeAll(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [WebhookEntity, WebhookDeliveryEntity, AuditEventEntity]));
    const clock = new SystemClock();
    const options = { backoffBaseMs: 1000, backoffCapMs: 10_000, maxAttempts: 3, timeoutMs: 1000, allowCidrs: ['127.0.0.0/8'], maxPerClient: 2 } as never;
    service = new WebhookService(ds, clock, new AuditLog(ds, clock), options, new SecretSealer({ keyEncryptionSecret: 'a-test-key-encryption-secret-0123' }));
  });

  afterAll(async () => {
    await ds?.destroy();
  });

  it('lists and deletes only the caller’s own webhooks; null (admin) sees and deletes all', async () => {
    const a = await service.register({ url: 'http://127.0.0.1:9/a' }, 'hall');
    const b = await service.register({ url: 'http://127.0.0.2:9/b' }, 'tasks');
    expect((await service.list('hall')).webhooks.map((w) => w.id)).toEqual([a.id]);
    expect((await service.list('tasks')).webhooks.map((w) => w.id)).toEqual([b.id]);
    await expect(service.remove(a.id, 'tasks', 'tasks')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect((await service.list(null)).webhooks.map((w) => w.id).sort()).toEqual([a.id, b.id].sort());
    await service.remove(b.id, null, 'admin');
    await service.remove(a.id, 'hall', 'hall');
    expect((await service.list(null)).webhooks).toEqual([]);
  });

  it('refuses URLs to non-public addresses outside the allowed ranges, naming the field, storing nothing', async () => {
    for (const [url, reason] of [
      ['http://10.0.0.5/hook', 'private'],
      ['http://169.254.169.254/latest/meta-data/', 'metadata'],
      ['http://[::1]:8080/hook', 'loopback'],
      ['http://[::ffff:192.168.0.1]/hook', 'private'],
      ['https://[fe80::1]/hook', 'link-local'],
      ['http://0.0.0.0:80/', 'unspecified'],
    ]) {
      await expect(service.register({ url }, 'hall')).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        details: { field: 'url', rule: 'PUBLIC_ADDRESS' },
        message: expect.stringContaining(`a ${reason} address`) as string,
      });
    }
    expect(await ds.getRepository(WebhookEntity).count()).toBe(0);
    // A name that does not resolve (yet) is accepted: each delivery resolves and checks it again.
    const later = await service.register({ url: 'http://no-such-host.invalid/hook' }, 'hall');
    await service.remove(later.id, 'hall', 'hall');
  });

  it('names, at start, webhooks stored earlier whose address the settings no longer allow', async () => {
    const now = new Date();
    await ds.getRepository(WebhookEntity).insert([
      { id: 'old-private', url: 'http://10.9.8.7/hook', events: ['*'], secret: '', secretSealed: null, createdBy: 'old', createdAt: now },
      { id: 'old-allowed', url: 'http://127.0.0.1:9/hook', events: ['*'], secret: '', secretSealed: null, createdBy: 'old', createdAt: now },
    ]);
    expect(await service.warnBlockedWebhooks()).toEqual(['old-private']);
    await ds.getRepository(WebhookEntity).delete({ createdBy: 'old' });
  });

  it('caps webhooks per client (409 CONFLICT, rule MAX_PER_CLIENT); other clients are not affected', async () => {
    await service.register({ url: 'http://127.0.0.1:9/1' }, 'busy');
    await service.register({ url: 'http://127.0.0.1:9/2' }, 'busy');
    await expect(service.register({ url: 'http://127.0.0.1:9/3' }, 'busy')).rejects.toMatchObject({ code: 'CONFLICT', details: { rule: 'MAX_PER_CLIENT' } });
    await expect(service.register({ url: 'http://127.0.0.1:9/3' }, 'calm')).resolves.toMatchObject({ url: 'http://127.0.0.1:9/3' });
    expect((await service.list('busy')).webhooks).toHaveLength(2);
  });

  it('holds the cap under concurrent registrations: of 8 at once with room for 2, exactly 2 succeed and 6 are refused', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => service.register({ url: `http://127.0.0.1:9/race-${i}` }, 'racer')));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(ok).toHaveLength(2);
    expect(refused).toHaveLength(6);
    for (const r of refused) expect(r.reason).toMatchObject({ code: 'CONFLICT', details: { rule: 'MAX_PER_CLIENT' } });
    expect(await ds.getRepository(WebhookEntity).countBy({ createdBy: 'racer' })).toBe(2);
  });
});
