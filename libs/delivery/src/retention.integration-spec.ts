import { Clock, SystemClock } from '@tongban/common';
import { KeyStore } from '@tongban/keys';
import { RetentionWorker, buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { webhookDeliveriesRetention } from '@tongban/webhooks';
import { DataSource } from 'typeorm';
import { inboxRetention, outboxRetention } from './delivery-retention';
import { InboxMessageEntity } from './inbox-message.entity';
import { Inbox } from './inbox.service';
import { OutboxMessageEntity } from './outbox-message.entity';
import { Outbox } from './outbox.service';

const DAY = 86_400_000;
const PEER = '130000';

describeEachDatabase('Retention of outbox, inbox and webhook deliveries', (fresh) => {
  let ds: DataSource;
  const clock: Clock = new SystemClock();
  const now = Date.now();
  const old = new Date(now - 40 * DAY);
  const recent = new Date(now - 2 * DAY);

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [OutboxMessageEntity, InboxMessageEntity]));
  });
  afterEach(async () => {
    await ds.destroy();
  });

  const worker = (deleted: Record<string, number>) =>
    new RetentionWorker(
      ds,
      () => now,
      [outboxRetention(30), inboxRetention(30), webhookDeliveriesRetention(30)],
      { intervalMs: 0, batchSize: 1 },
      { deleted: (t, n) => (deleted[t] = (deleted[t] ?? 0) + n) },
    );

  it('deletes old delivered outbox rows in batches, keeps pending, dead, recent and each stream’s last seq, and seq allocation goes on', async () => {
    const outbox = new Outbox(clock);
    const enqueue = (stream: string) => runInTransaction(ds, (tx) => outbox.enqueue(tx, { peer: PEER, stream, type: 't', body: Buffer.from(stream), correlationId: undefined }));
    const [a1, a2, a3, b1, c1, c2] = [await enqueue('a'), await enqueue('a'), await enqueue('a'), await enqueue('b'), await enqueue('c'), await enqueue('c')];
    const repo = ds.getRepository(OutboxMessageEntity);
    for (const id of [a1, a2, b1]) await repo.update({ id }, { status: 'DELIVERED', deliveredAt: old, createdAt: old });
    await repo.update({ id: a3 }, { status: 'DELIVERED', deliveredAt: recent });
    await repo.update({ id: c1 }, { status: 'DEAD', createdAt: old });
    await repo.update({ id: c2 }, { createdAt: old });

    const deleted: Record<string, number> = {};
    expect(await worker(deleted).runOnce()).toEqual({ outbox_messages: 2, inbox_messages: 0, webhook_deliveries: 0 });
    expect(deleted).toEqual({ outbox_messages: 2 });
    const left = (await repo.find({ order: { stream: 'ASC', seq: 'ASC' } })).map((r) => `${r.stream}#${r.seq} ${r.status}`);
    expect(left).toEqual(['a#3 DELIVERED', 'b#1 DELIVERED', 'c#1 DEAD', 'c#2 PENDING']);
    // The kept watermark: the next message of stream b is #2, not #1 again.
    const b2 = await enqueue('b');
    expect((await repo.findOneByOrFail({ id: b2 })).seq).toBe(2);
    // b#1 is no longer its stream's last: the next run takes it; then nothing more.
    expect((await worker({}).runOnce()).outbox_messages).toBe(1);
    expect((await worker({}).runOnce()).outbox_messages).toBe(0);
  });

  it('deletes old inbox records but keeps each stream’s watermark: a re-delivered old message is still refused, never applied twice', async () => {
    const keys = { signJws: (_typ: string, claims: object) => JSON.stringify(claims) } as unknown as KeyStore;
    const inbox = new Inbox(ds, keys, clock, '110000');
    const applied: string[] = [];
    inbox.on('t', async (_tx, m) => void applied.push(m.messageId));
    const deliver = (messageId: string, seq: number, stream = 's') =>
      inbox.receive(PEER, { messageId, stream, seq: String(seq), type: 't', body: Buffer.from(messageId) }).then((r) => JSON.parse(r) as { sta: string; rsn?: string });
    for (let i = 1; i <= 3; i++) expect((await deliver(`m${i}`, i)).sta).toBe('ACCEPTED');
    // Another stream with one (old) record: its only record is its watermark, kept.
    expect((await deliver('t1', 1, 'other')).sta).toBe('ACCEPTED');
    const repo = ds.getRepository(InboxMessageEntity);
    await repo.createQueryBuilder().update().set({ receivedAt: old }).execute();
    const m3Receipt = (await repo.findOneByOrFail({ sender: PEER, messageId: 'm3' })).receipt;

    expect((await worker({}).runOnce()).inbox_messages).toBe(2);
    expect((await repo.find({ order: { messageId: 'ASC' } })).map((r) => r.messageId)).toEqual(['m3', 't1']);

    // m1 again, its record gone: its seq is below the watermark, so REJECTED and not applied.
    const again = await deliver('m1', 1);
    expect(again).toMatchObject({ sta: 'REJECTED', rsn: 'seq 1 of stream s was already used by another message' });
    // The watermark's own message gets its stored receipt back; the stream goes on at 4.
    expect(await inbox.receive(PEER, { messageId: 'm3', stream: 's', seq: '3', type: 't', body: Buffer.from('m3') })).toBe(m3Receipt);
    expect((await deliver('m4', 4)).sta).toBe('ACCEPTED');
    expect(applied).toEqual(['m1', 'm2', 'm3', 't1', 'm4']);
  });

  it('deletes old delivered webhook deliveries only (DEAD ones stay re-queueable)', async () => {
    const insert = (id: string, status: string, at: number) =>
      ds.query(
        `INSERT INTO webhook_deliveries (id, webhook_id, event_type, body, status, attempts, next_attempt_at, created_at, delivered_at)
         VALUES (${[1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => (ds.options.type === 'postgres' ? `$${n}` : '?')).join(', ')})`,
        [id, 'w', 'case.opened', '{}', status, 1, at, at, status === 'DELIVERED' ? at : null],
      );
    await insert('old-delivered', 'DELIVERED', old.getTime());
    await insert('old-dead', 'DEAD', old.getTime());
    await insert('recent-delivered', 'DELIVERED', recent.getTime());
    expect((await worker({}).runOnce()).webhook_deliveries).toBe(1);
    const ids = (await ds.query<{ id: string }[]>('SELECT id FROM webhook_deliveries ORDER BY id')).map((r) => r.id);
    expect(ids).toEqual(['old-dead', 'recent-delivered']);
  });
});
