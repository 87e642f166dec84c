import { DataSource, buildDataSource, databaseStatementCount, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { DeliveredUpdates } from './delivered-updates';
import { OutboxMessageEntity } from './outbox-message.entity';

const OWNER = 'dispatcher-a';

describeEachDatabase('DeliveredUpdates', (fresh) => {
  let ds: DataSource;
  beforeEach(async () => {
    ds = await openDatabase(buildDataSource(fresh(), [OutboxMessageEntity]));
    const now = new Date(1_800_000_000_000);
    const row = (id: string, seq: number, leaseOwner: string) => ({
      id,
      peer: '130000',
      stream: `s-${id}`,
      seq,
      type: 'test.T',
      body: '',
      status: 'PENDING' as const,
      attempts: 2,
      nextAttemptAt: now,
      createdAt: now,
      leaseOwner,
      leaseUntil: new Date(now.getTime() + 30_000),
      failureCode: 'UNAVAILABLE',
      failureCount: 2,
    });
    await ds.getRepository(OutboxMessageEntity).insert([row('m1', 1, OWNER), row('m2', 1, OWNER), row('m3', 1, OWNER), row('theirs', 1, 'dispatcher-b')]);
  });
  afterEach(() => ds.destroy());

  it('stores the deliveries of one turn, each with its own receipt, only where this dispatcher holds the lease (one statement)', async () => {
    const updates = new DeliveredUpdates(ds, OWNER);
    const before = databaseStatementCount();
    await Promise.all([
      updates.store({ id: 'm1', at: 1_800_000_001_000, receipt: 'r1', lastError: null }),
      updates.store({ id: 'm2', at: 1_800_000_002_000, receipt: 'r2', lastError: 'rejected: no' }),
      updates.store({ id: 'theirs', at: 1_800_000_003_000, receipt: 'r-theirs', lastError: null }),
    ]);
    expect(databaseStatementCount() - before).toBe(1);
    const rows = await ds.getRepository(OutboxMessageEntity).find({ order: { id: 'ASC' } });
    const view = rows.map((r) => [r.id, r.status, r.deliveredAt?.getTime() ?? null, r.receipt, r.lastError, r.leaseOwner, r.failureCode, r.failureCount]);
    expect(view).toEqual([
      ['m1', 'DELIVERED', 1_800_000_001_000, 'r1', null, null, null, 0],
      ['m2', 'DELIVERED', 1_800_000_002_000, 'r2', 'rejected: no', null, null, 0],
      ['m3', 'PENDING', null, null, null, OWNER, 'UNAVAILABLE', 2],
      ['theirs', 'PENDING', null, null, null, 'dispatcher-b', 'UNAVAILABLE', 2],
    ]);
    // One on its own in a later turn.
    await updates.store({ id: 'm3', at: 1_800_000_004_000, receipt: 'r3', lastError: null });
    expect(await ds.getRepository(OutboxMessageEntity).findOneByOrFail({ id: 'm3' })).toMatchObject({ status: 'DELIVERED', receipt: 'r3', leaseOwner: null });
  });
});
