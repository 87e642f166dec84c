import { Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DomainException } from '@tongban/common';
import { databaseFaultCounts, databaseStatementCount } from '@tongban/persistence';

/** A case's final states (the label values of tongban_cases_closed_total). */
const CLOSED_CASE_STATES = ['COMPLETED', 'REFUSED', 'CANCELLED'] as const;

/** Interval of the event-loop delay sampler behind `nodejs_eventloop_lag_*` (docs/operations.md §12). */
const EVENT_LOOP_SAMPLE_MS = 1000;

/** Outcomes of this replica's calls to one peer (epoch ms; null: none since start). */
export interface PeerCallOutcomes {
  lastSuccessAt: number | null;
  lastFailureAt: number | null;
  /** The DomainException code of the last failure (ISSUER_UNREACHABLE, ISSUER_REFUSED, …). */
  lastFailureCode: string | null;
}

/** One sample of a gauge computed at scrape time. */
export interface GaugeSample {
  labels?: Record<string, string>;
  value: number;
}

/**
 * The gateway's Prometheus registry. Libs record through these methods and never import
 * prom-client; every label value comes from a closed list (RPC names, participant codes, error
 * and refusal codes, statuses), never from personal data.
 */
@Injectable()
export class Metrics {
  private readonly logger = new Logger('Metrics');
  /** One registry per gateway instance (not prom-client's global one), so tests can run several. */
  readonly registry = new Registry();
  private readonly peerCalls = new Counter({
    name: 'tongban_peer_calls_total',
    help: 'Signed unary calls to peer gateways, by RPC, peer and outcome (ok or the error code)',
    labelNames: ['method', 'peer', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly peerPreconnects = new Counter({
    name: 'tongban_peer_preconnects_total',
    help: 'Connections opened to peers ahead of their first call (TONGBAN_PEER_PRECONNECT), by peer and outcome (ready or failed)',
    labelNames: ['peer', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly peerCallSeconds = new Histogram({
    name: 'tongban_peer_call_seconds',
    help: 'Duration of signed unary calls to peer gateways, including signing and verifying',
    labelNames: ['method', 'peer'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  // Kept by libs/persistence (which cannot see this registry), read on each scrape.
  private readonly databaseFaults = new Counter({
    name: 'tongban_database_faults_total',
    help: 'Database faults: connection_lost (a PostgreSQL backend or connection went away; the request got 503 or was retried) and busy (the SQLite writer was busy past its wait)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(databaseFaultCounts())) this.inc({ kind }, n);
    },
  });
  private readonly databaseStatements = new Counter({
    name: 'tongban_database_statements_total',
    help: 'Statements sent to the database by this process (each a round trip on PostgreSQL), BEGIN, COMMIT and SAVEPOINT included',
    registers: [this.registry],
    collect() {
      this.reset();
      this.inc(databaseStatementCount());
    },
  });
  private readonly refusals = new Counter({
    name: 'tongban_refusals_total',
    help: 'Federation requests this gateway refused, by refusal code: every one, including TOO_MANY_REFUSALS (the audit trail aggregates refusals before signature verification)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly verifications = new Counter({
    name: 'tongban_verifications_total',
    help: 'Licence verifications answered to local systems, by licence status (REFUSED when the issuer refused)',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });
  private readonly tlsHandshakeFailures = new Counter({
    name: 'tongban_tls_handshake_failures_total',
    help: 'TLS handshakes refused on the federation port (no or untrusted client certificate, plaintext, …), by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly deadLetters = new Counter({
    name: 'tongban_dead_letters_total',
    help: 'Messages parked as DEAD, by queue (outbox, material_transfers, webhook_deliveries) and reason (AGE, or the failure code repeated until the limit)',
    labelNames: ['queue', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly casesClosed = new Counter({
    name: 'tongban_cases_closed_total',
    help: 'Cases closed here (owned, or taken part in and closed by their owner), by final state, counted as each closure commits',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });
  private readonly retentionDeletedRows = new Counter({
    name: 'tongban_retention_deleted_rows_total',
    help: 'Rows deleted by the retention job, by table',
    labelNames: ['table'] as const,
    registers: [this.registry],
  });
  private readonly webhookBlocks = new Counter({
    name: 'tongban_webhook_blocked_total',
    help: 'Webhook deliveries not sent because the URL host resolved to a non-public address outside TONGBAN_WEBHOOK_ALLOW_CIDRS, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly auditCheckpointFailures = new Counter({
    name: 'tongban_audit_checkpoint_failures_total',
    help: 'Audit checkpoints not written (sign) or not appended to the export file (export)',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });
  private readonly scrapeErrors = new Counter({
    name: 'tongban_scrape_errors_total',
    help: 'Failures computing an on-scrape gauge (its samples are missing, or NaN, for that scrape)',
    labelNames: ['gauge'] as const,
    registers: [this.registry],
  });

  /** Per peer: when a call last succeeded and last failed, and how (for the console overview; this replica, since start). */
  private readonly peerLast = new Map<string, PeerCallOutcomes>();

  constructor() {
    // The event-loop delay histogram samples once a second: prom-client's default (every 10 ms) is
    // a timer that wakes an idle gateway 100 times a second, most of its idle CPU.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // Shown from the start (at 0), so a rate over the first closure is not lost.
    for (const state of CLOSED_CASE_STATES) this.casesClosed.inc({ state }, 0);
  }

  /** Runs one call to `peer`, timing it and counting its outcome: `ok` or the DomainException code. */
  /** One preconnect attempt to `peer` ended: the channel became ready, or failed / was not ready within the peer deadline. */
  countPreconnect(peer: string, ready: boolean): void {
    this.peerPreconnects.inc({ peer, outcome: ready ? 'ready' : 'failed' });
  }

  async timePeerCall<T>(method: string, peer: string, call: () => Promise<T>): Promise<T> {
    const stop = this.peerCallSeconds.startTimer({ method, peer });
    try {
      const result = await call();
      this.peerCalls.inc({ method, peer, outcome: 'ok' });
      this.lastOf(peer).lastSuccessAt = Date.now();
      return result;
    } catch (e) {
      const code = e instanceof DomainException ? e.code : 'INTERNAL';
      this.peerCalls.inc({ method, peer, outcome: code });
      Object.assign(this.lastOf(peer), { lastFailureAt: Date.now(), lastFailureCode: code });
      throw e;
    } finally {
      stop();
    }
  }

  /** Last success and last failure of calls to each peer seen by this replica since it started. */
  peerCallOutcomes(): ReadonlyMap<string, PeerCallOutcomes> {
    return this.peerLast;
  }

  private lastOf(peer: string): PeerCallOutcomes {
    let o = this.peerLast.get(peer);
    if (!o) this.peerLast.set(peer, (o = { lastSuccessAt: null, lastFailureAt: null, lastFailureCode: null }));
    return o;
  }

  /** Counts one refused federation request. */
  refusal(reason: string): void {
    this.refusals.inc({ reason });
  }

  /** Counts one TLS handshake refused on the federation port (`reason`: a small closed set). */
  tlsHandshakeFailure(reason: string): void {
    this.tlsHandshakeFailures.inc({ reason });
  }

  /** Counts one message parked as DEAD (`reason`: AGE or a failure code from a closed list). */
  deadLetter(queue: string, reason: string): void {
    this.deadLetters.inc({ queue, reason });
  }

  /** Counts a case closure that committed here, by final state; any other state is not a closure and is ignored. */
  caseClosed(state: string): void {
    if ((CLOSED_CASE_STATES as readonly string[]).includes(state)) this.casesClosed.inc({ state });
  }

  /** Counts rows the retention job deleted from `table`. */
  retentionDeleted(table: string, rows: number): void {
    if (rows > 0) this.retentionDeletedRows.inc({ table }, rows);
  }

  /** Counts one webhook delivery blocked at send time (`reason`: loopback, private, link-local, metadata, …). */
  webhookBlocked(reason: string): void {
    this.webhookBlocks.inc({ reason });
  }

  /** Counts one audit checkpoint that failed at `stage` (`sign` or `export`). */
  auditCheckpointFailure(stage: 'sign' | 'export'): void {
    this.auditCheckpointFailures.inc({ stage });
  }

  /** Counts one verification result given to a local system. */
  verification(status: string): void {
    this.verifications.inc({ status });
  }

  /**
   * A gauge whose samples `collect` computes at each scrape. If it fails, the gauge has no
   * samples for that scrape (NaN without labels) and tongban_scrape_errors_total{gauge} goes up:
   * a scrape never fails.
   */
  gaugeOnScrape(name: string, help: string, labelNames: string[], collect: () => Promise<GaugeSample[]>): void {
    const { logger, scrapeErrors } = this;
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        let samples: GaugeSample[] = [];
        try {
          samples = await collect();
        } catch (e) {
          scrapeErrors.inc({ gauge: name });
          logger.warn(`gauge ${name} not computed: ${(e as Error)?.message ?? e}`);
        }
        for (const s of samples) this.set(s.labels ?? {}, s.value);
        // prom-client always shows a label-less gauge; NaN says "unknown" where 0 would mislead.
        if (!labelNames.length && !samples.length) this.set(NaN);
      },
    });
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The content type of `render()`. */
  get contentType(): string {
    return this.registry.contentType;
  }
}
