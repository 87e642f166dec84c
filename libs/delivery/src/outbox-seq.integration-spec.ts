import { SystemClock } from '@tongban/common';
import { DataSource, buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { OutboxMessageEntity } from './outbox-message.entity';
import { Outbox } from './outbox.service';

// Two replicas share one PostgreSQL schema: each allocates seq as MAX + 1 for a (peer, stream).
const pg = postgresAvailable() ? describe : describe.skip;
pg('outbox seq with two replicas on one PostgreSQL schema', () => {
  const target = postgresTarget();
  const replicas: DataSource[] = [];

  beforeAll(async () => {
    replicas.push(await openDatabase(buildDataSource(target, [OutboxMessageEntity])));
    replicas.push(await openDatabase(buildDataSource(target, [OutboxMessageEntity])));
  });
  afterAll(async () => {
    for (const ds of replicas) await ds.destroy();
    await dropPostgresSchema(target.schema);
  });

  it('concurrent enqueues to one peer stream from both replicas all commit, with seqs 1..N and no duplicate', async () => {
    const outbox = new Outbox(new SystemClock());
    const n = 40;
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, i) => runInTransaction(replicas[i % 2], (tx) => outbox.enqueue(tx, { peer: '130000', stream: 'case-1', type: 't', body: Buffer.from(String(i)) }))),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const seqs = (await replicas[0].query<{ seq: string | number }[]>(`SELECT seq FROM outbox_messages WHERE peer = '130000' AND stream = 'case-1' ORDER BY seq`)).map((r) => Number(r.seq));
    expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });
});
