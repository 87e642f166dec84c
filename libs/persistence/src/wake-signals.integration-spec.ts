import { Client } from 'pg';
import { TEST_PG_URL, postgresAvailable, sqliteTarget } from '@tongban/testkit';
import { WakeSignals } from './wake-signals';

/** Resolves the next time `topic` is heard by `s` (and counts every time). */
function hearing(s: WakeSignals, topic: string) {
  const heard = { count: 0, next: Promise.resolve() };
  let resolveNext: () => void = () => undefined;
  const arm = (): void => {
    heard.next = new Promise<void>((r) => (resolveNext = r));
  };
  arm();
  s.on(topic, () => {
    heard.count++;
    resolveNext();
    arm();
  });
  return heard;
}

const pg = postgresAvailable() ? describe : describe.skip;

pg('WakeSignals [postgres]: replicas wake each other through LISTEN/NOTIFY', () => {
  const started: WakeSignals[] = [];
  const replica = async (schema: string, applicationName: string) => {
    const s = new WakeSignals({ kind: 'postgres', url: TEST_PG_URL, schema, applicationName });
    started.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of started.splice(0)) await s.stop();
  });

  it('a publication reaches the other replicas of the same schema, coalesced, and never itself or another schema', async () => {
    const a = await replica('wake_it_a', 'wake-it-a1');
    const b = await replica('wake_it_a', 'wake-it-a2');
    const other = await replica('wake_it_b', 'wake-it-b1');
    const selfHeard = hearing(a, 'outbox');
    const outbox = hearing(b, 'outbox');
    const barrier = hearing(b, 'webhooks');
    const otherHeard = hearing(other, 'outbox');
    await Promise.all([a.start(), b.start(), other.start()]);
    // Each ran its handlers once when its LISTEN took effect (see the next test); counted from here.
    const [self0, outbox0, other0] = [selfHeard.count, outbox.count, otherHeard.count];
    for (let i = 0; i < 10; i++) a.publish('outbox');
    await outbox.next;
    // Notifications on one connection arrive in order: once the barrier is heard, nothing else is on its way.
    a.publish('webhooks');
    await barrier.next;
    expect(outbox.count - outbox0).toBe(1);
    expect(selfHeard.count - self0).toBe(0);
    expect(otherHeard.count - other0).toBe(0);
  });

  it('when its LISTEN first takes effect, a replica runs every handler once (a change committed while it started was not heard)', async () => {
    const b = await replica('wake_it_d', 'wake-it-first');
    const admin = hearing(b, 'admin');
    const outbox = hearing(b, 'outbox');
    // Announced before b listens (stop sends what is pending): b cannot hear it.
    const a = await replica('wake_it_d', 'wake-it-d2');
    await a.start();
    a.publish('admin');
    await a.stop();
    const ranOnce = Promise.all([admin.next, outbox.next]);
    await b.start();
    await ranOnce;
    expect([admin.count, outbox.count]).toEqual([1, 1]);
  });

  it('after its connection is lost, a replica listens again and runs every handler once (it may have missed some)', async () => {
    const b = await replica('wake_it_c', 'wake-it-lost');
    const outbox = hearing(b, 'outbox');
    const materials = hearing(b, 'materials');
    await b.start();
    const admin = new Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    try {
      const killed = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'wake-it-lost-wake'");
      expect(killed.rowCount).toBe(1);
    } finally {
      await admin.end();
    }
    await Promise.all([outbox.next, materials.next]);
    expect([outbox.count, materials.count]).toEqual([2, 2]); // once at the first LISTEN, once after the reconnect
    // And it hears publications again.
    const a = await replica('wake_it_c', 'wake-it-c2');
    await a.start();
    a.publish('outbox');
    await outbox.next;
    expect(outbox.count).toBe(3);
  });
});

describe('WakeSignals [sqlite]', () => {
  it('does nothing: one process owns the file', async () => {
    const s = new WakeSignals(sqliteTarget());
    expect(s.enabled).toBe(false);
    await s.start();
    s.publish('outbox');
    await s.stop();
  });
});
