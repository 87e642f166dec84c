import { Clock } from '@tongban/common';
import { RefusalGuard } from './refusal-guard';

class FakeClock extends Clock {
  ms = Date.UTC(2026, 11, 1);
  now(): Date {
    return new Date(this.ms);
  }
}

describe('RefusalGuard', () => {
  it('admits a TLS peer until its burst of refusals is spent, then refills at the rate; peers are apart', () => {
    const clock = new FakeClock();
    const g = new RefusalGuard(clock, { ratePerSecond: 2, burst: 3, auditWindowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      expect(g.admits('tls:130000')).toBe(true);
      g.charge('tls:130000');
    }
    expect(g.admits('tls:130000')).toBe(false);
    expect(g.admits('tls:440000')).toBe(true);
    clock.ms += 499;
    expect(g.admits('tls:130000')).toBe(false);
    clock.ms += 1;
    expect(g.admits('tls:130000')).toBe(true);
    clock.ms += 60_000;
    g.charge('tls:130000');
    expect(g.admits('tls:130000')).toBe(true);
  });

  it('gives the first refusal of a (peer, RPC, code) in a window its own row and counts the rest into one aggregate', () => {
    const clock = new FakeClock();
    const g = new RefusalGuard(clock, { ratePerSecond: 1, burst: 1, auditWindowMs: 10_000 });
    expect(g.note('tls:130000', 'GetJwks', 'BAD_SIGNATURE')).toEqual({ ownRow: true, closed: null });
    expect(g.note('tls:130000', 'GetJwks', 'UNKNOWN_KEY')).toEqual({ ownRow: true, closed: null });
    const start = clock.ms;
    for (let i = 0; i < 5; i++) {
      clock.ms += 1000;
      expect(g.note('tls:130000', 'GetJwks', 'BAD_SIGNATURE')).toEqual({ ownRow: false, closed: null });
    }
    // Throttled requests never get a row of their own, even the first one.
    expect(g.note('tls:130000', 'GetJwks', 'TOO_MANY_REFUSALS', false)).toEqual({ ownRow: false, closed: null });
    expect(g.drain()).toEqual([]);
    clock.ms = start + 10_000;
    // UNKNOWN_KEY had no second refusal: nothing to aggregate. TOO_MANY_REFUSALS opened later.
    expect(g.drain()).toEqual([{ source: 'tls:130000', rpc: 'GetJwks', code: 'BAD_SIGNATURE', count: 5, firstAt: new Date(start + 1000), lastAt: new Date(start + 5000) }]);
    clock.ms = start + 15_000;
    expect(g.drain()).toEqual([{ source: 'tls:130000', rpc: 'GetJwks', code: 'TOO_MANY_REFUSALS', count: 1, firstAt: new Date(start + 5000), lastAt: new Date(start + 5000) }]);
    expect(g.note('tls:130000', 'GetJwks', 'BAD_SIGNATURE').ownRow).toBe(true);
  });

  it('hands back a closed window when the next refusal of its key arrives before the drain; drain(true) empties everything', () => {
    const clock = new FakeClock();
    const g = new RefusalGuard(clock, { ratePerSecond: 1, burst: 1, auditWindowMs: 1000 });
    g.note('tls:unnamed', 'Deliver', 'MALFORMED_ENVELOPE');
    g.note('tls:unnamed', 'Deliver', 'MALFORMED_ENVELOPE');
    clock.ms += 1000;
    expect(g.note('tls:unnamed', 'Deliver', 'MALFORMED_ENVELOPE')).toMatchObject({ ownRow: true, closed: { count: 1, code: 'MALFORMED_ENVELOPE' } });
    g.note('tls:unnamed', 'Deliver', 'MALFORMED_ENVELOPE');
    expect(g.drain(true)).toMatchObject([{ count: 1 }]);
    expect(g.drain(true)).toEqual([]);
  });

  it('with a window of 0 every refusal has its own row', () => {
    const g = new RefusalGuard(new FakeClock(), { ratePerSecond: 1, burst: 1, auditWindowMs: 0 });
    for (let i = 0; i < 3; i++) expect(g.note('insecure', 'GetJwks', 'BAD_SIGNATURE')).toEqual({ ownRow: true, closed: null });
  });
});
