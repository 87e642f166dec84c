import { Logger } from '@nestjs/common';
import { LeasedWorker } from './leased-worker';

interface Job {
  id: string;
  dueAt: number;
  fails: number;
}

/** A worker over an in-memory table: claims due jobs, a job fails `fails` times (retried with backoff) before it is done. */
class TableWorker extends LeasedWorker<Job> {
  protected readonly logger = new Logger('TableWorker');
  readonly table: Job[] = [];
  readonly done: { id: string; at: number }[] = [];
  readonly claimsAt: number[] = [];

  constructor(
    private readonly pollIntervalMs: number,
    private readonly idlePollMs: number,
  ) {
    super();
  }

  protected limits() {
    return { concurrency: 4, claimBatch: 4, pollIntervalMs: this.pollIntervalMs, idlePollMs: this.idlePollMs };
  }

  protected claim(limit: number): Promise<Job[]> {
    const now = Date.now();
    this.claimsAt.push(now);
    const due = this.table.filter((j) => j.dueAt <= now).slice(0, limit);
    for (const j of due) this.table.splice(this.table.indexOf(j), 1);
    return Promise.resolve(due);
  }

  protected process(job: Job): Promise<void> {
    if (job.fails > 0) {
      const attempts = job.fails;
      job.fails--;
      job.dueAt = Date.now() + this.retryIn(attempts, 500, 4000);
      this.table.push(job);
    } else this.done.push({ id: job.id, at: Date.now() });
    return Promise.resolve();
  }
}

describe('LeasedWorker wakes on work, not on a clock', () => {
  let worker: TableWorker;
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    worker = new TableWorker(1000, 30_000);
  });
  afterEach(async () => {
    await worker.stop();
    jest.useRealTimers();
  });

  it('backs off while idle: rounds at 0, 1, 3, 7, 15, 31 s, then every 30 s', async () => {
    worker.start();
    await jest.advanceTimersByTimeAsync(150_000);
    const gaps = worker.claimsAt.slice(1).map((t, i) => t - worker.claimsAt[i]);
    expect(gaps).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });

  it('a nudge runs a round at once, however long the idle wait has grown', async () => {
    worker.start();
    await jest.advanceTimersByTimeAsync(60_000);
    const start = Date.now();
    worker.table.push({ id: 'a', dueAt: start, fails: 0 });
    worker.nudge();
    await jest.advanceTimersByTimeAsync(0);
    expect(worker.done).toEqual([{ id: 'a', at: start }]);
  });

  it('a retry it scheduled itself runs when due, not at the next idle poll', async () => {
    worker.start();
    await jest.advanceTimersByTimeAsync(60_000);
    const start = Date.now();
    worker.table.push({ id: 'r', dueAt: start, fails: 3 });
    worker.nudge();
    // Three retries: ≤ 0.5 s, ≤ 1 s and ≤ 2 s after each failure, far below the 30 s idle poll.
    await jest.advanceTimersByTimeAsync(3500);
    expect(worker.done.map((d) => d.id)).toEqual(['r']);
    expect(worker.done[0].at - start).toBeLessThanOrEqual(3500);
  });

  it('work queued without a nudge (another process) is found by the safety poll', async () => {
    worker.start();
    await jest.advanceTimersByTimeAsync(120_000);
    const start = Date.now();
    worker.table.push({ id: 'quiet', dueAt: start, fails: 0 });
    await jest.advanceTimersByTimeAsync(30_000);
    expect(worker.done.map((d) => d.id)).toEqual(['quiet']);
    expect(worker.done[0].at - start).toBeLessThanOrEqual(30_000);
  });

  it('after work the poll starts again from its shortest interval', async () => {
    worker.start();
    await jest.advanceTimersByTimeAsync(120_000);
    worker.table.push({ id: 'b', dueAt: Date.now(), fails: 0 });
    worker.nudge();
    await jest.advanceTimersByTimeAsync(0);
    const after = worker.claimsAt.length;
    await jest.advanceTimersByTimeAsync(3000);
    // The nudged round, the round after the job finished, then 1 s and 2 s later.
    expect(worker.claimsAt.length - after).toBe(2);
  });

  it('tells others (whenFull) only about work it cannot take at once: every slot busy, or stopped', async () => {
    const full: number[] = [];
    worker.whenFull(() => full.push(Date.now()));
    worker.start();
    await jest.advanceTimersByTimeAsync(0);
    worker.nudge();
    expect(full).toHaveLength(0);
    // Four jobs that take 10 s each fill the four slots.
    const slow = new (class extends TableWorker {
      protected override process(): Promise<void> {
        return new Promise((r) => setTimeout(r, 10_000));
      }
    })(1000, 30_000);
    slow.whenFull(() => full.push(Date.now()));
    slow.start();
    for (let i = 0; i < 4; i++) slow.table.push({ id: `s${i}`, dueAt: Date.now(), fails: 0 });
    slow.nudge();
    await jest.advanceTimersByTimeAsync(0);
    expect(full).toHaveLength(0);
    slow.nudge();
    expect(full).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(10_000);
    slow.nudge();
    expect(full).toHaveLength(1);
    await slow.stop();
    slow.nudge();
    expect(full).toHaveLength(2);
  });
});
