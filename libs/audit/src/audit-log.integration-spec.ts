import { DataSource } from 'typeorm';
import { Clock } from '@tongban/common';
import { KeyStore, SigningKeyEntity } from '@tongban/keys';
import { DatabaseTarget, buildDataSource, databaseStatementCount, openDatabase, runInTransaction } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { GENESIS_HASH } from './audit-chain';
import { verifyAuditChain } from './audit-chain.verifier';
import { verifyStoredAuditChain } from './audit-chain.store';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
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

describeEachDatabase('AuditLog', (fresh, kind) => {
  let ds: DataSource;
  let clock: TestClock;
  let audit: AuditLog;
  let target: DatabaseTarget;
  const extra: DataSource[] = [];
  const stored = () => ds.getRepository(AuditEventEntity).find({ order: { seq: 'ASC' } });
  const checkpoints = () => ds.getRepository(AuditCheckpointEntity).find({ order: { seq: 'ASC' } });

  beforeEach(async () => {
    clock = new TestClock();
    target = fresh();
    ds = await openDatabase(buildDataSource(target, [AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity]));
    audit = new AuditLog(ds, clock);
  });

  afterEach(async () => {
    jest.useRealTimers();
    await audit.flush();
    for (const d of extra.splice(0)) if (d.isInitialized) await d.destroy();
    if (ds?.isInitialized) await ds.destroy();
  });

  /** A second data source on the same database: another replica (or the CLI beside the gateway). */
  async function replica(): Promise<DataSource> {
    const d = await openDatabase(buildDataSource(target, [AuditEventEntity, AuditCheckpointEntity, SigningKeyEntity]));
    extra.push(d);
    return d;
  }

  async function keyStore(): Promise<KeyStore> {
    const keys = new KeyStore(ds, clock, { keyEncryptionSecret: 'x'.repeat(32), signingAlg: 'EdDSA' });
    await keys.init();
    return keys;
  }

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

  it('200 entries from concurrent record() and recordNow() calls, in two replicas, form one chain', async () => {
    const other = new AuditLog(await replica(), clock);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const log = i % 4 < 2 ? audit : other;
      clock.advance(1);
      if (i % 2 === 0) log.record(entry(`r${i}`));
      else writes.push(log.recordNow(entry(`n${i}`, { outcome: 'REFUSED', reason: 'REPLAYED', messageId: `m${i}` })));
    }
    await Promise.all([...writes, audit.flush(), other.flush()]);

    const rows = await stored();
    expect(rows).toHaveLength(200);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(rows.map((r) => r.subject)).size).toBe(200);
    expect(rows[0].prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i].prevHash).toBe(rows[i - 1].hash);

    const report = await verifyAuditChain(rows, []);
    expect(report).toMatchObject({ ok: true, checked: 200, gaps: 0, headSeq: 200 });
    expect(await verifyStoredAuditChain(ds, { pageSize: 7 })).toMatchObject({ ok: true, checked: 200 });
  });

  it("chains onto entries another replica or a caller's transaction wrote since this log's last batch (no fork); on PostgreSQL a batch after its own head is one statement", async () => {
    const other = new AuditLog(await replica(), clock);
    await audit.recordNow(entry('first'));
    const before = databaseStatementCount();
    await audit.recordNow(entry('after-own-head'));
    // Chained onto the head this log wrote: lock, head check and insert in one statement, no transaction.
    if (kind === 'postgres') expect(databaseStatementCount() - before).toBe(1);
    await other.recordNow(entry('by-the-replica'));
    await audit.recordNow(entry('after-the-replica'));
    await runInTransaction(ds, (tx) => audit.recordIn(tx, entry('in-a-transaction')));
    await audit.recordNow(entry('after-the-transaction'));
    // A transaction holding the chain while a batch goes: the batch waits for it and chains after it.
    let concurrent: Promise<void> | undefined;
    await runInTransaction(ds, async (tx) => {
      await audit.recordIn(tx, entry('held'));
      concurrent = other.recordNow(entry('while-held'));
    });
    await concurrent;
    await audit.recordNow(entry('last'));

    const rows = await stored();
    expect(rows.map((r) => r.subject)).toEqual(['first', 'after-own-head', 'by-the-replica', 'after-the-replica', 'in-a-transaction', 'after-the-transaction', 'held', 'while-held', 'last']);
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let i = 1; i < rows.length; i++) expect(rows[i].prevHash).toBe(rows[i - 1].hash);
    expect(await verifyStoredAuditChain(ds)).toMatchObject({ ok: true, checked: 9, gaps: 0, headSeq: 9 });
  });

  it('stores what it hashes: lone surrogates and NUL are replaced, long values cut by code points', async () => {
    await audit.recordNow(entry(`bad \uD800 pair \uDC00 nul \u0000 ok 🙂`, { actor: '通'.repeat(70), reason: 'r'.repeat(80), details: { note: 'lone \uDBFF' } }));
    await audit.recordNow(entry('🙂'.repeat(300)));
    const rows = await stored();
    expect(rows[0].subject).toBe('bad \uFFFD pair \uFFFD nul \uFFFD ok 🙂');
    expect(rows[0].actor).toBe('通'.repeat(64));
    expect(rows[0].reason).toBe('r'.repeat(64));
    expect(JSON.parse(rows[0].details!)).toEqual({ note: 'lone \uDBFF' });
    expect(rows[1].subject).toBe('🙂'.repeat(256));
    expect(await verifyStoredAuditChain(ds)).toMatchObject({ ok: true, checked: 2 });
  });

  it('checkpoint() signs the head once; a new one only after the chain moved; it verifies against the JWKS', async () => {
    const keys = await keyStore();
    const log = new AuditLog(ds, clock, keys, '110000', { checkpointEverySeconds: 0 });
    expect(await log.checkpoint()).toBeNull(); // empty log

    withFrozenTimer(() => log.record(entry('a')));
    await log.recordNow(entry('b'));
    clock.advance(1000);
    const first = await log.checkpoint(); // flushes 'a' first
    expect(first).toMatchObject({ seq: 2, kid: keys.activeKid() });
    expect(first!.at.getTime()).toBe(T0 + 1000);
    expect(first!.hash).toBe((await stored())[1].hash);
    expect(await log.checkpoint()).toBeNull(); // head did not move

    await log.recordNow(entry('c'));
    expect(await log.checkpoint()).toMatchObject({ seq: 3 });
    expect((await checkpoints()).map((c) => c.seq)).toEqual([2, 3]);

    const report = await verifyStoredAuditChain(ds, { jwks: keys.jwks(), issuer: '110000' });
    expect(report).toMatchObject({ ok: true, checked: 3, signaturesChecked: true, checkpoints: { checked: 2, bad: 0, skipped: 0, lastGoodSeq: 3 } });
    expect(await verifyStoredAuditChain(ds, { jwks: keys.jwks(), issuer: '120000' })).toMatchObject({ ok: false, firstBadSeq: 2, problem: expect.stringContaining('not 120000') });
    await expect(new AuditLog(ds, clock).checkpoint()).rejects.toThrow('signer');
  });

  it('the checkpoint timer writes a checkpoint when the head moved, and shutdown seals the rest', async () => {
    const keys = await keyStore();
    // Fake setInterval only; database I/O keeps real timers.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
    const log = new AuditLog(ds, clock, keys, '110000', { checkpointEverySeconds: 60 });
    const checkpoint = jest.spyOn(log, 'checkpoint');
    await log.recordNow(entry('a'));

    jest.advanceTimersByTime(59_999);
    expect(checkpoint).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(checkpoint).toHaveBeenCalledTimes(1);
    await checkpoint.mock.results[0].value;
    expect((await checkpoints()).map((c) => c.seq)).toEqual([1]);

    jest.advanceTimersByTime(60_000); // head did not move: nothing new
    await checkpoint.mock.results[1].value;
    expect(await checkpoints()).toHaveLength(1);

    await log.recordNow(entry('b'));
    await log.onModuleDestroy();
    expect((await checkpoints()).map((c) => c.seq)).toEqual([1, 2]);
    jest.advanceTimersByTime(600_000); // the timer is gone
    expect(checkpoint).toHaveBeenCalledTimes(3);
    jest.useRealTimers();
  });

  if (kind === 'postgres') {
    it('PostgreSQL: an insert that relies on the seq sequence is refused (only AuditLog appends)', async () => {
      await expect(ds.query(`INSERT INTO audit_events (at, event, actor, subject, outcome) VALUES (1, 'e', 'a', 's', 'OK')`)).rejects.toThrow(/null value in column "seq"/);
    });
  }
});
