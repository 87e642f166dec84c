import { DataSource } from 'typeorm';
import { Clock } from '@tongban/common';
import { DatabaseTarget, buildDataSource, openDatabase } from '@tongban/persistence';
import { describeEachDatabase } from '@tongban/testkit';
import { FederationOptions } from './federation.options';
import { ReplayStore } from './replay-store.service';
import { SeenMessageEntity } from './seen-message.entity';

class TestClock extends Clock {
  constructor(private t = Date.UTC(2025, 5, 1, 12, 0, 0)) {
    super();
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const SKEW = 30;
const options: FederationOptions = { allowedAlgorithms: ['EdDSA', 'ES256'], messageTtlSeconds: 120, clockSkewSeconds: SKEW, maxPayloadBytes: 65536, peerDeadlineMs: 5000 };

describeEachDatabase('ReplayStore', (fresh) => {
  const open: DataSource[] = [];
  let clock: TestClock;
  const connect = async (t: DatabaseTarget) => {
    const ds = buildDataSource(t, [SeenMessageEntity]);
    open.push(ds);
    return openDatabase(ds);
  };
  const ids = async (ds: DataSource) => (await ds.getRepository(SeenMessageEntity).find()).map((r) => `${r.sender}/${r.messageId}@${Number(r.expiresAt)}`).sort();

  beforeEach(() => {
    clock = new TestClock();
  });

  afterEach(async () => {
    for (const ds of open.splice(0)) if (ds.isInitialized) await ds.destroy();
  });

  it('remembers an id once per sender', async () => {
    const ds = await connect(fresh());
    const store = new ReplayStore(ds, clock, options);
    const exp = clock.epochSeconds() + 120;
    expect(await store.remember('110000', 'msg-1', exp)).toBe(true);
    expect(await store.remember('110000', 'msg-1', exp)).toBe(false);
    expect(await store.remember('110000', 'msg-1', exp + 500)).toBe(false);
    expect(await store.remember('130000', 'msg-1', exp)).toBe(true);
    expect(await store.remember('130000', 'msg-1', exp)).toBe(false);
    expect(await store.remember('110000', 'msg-2', exp)).toBe(true);
    // Kept until expiry plus the tolerated clock skew, plus the second that whole-second checks allow.
    const keep = (exp + SKEW + 1) * 1000;
    expect(await ids(ds)).toEqual([`110000/msg-1@${keep}`, `110000/msg-2@${keep}`, `130000/msg-1@${keep}`]);
  });

  it('still refuses the id after a restart (new data source and new store on the same database)', async () => {
    const target = fresh();
    const ds = await connect(target);
    const exp = clock.epochSeconds() + 120;
    expect(await new ReplayStore(ds, clock, options).remember('110000', 'survives-restart', exp)).toBe(true);
    await ds.destroy();

    const ds2 = await connect(target);
    const restarted = new ReplayStore(ds2, clock, options);
    expect(await restarted.remember('110000', 'survives-restart', exp)).toBe(false);
    expect(await restarted.remember('110000', 'another', exp)).toBe(true);
  });

  it('purge removes only ids whose expiry (plus skew) has passed', async () => {
    const ds = await connect(fresh());
    const store = new ReplayStore(ds, clock, options);
    const now = clock.epochSeconds();
    await store.remember('110000', 'short', now + 60); // kept until now+91 s
    await store.remember('110000', 'edge', now + 70); // kept until now+101 s
    await store.remember('130000', 'long', now + 300); // kept until now+361 s

    expect(await store.purge()).toBe(0);
    clock.advance(91_000); // exactly at the first expiry: not yet strictly past it
    expect(await store.purge()).toBe(0);
    clock.advance(1);
    expect(await store.purge()).toBe(1);
    expect((await ids(ds)).map((s) => s.split('@')[0])).toEqual(['110000/edge', '130000/long']);

    clock.advance(10_000);
    expect(await store.purge()).toBe(1);
    expect((await ids(ds)).map((s) => s.split('@')[0])).toEqual(['130000/long']);
    // A purged id is forgotten; the unexpired one is still refused.
    expect(await store.remember('110000', 'short', now + 60)).toBe(true);
    expect(await store.remember('130000', 'long', now + 300)).toBe(false);

    clock.advance(1_000_000);
    expect(await store.purge()).toBe(2);
    expect(await ids(ds)).toEqual([]);
  });

  it('exactly one of 10 concurrent remember calls of the same id wins', async () => {
    const target = fresh();
    const ds = await connect(target);
    const store = new ReplayStore(ds, clock, options);
    const exp = clock.epochSeconds() + 120;
    const results = await Promise.all(Array.from({ length: 10 }, () => store.remember('110000', 'raced', exp)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(results.filter((r) => !r)).toHaveLength(9);

    // Also across two replicas (two data sources) sharing the database.
    const replica = new ReplayStore(await connect(target), clock, options);
    const stores = [store, replica];
    const mixed = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2].remember('130000', 'raced-2', exp)));
    expect(mixed.filter(Boolean)).toHaveLength(1);
    expect(await ids(ds)).toHaveLength(2);
  });
});
