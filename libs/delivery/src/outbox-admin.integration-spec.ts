import { Clock, SystemClock } from '@tongban/common';
import { buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { DataSource } from 'typeorm';
import { Dispatcher } from './dispatcher.service';
import { OutboxAdmin } from './outbox-admin.service';
import { OutboxMessageEntity } from './outbox-message.entity';
import { Outbox } from './outbox.service';

describeEachDatabase('OutboxAdmin', (fresh) => {
  let ds: DataSource;
  const clock: Clock = new SystemClock();
  let nudges = 0;
  const dispatcher = { nudge: () => void nudges++ } as unknown as Dispatcher;

  beforeEach(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [OutboxMessageEntity]));
  });
  afterEach(async () => {
    await ds.destroy();
  });

  it('re-queues only DEAD messages, restarting their age and attempts, and wakes the dispatcher', async () => {
    const ids = await runInTransaction(ds, async (tx) => {
      const outbox = new Outbox(clock);
      return [
        await outbox.enqueue(tx, { peer: '130000', stream: 's', type: 't', body: Buffer.from('a'), correlationId: undefined }),
        await outbox.enqueue(tx, { peer: '130000', stream: 's', type: 't', body: Buffer.from('b'), correlationId: undefined }),
      ];
    });
    const old = new Date(Date.now() - 8 * 24 * 3600_000);
    await ds.getRepository(OutboxMessageEntity).update({ id: ids[0] }, { status: 'DEAD', attempts: 37, createdAt: old, lastError: 'ISSUER_UNREACHABLE' });
    const admin = new OutboxAdmin(ds, clock, dispatcher);
    expect((await admin.list('DEAD')).map((m) => m.id)).toEqual([ids[0]]);
    const view = await admin.requeue(ids[0]);
    expect(view).toMatchObject({ id: ids[0], status: 'PENDING', attempts: 0, lastError: null });
    expect(Date.parse(view.createdAt)).toBeGreaterThan(old.getTime());
    expect(nudges).toBe(1);
    await expect(admin.requeue(ids[1])).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(admin.requeue('no-such-id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await admin.list('DEAD')).toEqual([]);
  });
});
