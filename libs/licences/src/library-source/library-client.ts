import { LicenceSourceUnavailableError } from '../licence-source-unavailable';
import { CircuitBreaker } from './circuit-breaker';

/** How to reach the library (from the typed config). */
export interface LibraryClientOptions {
  baseUrl: string;
  auth: { header: string; value: string };
  timeoutMs: number;
  breaker: { failures: number; openMs: number };
}

/** The HTTP port to the library; tests may pass another `fetch`. */
export type FetchLike = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<{ status: number; json(): Promise<unknown> }>;

/**
 * GETs from the province's licence library: one request per call with the configured credential,
 * a timeout, and a circuit breaker. 404 is "no such licence" (null); every other failure is a
 * LicenceSourceUnavailableError, and counts against the breaker.
 */
export class LibraryClient {
  readonly breaker: CircuitBreaker;

  constructor(
    private readonly options: LibraryClientOptions,
    private readonly fetchFn: FetchLike = fetch,
    now: () => number = Date.now,
  ) {
    this.breaker = new CircuitBreaker(options.breaker, now);
  }

  /** The JSON body of a 200 answer, or null on 404. */
  async get(path: string): Promise<unknown> {
    if (!this.breaker.allow()) throw new LicenceSourceUnavailableError('CIRCUIT_OPEN', 'the licence library failed repeatedly; calls are paused (circuit open)');
    let ok = false;
    try {
      const body = await this.request(path);
      ok = true;
      return body;
    } finally {
      if (ok) this.breaker.success();
      else this.breaker.failure();
    }
  }

  private async request(path: string): Promise<unknown> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    let res: Awaited<ReturnType<FetchLike>>;
    try {
      res = await this.fetchFn(this.options.baseUrl + path, { headers: { [this.options.auth.header]: this.options.auth.value, accept: 'application/json' }, signal });
      if (res.status === 404) return null;
    } catch {
      if (signal.aborted) throw new LicenceSourceUnavailableError('TIMEOUT', `the licence library did not answer within ${this.options.timeoutMs} ms`);
      throw new LicenceSourceUnavailableError('UNREACHABLE', 'the licence library cannot be reached');
    }
    if (res.status !== 200) throw new LicenceSourceUnavailableError('HTTP_ERROR', `the licence library answered HTTP ${res.status}`);
    try {
      return await res.json();
    } catch {
      if (signal.aborted) throw new LicenceSourceUnavailableError('TIMEOUT', `the licence library did not answer within ${this.options.timeoutMs} ms`);
      throw new LicenceSourceUnavailableError('BAD_ANSWER', 'the licence library answered with a body that is not JSON');
    }
  }
}
