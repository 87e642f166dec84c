import { AuditEventEntity, AuditLog } from '@tongban/audit';
import { Clock } from '@tongban/common';
import { Dispatcher, InboxMessageEntity, Inbox, Outbox, OutboxMessageEntity } from '@tongban/delivery';
import { KeyStore } from '@tongban/keys';
import { LicenceEntity, LicenceStatusEntity, LicenceStatusService } from '@tongban/licences';
import { buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { LicenceStatusChanged, LicenceSubscriptionCancelled } from '@tongban/proto';
import { demoLicences, describeEachDatabase } from '@tongban/testkit';
import { TrustStore } from '@tongban/trust';
import { WebhookDeliveryEntity, WebhookDispatcher, WebhookEntity, WebhookList } from '@tongban/webhooks';
import { LicenceSubscriptionEntity } from './licence-subscription.entity';
import { LicenceSubscriptions } from './licence-subscriptions.service';
import { NoticeReceiver } from './notice-receiver.service';
import { LicenceChange, NoticeSender } from './notice-sender.service';
import { noticeStream } from './notice-stream';
import { NoticeSubscriptionEntity } from './notice-subscription.entity';
import { NoticeSubscriptions } from './notice-subscriptions.service';
import { StandingSubscriptionEntity } from './standing-subscription.entity';
import { NoticeMessage } from './notices.options';
import { EXPIRED_SUBSCRIPTION_DAYS, noticeSubscriptionsRetention } from './notice-retention';

const BJ = '110000';
const GD = '440000';
const HB = '130000';
const XJ = '650000'; // its policy forbids notices
const ENTITIES = [
  LicenceEntity,
  LicenceStatusEntity,
  LicenceSubscriptionEntity,
  NoticeSubscriptionEntity,
  StandingSubscriptionEntity,
  OutboxMessageEntity,
  InboxMessageEntity,
  WebhookEntity,
  WebhookDeliveryEntity,
  AuditEventEntity,
];
const [L1, L2] = demoLicences(BJ).filter((l) => l.status === 'VALID');

class TestClock extends Clock {
  at = new Date('2026-12-01T00:00:00Z');
  now(): Date {
    return new Date(this.at);
  }
}
// Receipts are JSON here: only what is stored and applied matters to these rules.
const keys = { signJws: (_typ: string, claims: object) => JSON.stringify(claims) } as unknown as KeyStore;
const receipt = (r: string) => JSON.parse(r) as { sta: string; rsn?: string };
const trust = { peer: (code: string) => ({ allowNotices: code !== XJ }) } as unknown as TrustStore;
const nudges = { nudge: () => undefined };

/** One gateway's notice parts on one database. */
async function gateway(target: Parameters<typeof buildDataSource>[0], self: string, maxPerPeer = 3) {
  const ds = await openDatabase(buildDataSource(target, ENTITIES));
  const clock = new TestClock();
  const audit = new AuditLog(ds, clock);
  const inbox = new Inbox(ds, keys, clock, self);
  const subscriptions = new LicenceSubscriptions(ds, clock, trust, audit, { maxPerPeer, ttlMs: 30 * 24 * 3600_000 }, self);
  const receiver = new NoticeReceiver(inbox, subscriptions, new WebhookList(), nudges as unknown as WebhookDispatcher, audit, clock);
  receiver.onModuleInit();
  const statuses = new LicenceStatusService(ds, clock, audit);
  const sender = new NoticeSender(subscriptions, new Outbox(clock), nudges as unknown as Dispatcher, receiver, audit, self, statuses);
  sender.onModuleInit();
  return { ds, clock, inbox, subscriptions, sender, statuses, audit };
}

const change = (l: { licenceId: string; typeCode: string }, version: number, status: LicenceChange['status'], previous: LicenceChange['status']): LicenceChange => ({
  licenceId: l.licenceId,
  typeCode: l.typeCode,
  status,
  previous,
  version,
  changedAt: new Date('2026-12-02T08:00:00Z'),
  reason: '吊销：测试',
});

describeEachDatabase('licence notices', (fresh) => {
  let issuer: Awaited<ReturnType<typeof gateway>>;
  let asker: Awaited<ReturnType<typeof gateway>>;

  beforeEach(async () => {
    issuer = await gateway(fresh(), BJ);
    asker = await gateway(fresh(), GD);
  });
  afterEach(async () => {
    for (const g of [issuer, asker]) {
      await g.audit.flush();
      await g.audit.onModuleDestroy();
    }
    await issuer.ds.destroy();
    await asker.ds.destroy();
  });

  const outbox = () => issuer.ds.getRepository(OutboxMessageEntity).find({ order: { peer: 'ASC', seq: 'ASC' } });
  const sendChange = (c: LicenceChange) => runInTransaction(issuer.ds, (tx) => issuer.sender.send(c, tx));

  it('records subscriptions per peer and ref: renewal, the per-peer bound (expired ones do not count), peer policy, a ref reused for another licence', async () => {
    const sub = (peer: string, ref: string, l = L1) => issuer.subscriptions.subscribe(peer, ref, l).then((r) => r.outcome);
    expect(await sub(GD, 'a')).toBe('ACCEPTED');
    issuer.clock.at = new Date(issuer.clock.at.getTime() + 1000);
    const renewed = await issuer.subscriptions.subscribe(GD, 'a', L1);
    expect(renewed.expiresAt!.getTime()).toBe(issuer.clock.at.getTime() + 30 * 24 * 3600_000);
    expect(await sub(GD, 'a', L2)).toBe('NOTIFY_REF_IN_USE');
    expect(await sub(GD, 'b', L2)).toBe('ACCEPTED');
    expect(await sub(GD, 'c')).toBe('ACCEPTED');
    expect(await sub(GD, 'd')).toBe('SUBSCRIPTION_LIMIT');
    expect(await sub(HB, 'd')).toBe('ACCEPTED');
    expect(await sub(XJ, 'x')).toBe('NOTICES_NOT_ALLOWED');
    // Our own clients: accepted, held on the asker side only.
    expect(await sub(BJ, 'own')).toBe('ACCEPTED');
    expect((await issuer.subscriptions.list({})).subscriptions.map((s) => `${s.peer}/${s.notifyRef}`).sort()).toEqual(['130000/d', '440000/a', '440000/b', '440000/c']);
    // 31 days on, all have expired: they count no more, and nothing is listed.
    issuer.clock.at = new Date(issuer.clock.at.getTime() + 31 * 24 * 3600_000);
    expect((await issuer.subscriptions.list({ peer: GD })).subscriptions).toEqual([]);
    expect(await sub(GD, 'd')).toBe('ACCEPTED');
    expect(await sub(GD, 'a')).toBe('ACCEPTED');
    // The retention job a week from now (it passes cutoff = its now − EXPIRED_SUBSCRIPTION_DAYS): the expired rows go, the live ones stay.
    const jobRunsAt = issuer.clock.now().getTime() + EXPIRED_SUBSCRIPTION_DAYS * 24 * 3600_000;
    const cutoff = jobRunsAt - EXPIRED_SUBSCRIPTION_DAYS * 24 * 3600_000;
    expect(await noticeSubscriptionsRetention('licence_subscriptions').deleteBatch(issuer.ds, cutoff, 100)).toBe(3);
    expect((await issuer.ds.getRepository(LicenceSubscriptionEntity).find()).map((r) => r.notifyRef).sort()).toEqual(['a', 'd']);
  });

  it('a change enqueues one LicenceStatusChanged per live subscribed peer, on the licence stream, in version order', async () => {
    await issuer.subscriptions.subscribe(GD, 'a', L1);
    await issuer.subscriptions.subscribe(GD, 'b', L1); // a second client at 广东: still one notice to 广东
    await issuer.subscriptions.subscribe(HB, 'c', L2); // another licence: nothing
    expect((await sendChange(change(L1, 1, 'SUSPENDED', 'VALID'))).peers).toEqual([GD]);
    expect((await sendChange(change(L1, 2, 'REVOKED', 'SUSPENDED'))).peers).toEqual([GD]);
    const rows = await outbox();
    expect(rows.map((r) => [r.peer, r.stream, r.seq, r.type])).toEqual([
      [GD, noticeStream(L1.licenceId), 1, NoticeMessage.StatusChanged],
      [GD, noticeStream(L1.licenceId), 2, NoticeMessage.StatusChanged],
    ]);
    const bodies = rows.map((r) => LicenceStatusChanged.decode(Buffer.from(r.body, 'base64')));
    expect(bodies.map((b) => [b.licenceId, b.status, b.previous, b.version])).toEqual([
      [L1.licenceId, 'LICENCE_STATUS_SUSPENDED', 'LICENCE_STATUS_VALID', '1'],
      [L1.licenceId, 'LICENCE_STATUS_REVOKED', 'LICENCE_STATUS_SUSPENDED', '2'],
    ]);
    // Rolled back with the change: a change that does not commit sends nothing.
    await expect(runInTransaction(issuer.ds, async (tx) => (await issuer.sender.send(change(L1, 3, 'VALID', 'REVOKED'), tx), Promise.reject(new Error('rolled back'))))).rejects.toThrow();
    expect(await outbox()).toHaveLength(2);
  });

  it('LicenceStatusService changes reach subscribers with its per-licence versions; an unchanged status or a refused change sends nothing', async () => {
    await issuer.subscriptions.subscribe(GD, 'a', L1);
    const set = (status: LicenceChange['status']) => issuer.statuses.change({ licenceId: L1.licenceId, status, reason: '测试', actor: 'admin', source: 'library' });
    await set('SUSPENDED');
    await set('SUSPENDED'); // no change: no notice
    await set('VALID');
    await set('REVOKED');
    await expect(set('VALID')).rejects.toMatchObject({ code: 'CONFLICT' }); // REVOKED is final: rolled back, nothing sent
    const rows = await outbox();
    expect(rows.map((r) => [r.peer, r.seq, LicenceStatusChanged.decode(Buffer.from(r.body, 'base64')).version, LicenceStatusChanged.decode(Buffer.from(r.body, 'base64')).status])).toEqual([
      [GD, 1, '1', 'LICENCE_STATUS_SUSPENDED'],
      [GD, 2, '2', 'LICENCE_STATUS_VALID'],
      [GD, 3, '3', 'LICENCE_STATUS_REVOKED'],
    ]);
  });

  it('a notice keeps the correlation id of the request that made the change (outbox correlation_id), passed explicitly', async () => {
    await issuer.subscriptions.subscribe(GD, 'a', L1);
    await issuer.statuses.change({ licenceId: L1.licenceId, status: 'SUSPENDED', reason: '测试', actor: 'admin', source: 'library', correlationId: 'req-notice-1' });
    await issuer.statuses.change({ licenceId: L1.licenceId, status: 'VALID', reason: '测试', actor: 'admin', source: 'library' });
    expect((await outbox()).map((r) => r.correlationId)).toEqual(['req-notice-1', null]);
  });

  it("a verification's cancellation of a second reference keeps that request's correlation id (outbox correlation_id), passed explicitly", async () => {
    const subs = new NoticeSubscriptions(asker.ds, asker.clock, new Outbox(asker.clock), nudges as unknown as Dispatcher, asker.audit, GD);
    const expiresAt = new Date(asker.clock.now().getTime() + 24 * 3600_000);
    const licence = { licenceId: L1.licenceId, licenceType: L1.typeCode };
    await subs.recorded('client-a', BJ, { ref: 'ref-1', origin: 'VERIFICATION' }, licence, { outcome: 'ACCEPTED', expiresAt }, 'req-verify-1');
    // Asked again by licence number with a fresh ref: the issuer now holds a second one, withdrawn at once.
    const second = await subs.recorded('client-a', BJ, { ref: 'ref-2', origin: 'VERIFICATION' }, licence, { outcome: 'ACCEPTED', expiresAt }, 'req-verify-2');
    expect(second.subscriptionId).toBe('ref-1');
    const rows = await asker.ds.getRepository(OutboxMessageEntity).find({ order: { seq: 'ASC' } });
    expect(rows.map((r) => [r.peer, r.type, LicenceSubscriptionCancelled.decode(Buffer.from(r.body, 'base64')).notifyRef, r.correlationId])).toEqual([
      [BJ, NoticeMessage.Cancelled, 'ref-2', 'req-verify-2'],
    ]);
  });

  it('the asker applies a notice once per newer version, queues a webhook for the asking client only, and refuses what it did not subscribe to', async () => {
    const now = asker.clock.now();
    const subs = asker.ds.getRepository(NoticeSubscriptionEntity);
    const row = {
      issuer: BJ,
      licenceId: L1.licenceId,
      licenceType: L1.typeCode,
      origin: 'VERIFICATION' as const,
      createdAt: now,
      expiresAt: new Date(now.getTime() + 3600_000),
      lastVersion: 0,
      lastStatus: null,
      lastChangedAt: null,
    };
    await subs.insert({ ...row, id: 'ref-hall', client: 'hall' });
    await asker.ds.getRepository(WebhookEntity).insert([
      { id: 'w-hall', url: 'http://127.0.0.1:9/h', events: ['licence.status.changed'], secret: '', secretSealed: null, createdBy: 'hall', createdAt: now },
      { id: 'w-tasks', url: 'http://127.0.0.1:9/t', events: ['*'], secret: '', secretSealed: null, createdBy: 'tasks', createdAt: now },
      { id: 'w-hall-cases', url: 'http://127.0.0.1:9/c', events: ['STEP_*'], secret: '', secretSealed: null, createdBy: 'hall', createdAt: now },
    ]);
    let sent = 0;
    const deliver = (from: string, seq: number, c: LicenceChange, l = L1) =>
      asker.inbox.receive(from, {
        messageId: `m-${++sent}`,
        stream: noticeStream(l.licenceId),
        seq: String(seq),
        type: NoticeMessage.StatusChanged,
        body: Buffer.from(
          LicenceStatusChanged.encode({
            licenceId: c.licenceId,
            licenceType: c.typeCode,
            status: `LICENCE_STATUS_${c.status}` as never,
            previous: `LICENCE_STATUS_${c.previous}` as never,
            version: String(c.version),
            changedAt: { seconds: '1796198400', nanos: 0 },
            reason: c.reason,
          }).finish(),
        ),
      });
    expect(receipt(await deliver(BJ, 1, change(L1, 2, 'REVOKED', 'VALID'))).sta).toBe('ACCEPTED');
    const hooks = await asker.ds.getRepository(WebhookDeliveryEntity).find();
    expect(hooks.map((h) => [h.webhookId, h.eventType])).toEqual([['w-hall', 'licence.status.changed']]);
    expect(JSON.parse(hooks[0].body)).toMatchObject({
      type: 'licence.status.changed',
      subscriptionId: 'ref-hall',
      issuerProvince: BJ,
      licenceId: L1.licenceId,
      status: 'REVOKED',
      previous: 'VALID',
      version: 2,
      changedAt: '2026-12-02T08:00:00.000Z',
    });
    // An older version arriving later (a second message) is taken but overrides nothing.
    expect(receipt(await deliver(BJ, 2, change(L1, 1, 'SUSPENDED', 'VALID'))).sta).toBe('ACCEPTED');
    expect(await asker.ds.getRepository(WebhookDeliveryEntity).count()).toBe(1);
    expect(await subs.findOneBy({ id: 'ref-hall' })).toMatchObject({ lastVersion: 2, lastStatus: 'REVOKED' });
    // Not the issuing province of the licence; a licence nobody here follows; a wrong stream.
    expect(receipt(await deliver(HB, 1, change(L1, 3, 'VALID', 'REVOKED')))).toMatchObject({ sta: 'REJECTED', rsn: expect.stringMatching(/^NOT_ISSUER/) });
    expect(receipt(await deliver(BJ, 1, change(L2, 1, 'REVOKED', 'VALID'), L2))).toMatchObject({ sta: 'REJECTED', rsn: expect.stringMatching(/^NOT_SUBSCRIBED/) });
    expect(receipt(await deliver(BJ, 3, change(L2, 1, 'REVOKED', 'VALID'), L1))).toMatchObject({ sta: 'REJECTED', rsn: expect.stringMatching(/^STREAM_MISMATCH/) });
    // Expired here: the issuer may still send until it forgets; nothing is delivered.
    asker.clock.at = new Date(now.getTime() + 2 * 3600_000);
    expect(receipt(await deliver(BJ, 4, change(L1, 3, 'VALID', 'REVOKED')))).toMatchObject({ sta: 'REJECTED', rsn: expect.stringMatching(/^NOT_SUBSCRIBED/) });
    expect(await asker.ds.getRepository(WebhookDeliveryEntity).count()).toBe(1);
  });

  it('a cancellation from the peer removes its subscription: the next change is not sent to it', async () => {
    await issuer.subscriptions.subscribe(GD, 'a', L1);
    const cancel = (ref: string, seq: number) =>
      issuer.inbox.receive(GD, {
        messageId: `c-${seq}`,
        stream: noticeStream(L1.licenceId),
        seq: String(seq),
        type: NoticeMessage.Cancelled,
        body: Buffer.from(LicenceSubscriptionCancelled.encode({ notifyRef: ref, licenceId: L1.licenceId }).finish()),
      });
    expect(receipt(await cancel('a', 1)).sta).toBe('ACCEPTED');
    expect(receipt(await cancel('a', 2)).sta).toBe('ACCEPTED'); // nothing left to cancel: the same answer
    expect((await sendChange(change(L1, 1, 'REVOKED', 'VALID'))).peers).toEqual([]);
    expect(await outbox()).toEqual([]);
  });
});
