/** The breaker's state: `closed` lets calls through, `open` refuses them, `half-open` lets one probe through. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker around a remote dependency: after `failures` consecutive failures it opens and
 * refuses calls at once for `openMs`; then it lets ONE probe through (half-open): a success closes
 * it, a failure opens it again for another `openMs`. Calls refused while open cost the caller nothing.
 */
export class CircuitBreaker {
  private consecutive = 0;
  private openedAt: number | null = null;
  private probing = false;

  constructor(
    private readonly options: { failures: number; openMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** The state now (an open breaker turns half-open once `openMs` has passed). */
  state(): BreakerState {
    if (this.openedAt === null) return 'closed';
    return this.now() - this.openedAt >= this.options.openMs ? 'half-open' : 'open';
  }

  /**
   * Whether a call may go ahead. In half-open, only the first caller gets `true` (the probe) until
   * it reports back with `success` or `failure`.
   */
  allow(): boolean {
    const s = this.state();
    if (s === 'closed') return true;
    if (s === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** The call that `allow` let through succeeded. */
  success(): void {
    this.consecutive = 0;
    this.openedAt = null;
    this.probing = false;
  }

  /** The call that `allow` let through failed. */
  failure(): void {
    this.consecutive++;
    if (this.probing || this.consecutive >= this.options.failures) this.openedAt = this.now();
    this.probing = false;
  }
}
