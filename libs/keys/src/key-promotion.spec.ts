import { PromotableKey, promotionPlan } from './key-promotion';

const t = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000);
const key = (kid: string, status: PromotableKey['status'], created: number, activates: number | null = null): PromotableKey => ({
  kid,
  status,
  createdAt: t(created),
  activatedAt: activates === null ? null : t(activates),
});

/** The statuses after applying the plan, to check the invariant "exactly one ACTIVE". */
function after(keys: PromotableKey[], now: number): Record<string, string> {
  const plan = promotionPlan(keys, t(now));
  return Object.fromEntries(keys.map((k) => [k.kid, plan?.activate === k.kid ? 'ACTIVE' : plan?.retire.includes(k.kid) ? 'RETIRED' : k.status]));
}

describe('promotionPlan', () => {
  it('does nothing before a NEXT key is due', () => {
    expect(promotionPlan([key('k1', 'ACTIVE', 0, 0), key('k2', 'NEXT', 10, 100)], t(99))).toBeNull();
  });

  it('one due rotation: the NEXT key signs, the old one retires', () => {
    expect(promotionPlan([key('k1', 'ACTIVE', 0, 0), key('k2', 'NEXT', 10, 100)], t(100))).toEqual({ activate: 'k2', retire: ['k1'] });
  });

  it('two overlapping rotations due together: exactly one ACTIVE (the newest), the rest retired', () => {
    // Before the fix every due NEXT key became ACTIVE and only the old active key was retired.
    const keys = [key('k1', 'ACTIVE', 0, 0), key('k2', 'NEXT', 10, 100), key('k3', 'NEXT', 20, 110), key('old', 'RETIRED', -50, -50), key('gone', 'REVOKED', -40, -40)];
    expect(after(keys, 200)).toEqual({ k1: 'RETIRED', k2: 'RETIRED', k3: 'ACTIVE', old: 'RETIRED', gone: 'REVOKED' });
    expect(promotionPlan(keys, t(200))).toEqual({ activate: 'k3', retire: ['k1', 'k2'] });
  });

  it('a later rotation due first supersedes an earlier one still pending: it cannot take over afterwards', () => {
    const keys = [key('k1', 'ACTIVE', 0, 0), key('k2', 'NEXT', 10, 500), key('k3', 'NEXT', 20, 100)];
    expect(after(keys, 100)).toEqual({ k1: 'RETIRED', k2: 'RETIRED', k3: 'ACTIVE' });
  });

  it('a NEXT key created after the due one stays NEXT until its own time', () => {
    const keys = [key('k1', 'ACTIVE', 0, 0), key('k2', 'NEXT', 10, 100), key('k3', 'NEXT', 20, 500)];
    expect(after(keys, 100)).toEqual({ k1: 'RETIRED', k2: 'ACTIVE', k3: 'NEXT' });
    expect(after([key('k1', 'RETIRED', 0, 0), key('k2', 'ACTIVE', 10, 100), key('k3', 'NEXT', 20, 500)], 500)).toEqual({ k1: 'RETIRED', k2: 'RETIRED', k3: 'ACTIVE' });
  });

  it('several ACTIVE keys (an old database) end as one', () => {
    expect(after([key('a', 'ACTIVE', 0, 0), key('b', 'ACTIVE', 5, 5), key('n', 'NEXT', 10, 10)], 10)).toEqual({ a: 'RETIRED', b: 'RETIRED', n: 'ACTIVE' });
  });
});
