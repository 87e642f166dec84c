import { Logger } from '@nestjs/common';
import { ShutdownState } from './shutdown-state';

/** Anything that can run `SELECT 1` (a TypeORM DataSource). */
export interface QueryRunnerPort {
  query(sql: string): Promise<unknown>;
}

/** One readiness check: `ok`, or a short code that says what is wrong (no error text leaves). */
export type CheckResult = 'ok' | 'timeout' | 'error' | 'no_active_key' | 'shutting_down';

/** The answer of `GET /health/ready`. */
export interface ReadinessReport {
  status: 'ok' | 'not_ready';
  checks: { database: CheckResult; keys: CheckResult; shutdown: CheckResult };
}

/**
 * Readiness of this replica to take traffic: the database answers `SELECT 1` in time, there is an
 * active signing key, and shutdown has not begun. Failures are logged when they start and end only,
 * so a probe every few seconds does not flood the log.
 */
export class Readiness {
  private readonly logger = new Logger('Health');
  private lastFailures = '';
  // The database check kept up to date in the background while probes come: a probe reads it, it
  // never waits for the database (or for a pool busy with request traffic) itself. Nobody probing
  // (npm start, a gateway without an orchestrator), the check stops: no query every 2 s for no one.
  private lastDatabase: CheckResult | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<CheckResult> | undefined;
  private lastProbeAt = 0;
  private stopped = false;
  // Subscribers (the health listener, which answers probes on its own thread) keep the check running.
  private readonly listeners: ((report: ReadinessReport) => void)[] = [];

  constructor(
    private readonly db: QueryRunnerPort,
    private readonly hasActiveKey: () => boolean,
    private readonly shutdown: ShutdownState,
    private readonly timeoutMs = 1000,
    private readonly intervalMs = 2000,
    /** The background check stops after this long without a probe (and restarts at the next one). */
    private readonly quietAfterMs = Math.max(30_000, 5 * intervalMs),
  ) {}

  /** Runs the database check once at boot, so the first probe does not wait for it. */
  onApplicationBootstrap(): void {
    void this.refresh();
  }

  onModuleDestroy(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Keeps the background check running (every `intervalMs`) while probes come. */
  private probed(): void {
    this.lastProbeAt = Date.now();
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      if (!this.listeners.length && Date.now() - this.lastProbeAt > this.quietAfterMs) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      void this.refresh();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Runs the database check once and keeps its result (one at a time); publishes the new report. */
  refresh(): Promise<CheckResult> {
    this.refreshing ??= this.database()
      .then((r) => {
        this.lastDatabase = r;
        this.publish();
        return r;
      })
      .finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * Calls `listener` with the report after every background check and on `publish()` (the health
   * listener). While anyone subscribes, the background check runs without pause: their probes do not
   * pass through `current()`.
   */
  subscribe(listener: (report: ReadinessReport) => void): void {
    this.listeners.push(listener);
    if (this.lastDatabase) listener(this.report(this.lastDatabase));
    this.probed();
  }

  /** Sends the current report to the subscribers now (shutdown calls it so they see it at once). */
  publish(): void {
    if (!this.listeners.length || !this.lastDatabase) return;
    const report = this.report(this.lastDatabase);
    for (const l of this.listeners) l(report);
  }

  /**
   * The answer of `GET /health/ready`: the last background database result (waits only for the
   * first one after a quiet spell), the key and shutdown checks read live; no query per probe.
   */
  async current(): Promise<ReadinessReport> {
    // No background check running: the last result may be from long ago, so this probe waits for a new one.
    const fresh = this.timer !== undefined && this.lastDatabase !== undefined;
    this.probed();
    const database = fresh ? this.lastDatabase! : await this.refresh();
    return this.report(database);
  }

  /** Runs every check (the database one bounded by the timeout). */
  async check(): Promise<ReadinessReport> {
    return this.report(await this.refresh());
  }

  private report(database: CheckResult): ReadinessReport {
    const checks = { database, keys: this.keys(), shutdown: (this.shutdown.shuttingDown ? 'shutting_down' : 'ok') as CheckResult };
    const failures = Object.entries(checks)
      .filter(([, v]) => v !== 'ok')
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    if (failures !== this.lastFailures) {
      if (failures) this.logger.warn(`not ready: ${failures}`);
      else this.logger.log('ready again');
      this.lastFailures = failures;
    }
    return { status: failures ? 'not_ready' : 'ok', checks };
  }

  private async database(): Promise<CheckResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeoutMs);
    });
    const query = this.db.query('SELECT 1').then(
      (): CheckResult => 'ok',
      (): CheckResult => 'error',
    );
    try {
      return await Promise.race([query, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private keys(): CheckResult {
    try {
      return this.hasActiveKey() ? 'ok' : 'no_active_key';
    } catch {
      return 'no_active_key';
    }
  }
}
