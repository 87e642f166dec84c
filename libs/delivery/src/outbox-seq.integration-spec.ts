import { SystemClock } from '@tongban/common';
import { DataSource, buildDataSource, openDatabase, runInTransaction } from '@tongban/persistence';
import { dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { OutboxMessageEntity } from './outbox-message.entity';
import { Outbox, lockStream } from './outbox.service';

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
      Array.from({ length: n }, (_, i) =>
        runInTransaction(replicas[i % 2], (tx) => outbox.enqueue(tx, { peer: '130000', stream: 'case-1', type: 't', body: Buffer.from(String(i)), correlationId: undefined })),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const seqs = (await replicas[0].query<{ seq: string | number }[]>(`SELECT seq FROM outbox_messages WHERE peer = '130000' AND stream = 'case-1' ORDER BY seq`)).map((r) => Number(r.seq));
    expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });

  it('a caller holding the stream (streamLocked): its messages are kept for the commit (one statement) and still numbered in order, from both replicas', async () => {
    const outbox = new Outbox(new SystemClock());
    const n = 20;
    // Each transaction queues two messages on case-2 and one for another peer between them, as a case transaction does.
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, i) =>
        runInTransaction(replicas[i % 2], async (tx) => {
          await lockStream(tx, '130000', 'case-2');
          await outbox.enqueue(tx, { peer: '130000', stream: 'case-2', type: 't', body: Buffer.from(`${i}a`), correlationId: undefined }, { streamLocked: true });
          await lockStream(tx, '120000', 'case-2');
          await outbox.enqueue(tx, { peer: '120000', stream: 'case-2', type: 't', body: Buffer.from(`${i}x`), correlationId: undefined }, { streamLocked: true });
          await outbox.enqueue(tx, { peer: '130000', stream: 'case-2', type: 't', body: Buffer.from(`${i}b`), correlationId: undefined }, { streamLocked: true });
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const rows = await replicas[0].query<{ seq: string | number; body: string }[]>(`SELECT seq, body FROM outbox_messages WHERE peer = '130000' AND stream = 'case-2' ORDER BY seq`);
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 2 * n }, (_, i) => i + 1));
    // Each transaction's two messages are next to each other, in the order they were queued.
    const bodies = rows.map((r) => Buffer.from(r.body, 'base64').toString());
    for (let i = 0; i < bodies.length; i += 2) expect([bodies[i].slice(-1), bodies[i + 1].slice(-1), bodies[i].slice(0, -1)]).toEqual(['a', 'b', bodies[i + 1].slice(0, -1)]);
    const other = await replicas[0].query<{ seq: string | number }[]>(`SELECT seq FROM outbox_messages WHERE peer = '120000' AND stream = 'case-2' ORDER BY seq`);
    expect(other.map((r) => Number(r.seq))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  });
});
