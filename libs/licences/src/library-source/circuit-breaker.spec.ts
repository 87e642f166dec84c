import { CircuitBreaker } from './circuit-breaker';

describe('CircuitBreaker', () => {
  let now = 0;
  const breaker = () => new CircuitBreaker({ failures: 3, openMs: 1000 }, () => now);
  beforeEach(() => (now = 0));

  it('stays closed below the failure threshold; a success resets the count', () => {
    const b = breaker();
    b.failure();
    b.failure();
    b.success();
    b.failure();
    b.failure();
    expect(b.state()).toBe('closed');
    expect(b.allow()).toBe(true);
  });

  it('opens after N consecutive failures and refuses calls while open', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    expect(b.state()).toBe('open');
    expect(b.allow()).toBe(false);
    now = 999;
    expect(b.allow()).toBe(false);
  });

  it('half-open after openMs lets exactly one probe through; its success closes the breaker', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    now = 1000;
    expect(b.state()).toBe('half-open');
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false);
    b.success();
    expect(b.state()).toBe('closed');
    expect(b.allow()).toBe(true);
  });

  it('a failed probe opens the breaker again for another openMs', () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.failure();
    now = 1500;
    expect(b.allow()).toBe(true);
    b.failure();
    expect(b.state()).toBe('open');
    now = 2499;
    expect(b.allow()).toBe(false);
    now = 2500;
    expect(b.allow()).toBe(true);
  });
});
