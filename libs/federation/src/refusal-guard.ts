import { Clock } from '@tongban/common';

/** Limits on refusals made before a signature proves who the sender is. */
export interface RefusalLimits {
  /** Refill rate of each TLS peer's refusal budget (refusals per second). */
  ratePerSecond: number;
  /** Size of that budget: refusals a TLS peer may cause in a burst before it is throttled. */
  burst: number;
  /** Audit window: one row per (TLS peer, RPC, code) opens it, later ones are counted into one aggregate row. */
  auditWindowMs: number;
}

/** Defaults (docs/operations.md §3: TONGBAN_REFUSAL_RATE_PER_S, _BURST, _AUDIT_WINDOW_S). */
export const DEFAULT_REFUSAL_LIMITS: RefusalLimits = { ratePerSecond: 5, burst: 50, auditWindowMs: 60_000 };

/** Refusals of one (TLS peer, RPC, code) counted in the current window after the first one. */
export interface RefusalAggregate {
  source: string;
  rpc: string;
  code: string;
  count: number;
  firstAt: Date;
  lastAt: Date;
}

interface Window {
  source: string;
  rpc: string;
  code: string;
  opened: number;
  count: number;
  firstAt: number;
  lastAt: number;
}

/**
 * What keeps unauthenticated refusals cheap: a token bucket per TLS peer (the identity the TLS
 * handshake proved, which a flood cannot vary), checked before any signature work, and a window
 * per (TLS peer, RPC, code) so that a storm writes a bounded number of audit rows. Pure state; the
 * caller writes the audit rows, logs and metrics.
 */
export class RefusalGuard {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly clock: Clock,
    private readonly limits: RefusalLimits,
  ) {}

  /** Whether `source` may still be heard (its refusal budget is not spent). Spends nothing. */
  admits(source: string): boolean {
    return this.bucket(source).tokens >= 1;
  }

  /** Spends one token of `source`'s budget (a refusal before the signature was verified). */
  charge(source: string): void {
    const b = this.bucket(source);
    b.tokens = Math.max(0, b.tokens - 1);
  }

  /**
   * Notes one refusal. Returns the aggregate of an older window of the same key that has just
   * closed (to write first), and whether this refusal opened a window and so gets a row of its own
   * (never when `mayHaveOwnRow` is false: it is counted into the window's aggregate instead).
   */
  note(source: string, rpc: string, code: string, mayHaveOwnRow = true): { ownRow: boolean; closed: RefusalAggregate | null } {
    const now = this.clock.now().getTime();
    const key = `${source}\u0000${rpc}\u0000${code}`;
    const w = this.windows.get(key);
    if (w && now < w.opened + this.limits.auditWindowMs) {
      w.count++;
      if (w.count === 1) w.firstAt = now;
      w.lastAt = now;
      return { ownRow: false, closed: null };
    }
    this.windows.set(key, { source, rpc, code, opened: now, count: mayHaveOwnRow ? 0 : 1, firstAt: now, lastAt: now });
    return { ownRow: mayHaveOwnRow, closed: w ? aggregate(w) : null };
  }

  /** Removes and returns the aggregates of windows that have closed (all of them with `all`). */
  drain(all = false): RefusalAggregate[] {
    const now = this.clock.now().getTime();
    const out: RefusalAggregate[] = [];
    for (const [key, w] of this.windows) {
      if (!all && now < w.opened + this.limits.auditWindowMs) continue;
      this.windows.delete(key);
      const a = aggregate(w);
      if (a) out.push(a);
    }
    // Full buckets carry no information: forget them so the map does not grow with every peer ever seen.
    for (const [source, b] of this.buckets) if (this.refill(b, now).tokens >= this.limits.burst) this.buckets.delete(source);
    return out;
  }

  /** Whether anything is held that a later `drain` must see: an open window or a budget not yet full. */
  holdsState(): boolean {
    return this.windows.size > 0 || this.buckets.size > 0;
  }

  private bucket(source: string): { tokens: number; at: number } {
    const now = this.clock.now().getTime();
    let b = this.buckets.get(source);
    if (!b) this.buckets.set(source, (b = { tokens: this.limits.burst, at: now }));
    return this.refill(b, now);
  }

  private refill(b: { tokens: number; at: number }, now: number): { tokens: number; at: number } {
    b.tokens = Math.min(this.limits.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.limits.ratePerSecond);
    b.at = now;
    return b;
  }
}

function aggregate(w: Window): RefusalAggregate | null {
  return w.count > 0 ? { source: w.source, rpc: w.rpc, code: w.code, count: w.count, firstAt: new Date(w.firstAt), lastAt: new Date(w.lastAt) } : null;
}
