import { Inject, Injectable } from '@nestjs/common';
import { GatewayConfig } from '@tongban/config';
import { OutboxAdmin } from '@tongban/delivery';
import { DirectoryService } from '@tongban/directory';
import { KeyStore } from '@tongban/keys';
import { DataSource } from '@tongban/persistence';
import { Metrics, Readiness, caseCounts } from '@tongban/observability';
import { OPEN_STEP } from '@tongban/cases';
import { TransportSecurity } from '@tongban/tls';
import { TrustStore } from '@tongban/trust';
import { GATEWAY_CONFIG } from '../../gateway.providers';

/** Thresholds of the overview's warnings (docs/operations.md §20.6). */
export const OVERVIEW_THRESHOLDS = { outboxOldestS: 300, keyRotationDays: 365, directoryExpiryDays: 3, tlsWarnDays: 30, tlsCriticalDays: 7 };

export interface OverviewWarning {
  code: string;
  severity: 'critical' | 'warning';
  message: string;
}

const DAY_MS = 86_400_000;
const days = (ms: number) => Math.floor(ms / DAY_MS);

/** What GET /admin/overview answers: what this gateway can honestly know, and what is wrong. */
@Injectable()
export class Overview {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly readiness: Readiness,
    private readonly trust: TrustStore,
    private readonly metrics: Metrics,
    private readonly outbox: OutboxAdmin,
    private readonly keys: KeyStore,
    private readonly directory: DirectoryService,
    private readonly transport: TransportSecurity,
    private readonly ds: DataSource,
  ) {}

  async view() {
    const now = Date.now();
    const warnings: OverviewWarning[] = [];
    const warn = (severity: OverviewWarning['severity'], code: string, message: string) => warnings.push({ code, severity, message });
    const ready = await this.readiness.current();
    if (ready.status !== 'ok')
      warn(
        'critical',
        'NOT_READY',
        `this replica is not ready: ${
          Object.entries(ready.checks)
            .filter(([, c]) => !(c as { ok?: boolean }).ok)
            .map(([k]) => k)
            .join(', ') || 'see /health/ready'
        }`,
      );

    const outcomes = this.metrics.peerCallOutcomes();
    const peers = this.trust.list().map((p) => {
      const o = outcomes.get(p.code);
      const failedLast = !!o?.lastFailureAt && (o.lastSuccessAt ?? 0) < o.lastFailureAt;
      // Reachable: the last call got through (any answer but ISSUER_UNREACHABLE); null: no call since this replica started.
      const reachable = !o ? null : !(failedLast && o.lastFailureCode === 'ISSUER_UNREACHABLE');
      if (reachable === false && p.status !== 'SUSPENDED') warn('warning', 'PEER_UNREACHABLE', `peer ${p.code} (${p.name}) did not answer the last call`);
      return {
        code: p.code,
        name: p.name,
        status: p.status,
        suspended: p.status === 'SUSPENDED',
        reachable,
        lastSuccessAt: o?.lastSuccessAt ? new Date(o.lastSuccessAt).toISOString() : null,
        lastRefusalAt: o?.lastFailureAt ? new Date(o.lastFailureAt).toISOString() : null,
        lastRefusalCode: o?.lastFailureCode ?? null,
      };
    });

    const depth = await this.outbox.depth();
    const pending = depth.filter((d) => d.status === 'PENDING');
    const oldest = pending.reduce<number | null>((m, d) => (m === null ? Date.parse(d.oldest) : Math.min(m, Date.parse(d.oldest))), null);
    const outbox = { depth: pending.reduce((n, d) => n + d.count, 0), oldestAgeS: oldest === null ? null : Math.max(0, Math.round((now - oldest) / 1000)) };
    if (outbox.oldestAgeS !== null && outbox.oldestAgeS > OVERVIEW_THRESHOLDS.outboxOldestS)
      warn('warning', 'OUTBOX_STUCK', `the oldest undelivered outbox message is ${outbox.oldestAgeS} s old (over ${OVERVIEW_THRESHOLDS.outboxOldestS} s)`);
    const deadLetters = depth.filter((d) => d.status === 'DEAD').reduce((n, d) => n + d.count, 0);
    if (deadLetters > 0) warn('warning', 'DEAD_LETTERS', `${deadLetters} outbox message(s) are DEAD: re-queue or investigate (Delivery)`);
    const overdueCases = (await caseCounts(this.ds, OPEN_STEP, now)).overdue;

    const keys = this.keys.list().map((k) => {
      const since = Date.parse(k.activatedAt ?? k.createdAt);
      const nextRotationAt = k.status === 'ACTIVE' ? new Date(since + OVERVIEW_THRESHOLDS.keyRotationDays * DAY_MS).toISOString() : null;
      if (k.status === 'ACTIVE' && now - since > OVERVIEW_THRESHOLDS.keyRotationDays * DAY_MS)
        warn('warning', 'KEY_OLD', `signing key ${k.kid} has been active ${days(now - since)} days (rotate every ${OVERVIEW_THRESHOLDS.keyRotationDays})`);
      return { kid: k.kid, alg: k.alg, status: k.status, createdAt: k.createdAt, activatedAt: k.activatedAt, ageDays: days(now - Date.parse(k.createdAt)), nextRotationAt };
    });

    const d = this.directory.status();
    if (d.mode === 'degraded') warn('warning', 'DIRECTORY_GRACE', `directory serial ${d.serial} expired at ${d.notAfter}; used during grace until ${d.graceUntil}: publish a new one`);
    else if (d.mode === 'expired') warn('critical', 'DIRECTORY_EXPIRED', `directory serial ${d.serial} is past its grace period: federation refuses peers`);
    else if (d.mode === 'ok' && d.notAfter && Date.parse(d.notAfter) - now < OVERVIEW_THRESHOLDS.directoryExpiryDays * DAY_MS)
      warn('warning', 'DIRECTORY_EXPIRING', `directory serial ${d.serial} expires at ${d.notAfter}`);

    const t = this.transport.status();
    const tls = t.mode === 'mtls' && t.notAfter ? { mode: t.mode, notAfter: t.notAfter, daysLeft: days(Date.parse(t.notAfter) - now) } : { mode: t.mode, notAfter: null, daysLeft: null };
    if (tls.daysLeft !== null && tls.daysLeft < OVERVIEW_THRESHOLDS.tlsWarnDays)
      warn(tls.daysLeft < OVERVIEW_THRESHOLDS.tlsCriticalDays ? 'critical' : 'warning', 'TLS_EXPIRING', `the TLS certificate expires in ${tls.daysLeft} days (${tls.notAfter}): renew it (§18.4)`);

    return {
      code: this.config.code,
      generatedAt: new Date(now).toISOString(),
      readiness: ready,
      peers,
      outbox,
      deadLetters,
      overdueSteps: overdueCases,
      keys,
      directory: { mode: d.mode, serial: d.serial, expiresAt: d.notAfter, graceUntil: d.graceUntil },
      tls,
      warnings: warnings.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === 'critical' ? -1 : 1)),
    };
  }
}
