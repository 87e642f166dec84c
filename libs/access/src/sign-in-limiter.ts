/** A bucket of `perMinute` failures, refilled evenly over a minute. */
interface Bucket {
  tokens: number;
  at: number;
}

const MAX_TRACKED_SOURCES = 10_000;

/**
 * Limits failed console sign-ins per source address and in all (in memory, per replica): while a
 * bucket is empty every attempt from that source (or every attempt, for the overall bucket) is
 * refused before its token is looked at, so guessing is bounded whatever the answer would be.
 * Successful sign-ins spend nothing.
 */
export class SignInLimiter {
  private readonly sources = new Map<string, Bucket>();
  private readonly overall: Bucket;

  constructor(
    private readonly perSourcePerMinute: number,
    private readonly overallPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.overall = { tokens: overallPerMinute, at: now() };
  }

  /** Seconds to wait before `source` may try again (0: it may try now). */
  retryAfterSeconds(source: string): number {
    const t = this.now();
    const own = this.sources.get(source);
    const wait = Math.max(waitMs(this.fill(this.overall, this.overallPerMinute, t), this.overallPerMinute), own ? waitMs(this.fill(own, this.perSourcePerMinute, t), this.perSourcePerMinute) : 0);
    return Math.ceil(wait / 1000);
  }

  /** Spends one failure of `source` and of the overall budget. */
  failed(source: string): void {
    const t = this.now();
    if (!this.sources.has(source) && this.sources.size >= MAX_TRACKED_SOURCES) this.forgetFull(t);
    const own = this.sources.get(source) ?? { tokens: this.perSourcePerMinute, at: t };
    this.sources.set(source, own);
    this.fill(own, this.perSourcePerMinute, t).tokens = Math.max(0, own.tokens - 1);
    this.fill(this.overall, this.overallPerMinute, t).tokens = Math.max(0, this.overall.tokens - 1);
  }

  private fill(b: Bucket, perMinute: number, t: number): Bucket {
    b.tokens = Math.min(perMinute, b.tokens + ((t - b.at) * perMinute) / 60_000);
    b.at = t;
    return b;
  }

  /** Drops sources whose bucket has refilled (they are as good as new); the oldest half if none has. */
  private forgetFull(t: number): void {
    for (const [k, b] of this.sources) if (this.fill(b, this.perSourcePerMinute, t).tokens >= this.perSourcePerMinute) this.sources.delete(k);
    if (this.sources.size < MAX_TRACKED_SOURCES) return;
    let n = 0;
    for (const k of this.sources.keys()) if (n++ < MAX_TRACKED_SOURCES / 2) this.sources.delete(k);
  }
}

/** Milliseconds until the bucket holds one whole token again. */
function waitMs(b: Bucket, perMinute: number): number {
  return b.tokens >= 1 ? 0 : ((1 - b.tokens) * 60_000) / perMinute;
}
