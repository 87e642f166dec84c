import type { DataSource } from 'typeorm';
import { caseCounts } from './case-counts';
import { GaugeSample, Metrics } from './metrics.service';

/** Provider token of the (value-less) provider that registers the gauges once at boot. */
export const OPERATIONAL_GAUGES = Symbol('OPERATIONAL_GAUGES');

/** The outbox view the gauges need (OutboxAdmin.depth()). */
export interface OutboxDepthPort {
  depth(): Promise<{ status: string; peer: string; count: number; oldest: string }[]>;
}

/** The key view the gauges need (KeyStore). */
export interface OwnKeysPort {
  activeKid(): string;
  list(): { kid: string; activatedAt: string | null }[];
}

/** What the on-scrape gauges read. */
export interface OperationalSources {
  outbox: OutboxDepthPort;
  keys: OwnKeysPort;
  ds: DataSource;
  /** Step statuses that make a step a task (OPEN_STEP of @tongban/cases). */
  openStepStatuses: readonly string[];
  now?: () => number;
}

/**
 * Registers the gauges computed from the database at scrape time: outbox depth and oldest age per
 * peer and status, cases by state, overdue cases, and the age of the active signing key.
 * Returns the names of the gauges registered.
 */
export function registerOperationalGauges(metrics: Metrics, src: OperationalSources): string[] {
  const now = src.now ?? Date.now;
  // Two gauges read one query: share its answer for the length of one scrape.
  const depth = sharedFor(500, () => src.outbox.depth());
  const cases = sharedFor(500, () => caseCounts(src.ds, src.openStepStatuses, now()));

  metrics.gaugeOnScrape('tongban_outbox_messages', 'Undelivered outbox messages (PENDING or DEAD), per peer and status', ['peer', 'status'], async () =>
    (await depth()).map((d): GaugeSample => ({ labels: { peer: d.peer, status: d.status }, value: d.count })),
  );
  metrics.gaugeOnScrape('tongban_outbox_oldest_age_seconds', 'Age of the oldest undelivered outbox message, per peer and status', ['peer', 'status'], async () =>
    (await depth()).map((d): GaugeSample => ({ labels: { peer: d.peer, status: d.status }, value: Math.max(0, (now() - Date.parse(d.oldest)) / 1000) })),
  );
  metrics.gaugeOnScrape('tongban_cases', 'Open cases held by this gateway (owned or taken part in); closures are tongban_cases_closed_total', ['state'], async () => [
    { labels: { state: 'OPEN' }, value: (await cases()).open },
  ]);
  metrics.gaugeOnScrape('tongban_cases_overdue', 'OPEN cases with an open step past its due time', [], async () => [{ value: (await cases()).overdue }]);
  metrics.gaugeOnScrape('tongban_signing_key_age_seconds', 'Time since the active signing key was activated', [], async () => {
    const kid = src.keys.activeKid();
    const at = src.keys.list().find((k) => k.kid === kid)?.activatedAt;
    return at ? [{ value: Math.max(0, (now() - Date.parse(at)) / 1000) }] : [];
  });
  return ['tongban_outbox_messages', 'tongban_outbox_oldest_age_seconds', 'tongban_cases', 'tongban_cases_overdue', 'tongban_signing_key_age_seconds'];
}

/** The audit trail's view the gauges need (AuditLog.sealingStatus()). */
export interface AuditSealingPort {
  sealingStatus(): Promise<{ headSeq: number; sealedSeq: number; lastCheckpointAt?: number; oldestUnsealedAt?: number }>;
}

/**
 * Registers the audit sealing gauges: entries not yet covered by a checkpoint, the age of the
 * oldest of them, and the age of the newest checkpoint. Returns their names.
 */
export function registerAuditGauges(metrics: Metrics, audit: AuditSealingPort, now: () => number = Date.now): string[] {
  const status = sharedFor(500, () => audit.sealingStatus());
  metrics.gaugeOnScrape('tongban_audit_unsealed_entries', 'Audit entries after the newest signed checkpoint', [], async () => {
    const s = await status();
    return [{ value: s.headSeq - s.sealedSeq }];
  });
  metrics.gaugeOnScrape('tongban_audit_unsealed_age_seconds', 'Age of the oldest audit entry not yet covered by a checkpoint (0 when all are)', [], async () => {
    const s = await status();
    return [{ value: s.oldestUnsealedAt === undefined ? 0 : Math.max(0, (now() - s.oldestUnsealedAt) / 1000) }];
  });
  metrics.gaugeOnScrape('tongban_audit_last_checkpoint_age_seconds', 'Time since the newest audit checkpoint (NaN when there is none)', [], async () => {
    const s = await status();
    return s.lastCheckpointAt === undefined ? [] : [{ value: Math.max(0, (now() - s.lastCheckpointAt) / 1000) }];
  });
  return ['tongban_audit_unsealed_entries', 'tongban_audit_unsealed_age_seconds', 'tongban_audit_last_checkpoint_age_seconds'];
}

/** `fn`'s promise, reused by callers within `ms` of the first call. */
function sharedFor<T>(ms: number, fn: () => Promise<T>): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const t = Date.now();
    if (!last || t - last.at > ms) last = { at: t, value: fn() };
    return last.value;
  };
}
