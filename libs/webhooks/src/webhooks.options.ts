/** Tuning of webhook deliveries to local systems. */
export interface WebhooksOptions {
  /** First retry delay; doubles per attempt up to `backoffCapMs`, with full jitter. */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** Requests before a delivery is parked as DEAD. */
  maxAttempts: number;
  /** A delivery older than this is parked as DEAD at its next failure. */
  deadLetterAgeMs: number;
  /** Timeout of one request. */
  timeoutMs: number;
  /** First wait of the dispatcher's poll after work when nothing nudges it; doubles while idle. */
  pollIntervalMs: number;
  /** Longest wait of that poll when idle. */
  idlePollMs: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Only https:// URLs (production). */
  httpsOnly: boolean;
  /**
   * Ranges (CIDR) webhooks may reach although they are not public: loopback, private, link-local,
   * metadata, … are refused at registration and at send time unless listed here.
   */
  allowCidrs: string[];
  /** Webhooks one API client may have at once. */
  maxPerClient: number;
}

export const WEBHOOKS_OPTIONS = Symbol('WEBHOOKS_OPTIONS');
