import { AuditLog } from '@tongban/audit';
import { CaseTransactions, OPEN_STEP } from '@tongban/cases';
import { CatalogueStore } from '@tongban/catalogue';
import { OutboxAdmin } from '@tongban/delivery';
import { KeyStore } from '@tongban/keys';
import { Metrics, registerAuditGauges, registerOperationalGauges } from '@tongban/observability';
import { DataSource } from '@tongban/persistence';
import { TransportSecurity } from '@tongban/tls';

/** What the gateway's computed metrics read. */
export interface GaugeSources {
  outbox: OutboxAdmin;
  keys: Pick<KeyStore, 'activeKid' | 'list'>;
  ds: DataSource;
  catalogue: Pick<CatalogueStore, 'calendar'>;
  audit: AuditLog;
  cases: Pick<CaseTransactions, 'events'>;
  transport: Pick<TransportSecurity, 'secondsToExpiry'>;
}

/**
 * Every metric the gateway computes at scrape time, and the closure counter fed by committed case
 * events; returns the gauges' names. One place, so operator-reads.integration-spec.ts measures a
 * whole scrape: nothing read at every scrape may grow with the history in the database.
 */
export function registerGatewayGauges(metrics: Metrics, src: GaugeSources): string[] {
  // Closures counted as they commit (events are published after the commit): CASE_COMPLETED → COMPLETED.
  src.cases.events.on('event', (e: { type: string }) => e.type.startsWith('CASE_') && metrics.caseClosed(e.type.slice('CASE_'.length)));
  const names = [...registerOperationalGauges(metrics, { outbox: src.outbox, keys: src.keys, ds: src.ds, openStepStatuses: OPEN_STEP }), ...registerAuditGauges(metrics, src.audit)];
  metrics.gaugeOnScrape('tongban_tls_certificate_expiry_seconds', "Time until this gateway's TLS certificate expires (absent without TLS)", [], async () => {
    const left = src.transport.secondsToExpiry();
    return left === null ? [] : [{ value: left }];
  });
  metrics.gaugeOnScrape('tongban_calendar_covered_until_seconds', 'End of the last year whose public holidays the working-day calendar knows (Unix seconds)', [], async () => {
    const until = src.catalogue.calendar().coveredUntil();
    return until ? [{ value: until.getTime() / 1000 }] : [];
  });
  return [...names, 'tongban_tls_certificate_expiry_seconds', 'tongban_calendar_covered_until_seconds'];
}
