import { Logger } from '@nestjs/common';
import { Readiness } from './readiness.service';
import { ShutdownState } from './shutdown-state';

describe('Readiness', () => {
  beforeAll(() => {
    Logger.overrideLogger(false);
  });

  const db = (answer: () => Promise<unknown>) => ({ query: jest.fn(answer) });

  it('is ok when SELECT 1 answers, a key is active and shutdown has not begun', async () => {
    const conn = db(async () => [{ '?column?': 1 }]);
    expect(await new Readiness(conn, () => true, new ShutdownState()).check()).toEqual({ status: 'ok', checks: { database: 'ok', keys: 'ok', shutdown: 'ok' } });
    expect(conn.query).toHaveBeenCalledWith('SELECT 1');
  });

  it('reports a slow database as timeout after the limit, and a failing one as error (no error text)', async () => {
    const slow = new Readiness(
      db(() => new Promise(() => undefined)),
      () => true,
      new ShutdownState(),
      50,
    );
    const t0 = Date.now();
    expect(await slow.check()).toEqual({ status: 'not_ready', checks: { database: 'timeout', keys: 'ok', shutdown: 'ok' } });
    expect(Date.now() - t0).toBeLessThan(1000);
    const broken = new Readiness(
      db(async () => Promise.reject(new Error('password authentication failed for user "x"'))),
      () => true,
      new ShutdownState(),
    );
    expect(JSON.stringify(await broken.check())).toBe('{"status":"not_ready","checks":{"database":"error","keys":"ok","shutdown":"ok"}}');
  });

  it('is not ready without an active key (or when the key store throws), and from the start of shutdown on', async () => {
    const shutdown = new ShutdownState();
    expect(
      (
        await new Readiness(
          db(async () => 1),
          () => false,
          shutdown,
        ).check()
      ).checks.keys,
    ).toBe('no_active_key');
    const throwing = () => {
      throw new Error('key store not initialised');
    };
    expect(
      (
        await new Readiness(
          db(async () => 1),
          throwing,
          shutdown,
        ).check()
      ).checks.keys,
    ).toBe('no_active_key');
    const ready = new Readiness(
      db(async () => 1),
      () => true,
      shutdown,
    );
    expect((await ready.check()).status).toBe('ok');
    shutdown.begin();
    expect(await ready.check()).toEqual({ status: 'not_ready', checks: { database: 'ok', keys: 'ok', shutdown: 'shutting_down' } });
  });

  it('answers probes from the background check: no query per probe, and the flag follows the database', async () => {
    let healthy = true;
    const conn = db(async () => (healthy ? 1 : Promise.reject(new Error('down'))));
    const readiness = new Readiness(conn, () => true, new ShutdownState(), 1000, 3_600_000);
    for (let i = 0; i < 50; i++) expect((await readiness.current()).status).toBe('ok');
    expect(conn.query).toHaveBeenCalledTimes(1);
    healthy = false;
    expect((await readiness.current()).checks.database).toBe('ok');
    await readiness.refresh();
    expect(await readiness.current()).toEqual({ status: 'not_ready', checks: { database: 'error', keys: 'ok', shutdown: 'ok' } });
    expect(conn.query).toHaveBeenCalledTimes(2);
  });

  it('checks the database in the background only while probes come: none for no one, one per interval while probed', async () => {
    jest.useFakeTimers();
    try {
      const conn = db(async () => 1);
      const readiness = new Readiness(conn, () => true, new ShutdownState(), 1000, 2000, 30_000);
      readiness.onApplicationBootstrap();
      await jest.advanceTimersByTimeAsync(600_000);
      // Nobody probed for ten minutes: only the boot check ran.
      expect(conn.query).toHaveBeenCalledTimes(1);
      // The first probe after a quiet spell waits for a fresh check; then one check per 2 s while probes come (every 10 s here).
      for (let t = 0; t < 60_000; t += 10_000) {
        expect((await readiness.current()).status).toBe('ok');
        await jest.advanceTimersByTimeAsync(10_000);
      }
      expect(conn.query).toHaveBeenCalledTimes(2 + 30);
      // Probes stop: the background check stops within the quiet period (30 s after the last probe).
      await jest.advanceTimersByTimeAsync(30_000);
      const afterQuiet = conn.query.mock.calls.length;
      expect(afterQuiet).toBeLessThanOrEqual(2 + 30 + 15);
      await jest.advanceTimersByTimeAsync(600_000);
      expect(conn.query).toHaveBeenCalledTimes(afterQuiet);
      readiness.onModuleDestroy();
    } finally {
      jest.useRealTimers();
    }
  });

  it('keeps checking, without probes through current(), for a subscriber (the health listener), and tells it every result and the start of shutdown', async () => {
    jest.useFakeTimers();
    try {
      let answer: () => Promise<unknown> = async () => 1;
      const conn = db(() => answer());
      const shutdown = new ShutdownState();
      const readiness = new Readiness(conn, () => true, shutdown, 1000, 2000, 30_000);
      readiness.onApplicationBootstrap();
      await jest.advanceTimersByTimeAsync(0);
      const seen: string[] = [];
      readiness.subscribe((r) => seen.push(`${r.checks.database}/${r.checks.shutdown}`));
      expect(seen).toEqual(['ok/ok']);
      // Ten minutes with no probe reaching current(): the check goes on every 2 s (the listener's probes do not pass here).
      await jest.advanceTimersByTimeAsync(600_000);
      expect(conn.query).toHaveBeenCalledTimes(1 + 300);
      expect(seen.length).toBe(1 + 300);
      answer = () => Promise.reject(new Error('gone'));
      await jest.advanceTimersByTimeAsync(2000);
      expect(seen.at(-1)).toBe('error/ok');
      shutdown.begin();
      readiness.publish();
      expect(seen.at(-1)).toBe('error/shutting_down');
      readiness.onModuleDestroy();
    } finally {
      jest.useRealTimers();
    }
  });
});
