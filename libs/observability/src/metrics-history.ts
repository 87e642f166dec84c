import { Metrics } from './metrics.service';

/** One minute (or the minute so far, `partial`) of the charts of the admin console. */
export interface HistoryPoint {
  /** Start of the interval (ISO time). */
  at: string;
  /** Length of the interval in seconds (60 for a whole minute). */
  seconds: number;
  partial: boolean;
  /** Verifications answered to local systems per second (every status). */
  verificationsPerS: number;
  /** Federation requests this gateway refused per second, by refusal code (codes with none left out). */
  refusalsPerS: Record<string, number>;
  /** 99th percentile of the signed calls to peers in the interval (upper bound of its histogram bucket), ms; null without calls. */
  p99LatencyMs: number | null;
  /** Undelivered (PENDING) outbox messages at the end of the interval; null when it could not be read. */
  outboxDepth: number | null;
}

interface Snapshot {
  at: number;
  verifications: number;
  refusals: Map<string, number>;
  /** Cumulative peer-call counts per bucket upper bound (seconds; Infinity last), summed over labels. */
  buckets: Map<number, number>;
  outboxDepth: number | null;
}

export interface MetricsHistoryOptions {
  /** Interval between points (default one minute). */
  stepMs?: number;
  /** Points kept (default 24 h of minutes). */
  capacity?: number;
  now?: () => number;
}

/**
 * The last hours of a few gateway figures, one point a minute, for the console's charts: kept in
 * memory by each replica (a restart forgets them; replicas each have their own). Points are the
 * differences between two readings of the gateway's own Prometheus counters, so they agree with
 * /metrics; the outbox depth is read at each step.
 */
export class MetricsHistory {
  private readonly points: HistoryPoint[] = [];
  private last: Snapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly stepMs: number;
  private readonly capacity: number;
  private readonly now: () => number;

  constructor(
    private readonly metrics: Metrics,
    private readonly outboxDepth: () => Promise<number>,
    options: MetricsHistoryOptions = {},
  ) {
    this.stepMs = options.stepMs ?? 60_000;
    this.capacity = options.capacity ?? 24 * 60;
    this.now = options.now ?? Date.now;
  }

  /** Takes the first reading and one every step from now on. */
  async start(): Promise<void> {
    this.last = await this.snapshot();
    this.timer = setInterval(() => void this.step().catch(() => undefined), this.stepMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Closes the current interval as a point (called every step). */
  async step(): Promise<void> {
    const next = await this.snapshot();
    if (this.last) this.points.push(pointBetween(this.last, next, false));
    if (this.points.length > this.capacity) this.points.splice(0, this.points.length - this.capacity);
    this.last = next;
  }

  /** Whole points of the last `minutes`, oldest first, then the interval so far (partial). */
  async history(minutes: number): Promise<HistoryPoint[]> {
    const since = this.now() - minutes * 60_000;
    const whole = this.points.filter((p) => Date.parse(p.at) >= since);
    if (!this.last) return whole;
    const current = await this.snapshot();
    return current.at - this.last.at >= 1000 ? [...whole, pointBetween(this.last, current, true)] : whole;
  }

  private async snapshot(): Promise<Snapshot> {
    const at = this.now();
    const values = async (name: string) => (await this.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
    const verifications = (await values('tongban_verifications_total')).reduce((n, v) => n + v.value, 0);
    const refusals = new Map<string, number>();
    for (const v of await values('tongban_refusals_total')) refusals.set(String(v.labels.reason), (refusals.get(String(v.labels.reason)) ?? 0) + v.value);
    const buckets = new Map<number, number>();
    for (const v of await values('tongban_peer_call_seconds')) {
      if (v.labels.le === undefined) continue;
      const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
      buckets.set(le, (buckets.get(le) ?? 0) + v.value);
    }
    const outboxDepth = await this.outboxDepth().catch(() => null);
    return { at, verifications, refusals, buckets: new Map([...buckets].sort((a, b) => a[0] - b[0])), outboxDepth };
  }
}

function pointBetween(a: Snapshot, b: Snapshot, partial: boolean): HistoryPoint {
  const seconds = Math.max(1, (b.at - a.at) / 1000);
  const rate = (n: number) => Math.round((n / seconds) * 1000) / 1000;
  const refusalsPerS: Record<string, number> = {};
  for (const [code, n] of b.refusals) if (n - (a.refusals.get(code) ?? 0) > 0) refusalsPerS[code] = rate(n - (a.refusals.get(code) ?? 0));
  return {
    at: new Date(a.at).toISOString(),
    seconds: Math.round(seconds),
    partial,
    verificationsPerS: rate(b.verifications - a.verifications),
    refusalsPerS,
    p99LatencyMs: p99(a.buckets, b.buckets),
    outboxDepth: b.outboxDepth,
  };
}

/** Upper bound (ms) of the bucket holding the 99th percentile of the calls between two readings. */
function p99(a: Map<number, number>, b: Map<number, number>): number | null {
  const total = (b.get(Infinity) ?? 0) - (a.get(Infinity) ?? 0);
  if (total <= 0) return null;
  let largest = 0;
  for (const [le, n] of b) {
    if (le !== Infinity) largest = le;
    if (n - (a.get(le) ?? 0) >= 0.99 * total) return (le === Infinity ? largest : le) * 1000;
  }
  return largest * 1000;
}
