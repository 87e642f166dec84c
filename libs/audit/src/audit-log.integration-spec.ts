import { DataSource } from 'typeorm';
import { Clock } from '@tongban/common';
import { buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { AuditEventEntity } from './audit-event.entity';
import { AuditRecord } from './audit-events';
import { AuditLog } from './audit-log.service';

class TestClock extends Clock {
  constructor(private t = Date.UTC(2025, 6, 1, 9, 30, 0)) {
    super();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const T0 = Date.UTC(2025, 6, 1, 9, 30, 0);
const entry = (subject: string, extra: Partial<AuditRecord> = {}): AuditRecord => ({ event: 'verification.requested', actor: 'client:portal', subject, outcome: 'OK', ...extra });

/** Fake only setTimeout/clearTimeout; database drivers keep their real I/O and ticks. */
const FAKE_TIMEOUT_ONLY: NonNullable<FakeTimersConfig['doNotFake']> = ['nextTick', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'queueMicrotask', 'Date', 'hrtime', 'performance'];

/**
 * Calls `fn` with setTimeout faked, so the 50 ms batch timer `record()` arms can never fire by
 * itself: what reaches the database is decided by explicit flushes only. No real waiting.
 */
function withFrozenTimer<T>(fn: () => T): T {
  jest.useFakeTimers({ doNotFake: FAKE_TIMEOUT_ONLY });
  try {
    return fn();
  } finally {
    jest.useRealTimers();
  }
}

describeEachDatabase('AuditLog', (fresh) => {
  let ds: DataSource;
  let clock: TestClock;
  let audit: AuditLog;
  const stored = () => ds.getRepository(AuditEventEntity).find({ order: { seq: 'ASC' } });

  beforeEach(async () => {
    clock = new TestClock();
    ds = await openDatabase(buildDataSource(fresh(), [AuditEventEntity]));
    audit = new AuditLog(ds, clock);
  });

  afterEach(async () => {
    jest.useRealTimers();
    await audit.flush();
    if (ds?.isInitialized) await ds.destroy();
  });

  it('record() queues entries that appear, in order, after flush()', async () => {
    withFrozenTimer(() => {
      for (let i = 0; i < 5; i++) {
        audit.record(entry(`s${i}`, { messageId: `m${i}` }));
        clock.advance(10);
      }
    });
    // Queued, not yet written.
    expect(await stored()).toEqual([]);

    await audit.flush();
    const rows = await stored();
    expect(rows.map((r) => r.subject)).toEqual(['s0', 's1', 's2', 's3', 's4']);
    expect(rows.map((r) => r.messageId)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(rows.map((r) => r.at.getTime())).toEqual([T0, T0 + 10, T0 + 20, T0 + 30, T0 + 40]);
    const seqs = rows.map((r) => r.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(5);
    expect(rows[0]).toMatchObject({ event: 'verification.requested', actor: 'client:portal', outcome: 'OK', reason: null, details: null });

    // Flushing again writes nothing twice.
    await audit.flush();
    expect(await stored()).toHaveLength(5);
  });

  it('the batch timer flushes by itself after 50 ms (fake timers, no sleeping)', async () => {
    const flush = jest.spyOn(audit, 'flush');
    jest.useFakeTimers({ doNotFake: FAKE_TIMEOUT_ONLY });
    audit.record(entry('a'));
    clock.advance(1);
    audit.record(entry('b'));
    jest.advanceTimersByTime(49);
    expect(flush).not.toHaveBeenCalled();
    expect(await stored()).toEqual([]);

    jest.advanceTimersByTime(1);
    jest.useRealTimers();
    expect(flush).toHaveBeenCalledTimes(1);
    // Await the write the timer started (not a new flush of ours).
    await flush.mock.results[0].value;
    expect((await stored()).map((r) => [r.subject, r.at.getTime()])).toEqual([
      ['a', T0],
      ['b', T0 + 1],
    ]);
  });

  it('a batch of 500 entries is written without waiting for the timer', async () => {
    withFrozenTimer(() => {
      for (let i = 0; i < 500; i++) audit.record(entry(`bulk-${i}`));
    });
    // record() of the 500th entry started the flush; flush() with nothing queued awaits it.
    await audit.flush();
    const rows = await stored();
    expect(rows).toHaveLength(500);
    expect(rows[499].subject).toBe('bulk-499');
  });

  it('recordNow() writes before it returns, ahead of still-queued entries', async () => {
    withFrozenTimer(() => audit.record(entry('queued')));
    clock.advance(5);
    await audit.recordNow({ event: 'federation.request.refused', actor: 'peer:110000', subject: '440000', outcome: 'REFUSED', reason: 'REPLAYED', messageId: 'abc' });
    const now = await stored();
    expect(now).toHaveLength(1);
    expect(now[0]).toMatchObject({ event: 'federation.request.refused', actor: 'peer:110000', outcome: 'REFUSED', reason: 'REPLAYED', messageId: 'abc' });
    expect(now[0].at.getTime()).toBe(T0 + 5);

    await audit.flush();
    expect((await stored()).map((r) => r.subject)).toEqual(['440000', 'queued']);
  });

  it('list() flushes, then filters by event and afterSeq, in insertion order, with a limit', async () => {
    withFrozenTimer(() => {
      audit.record(entry('r1'));
      audit.record(entry('x1', { event: 'verification.answered' }));
    });
    await audit.recordNow(entry('n1', { event: 'federation.request.refused', outcome: 'REFUSED', reason: 'SIG' }));
    withFrozenTimer(() => {
      audit.record(entry('r2'));
      audit.record(entry('x2', { event: 'verification.answered' }));
      audit.record(entry('r3'));
    });

    // list() flushes what was queued.
    const all = await audit.list();
    expect(all.map((r) => r.subject)).toEqual(['n1', 'r1', 'x1', 'r2', 'x2', 'r3']);
    const seq = Object.fromEntries(all.map((r) => [r.subject, r.seq]));

    expect((await audit.list({ event: 'verification.requested' })).map((r) => r.subject)).toEqual(['r1', 'r2', 'r3']);
    expect((await audit.list({ event: 'federation.request.refused' })).map((r) => [r.subject, r.reason])).toEqual([['n1', 'SIG']]);
    expect(await audit.list({ event: 'licences.imported' })).toEqual([]);
    expect((await audit.list({ afterSeq: seq.x1 })).map((r) => r.subject)).toEqual(['r2', 'x2', 'r3']);
    expect((await audit.list({ event: 'verification.answered', afterSeq: seq.x1 })).map((r) => r.subject)).toEqual(['x2']);
    expect(await audit.list({ afterSeq: seq.r3 })).toEqual([]);
    expect((await audit.list({ limit: 2 })).map((r) => r.subject)).toEqual(['n1', 'r1']);
    expect((await audit.list({ afterSeq: seq.r1, limit: 2 })).map((r) => r.subject)).toEqual(['x1', 'r2']);
  });

  it('stores details as a JSON string (null when absent) and caps the subject at 256 characters', async () => {
    const details = { licenceType: '11100000000013338W009', disclosed: 3, cached: false, note: '通办 "quoted"' };
    await audit.recordNow(entry('with-details', { details }));
    withFrozenTimer(() => audit.record(entry('x'.repeat(300), { details: { n: 1 } })));
    await audit.recordNow(entry('without'));

    const rows = await audit.list();
    expect(rows).toHaveLength(3);
    const [withDetails, without, long] = rows;
    expect(typeof withDetails.details).toBe('string');
    expect(JSON.parse(withDetails.details!)).toEqual(details);
    expect(without.details).toBeNull();
    expect(long.subject).toBe('x'.repeat(256));
    expect(long.details).toBe('{"n":1}');

    // As stored in the column, not just as mapped by the entity.
    const raw: { details: string | null }[] = await ds.query(`SELECT details FROM audit_events ORDER BY seq`);
    expect(raw.map((r) => r.details)).toEqual([JSON.stringify(details), null, '{"n":1}']);
  });
});
