import { SystemClock } from '@tongban/common';
import { Dispatcher, OutboxMessageEntity, Outbox } from '@tongban/delivery';
import { DataSource, buildDataSource, openDatabase } from '@tongban/persistence';
import { dropPostgresSchema, postgresAvailable, postgresTarget } from '@tongban/testkit';
import { CaseEntity } from './case.entity';
import { CaseEventEntity } from './case-event.entity';
import { CaseStepEntity } from './case-step.entity';
import { CaseTransactions } from './case-transactions';

// Case messages skip the outbox's stream lock: the case row, locked by CaseTransactions.load in
// every transaction that queues on the case's stream, orders their seqs. Two replicas, one schema.
const pg = postgresAvailable() ? describe : describe.skip;
pg('case stream seqs with two replicas on one PostgreSQL schema', () => {
  const target = postgresTarget();
  const replicas: DataSource[] = [];
  const dispatcher = { nudge: () => undefined } as unknown as Dispatcher;
  const now = new Date();

  beforeAll(async () => {
    for (let i = 0; i < 2; i++) replicas.push(await openDatabase(buildDataSource(target, [CaseEntity, CaseStepEntity, CaseEventEntity, OutboxMessageEntity])));
    await replicas[0].getRepository(CaseEntity).insert({
      id: 'case-1',
      collaborationId: '110000-20261203-0123456789',
      itemCode: 'X',
      itemVersion: 'v',
      item: { steps: [] } as never,
      mode: 'JOINT',
      owner: '110000',
      state: 'OPEN',
      participants: { A: '110000', B: '130000' },
      applicantName: 'n',
      applicantIdNumber: null,
      received: {},
      materials: [],
      currentStep: 0,
      createdAt: now,
      updatedAt: now,
      closedAt: null,
      closeReason: null,
      refusedStep: null,
    });
    const step = { caseId: 'case-1', role: 'A', province: '110000', action: 'X', name: 'n', status: 'ASSIGNED' as const, assignedAt: now, dueAt: null };
    const worked = { dueAtProvisional: false, acceptedAt: null, finishedAt: null, actor: null, inputs: null, outputs: null, reason: null };
    await replicas[0].getRepository(CaseStepEntity).insert([
      { ...step, ...worked, idx: 0, timeLimitDays: 0 },
      { ...step, ...worked, idx: 1, timeLimitDays: 0 },
    ]);
  });
  afterAll(async () => {
    for (const ds of replicas) await ds.destroy();
    await dropPostgresSchema(target.schema);
  });

  it('concurrent case transactions on both replicas see the steps the previous one wrote, and queue on the case stream with seqs 1..N', async () => {
    const txs = replicas.map((ds) => new CaseTransactions(ds, new Outbox(new SystemClock()), dispatcher, new SystemClock(), '110000'));
    const n = 30;
    const results = await Promise.allSettled(
      Array.from({ length: n }, (_, i) =>
        txs[i % 2].run(async (uow) => {
          const { c, steps } = await txs[i % 2].load(uow, 'case-1', 'reference');
          // A read-modify-write of a step: a stale read after waiting for the lock would lose an increment.
          await uow.tx.getRepository(CaseStepEntity).update({ caseId: c.id, idx: 1 }, { timeLimitDays: steps[1].timeLimitDays + 1 });
          await uow.send('130000', c, 't', Buffer.from(String(i)));
        }),
      ),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const seqs = (await replicas[0].query<{ seq: string | number }[]>(`SELECT seq FROM outbox_messages WHERE stream = '110000-20261203-0123456789' ORDER BY seq`)).map((r) => Number(r.seq));
    expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect((await replicas[0].getRepository(CaseStepEntity).findOneByOrFail({ caseId: 'case-1', idx: 1 })).timeLimitDays).toBe(n);
  });
});
