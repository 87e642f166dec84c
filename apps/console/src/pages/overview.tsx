import { api } from '../api';
import { LineChart, Series } from '../chart';
import { count, duration, num, time } from '../format';
import { useLoad } from '../hooks';
import { t } from '../i18n';
import { onLink } from '../router';
import { Badge, Card, ErrorBox, Loading, Page } from '../ui';

export interface Overview {
  readiness?: { ready?: boolean; status?: string } | boolean | string;
  peers?: { code: string; name?: string; reachable?: boolean | null; lastSuccessAt?: string | null; lastRefusalAt?: string | null; lastRefusalCode?: string | null; suspended?: boolean }[];
  outbox?: { depth?: number; oldestAgeS?: number | null };
  deadLetters?: number;
  overdueSteps?: number;
  keys?: { kid: string; alg: string; status: string; createdAt?: string; ageDays?: number; nextRotationAt?: string | null }[];
  directory?: { mode?: string; serial?: number | null; expiresAt?: string | null; graceUntil?: string | null };
  tls?: { mode?: string; notAfter?: string | null; daysLeft?: number | null } | null;
  warnings?: { code: string; severity: string; message: string }[];
}

/** One minute of the in-memory history (GET /admin/metrics/history). */
interface Point {
  at: string;
  verificationsPerS?: number | null;
  refusalsPerS?: Record<string, number> | number | null;
  p99LatencyMs?: number | null;
  outboxDepth?: number | null;
}

const ready = (r: Overview['readiness']): boolean | undefined =>
  typeof r === 'boolean' ? r : typeof r === 'string' ? r === 'ok' || r === 'ready' : r ? (r.ready ?? (r.status ? r.status === 'ok' || r.status === 'ready' : undefined)) : undefined;

export function OverviewPage() {
  const o = useLoad((s) => api.get<Overview>('/admin/overview', s), [], 15_000);
  const h = useLoad((s) => api.get<{ points?: Point[]; minutes?: Point[] } | Point[]>('/admin/metrics/history?minutes=60', s), [], 60_000);
  const d = o.data;
  const isReady = ready(d?.readiness);
  const warnings = d?.warnings ?? [];
  return (
    <Page
      title={t('nav.overview')}
      actions={
        <button type="button" onClick={() => (o.reload(), h.reload())}>
          {t('refresh')}
        </button>
      }
    >
      <ErrorBox error={o.error} />
      <Loading loading={o.loading && !d} />
      {warnings.length > 0 && (
        <section class="warnings" aria-label={t('overview.warnings')} data-testid="warnings">
          <h2>
            ⚠ {t('overview.warnings')} ({warnings.length})
          </h2>
          <ul>
            {warnings.map((w) => (
              <li key={w.code + w.message} class={`warning sev-${w.severity}`}>
                <Badge value={w.severity} /> <code>{w.code}</code> {w.message}
              </li>
            ))}
          </ul>
        </section>
      )}
      {d && (
        <div class="tiles">
          <Tile label={t('overview.readiness')} value={isReady === undefined ? '—' : isReady ? t('overview.ready') : t('overview.notReady')} bad={isReady === false} />
          <Tile
            label={t('overview.outboxDepth')}
            value={count(d.outbox?.depth, 'unit.messages')}
            sub={`${t('overview.oldest')}: ${duration(d.outbox?.oldestAgeS ?? null)}`}
            bad={(d.outbox?.oldestAgeS ?? 0) > 900}
            href="delivery"
          />
          <Tile label={t('overview.deadLetters')} value={count(d.deadLetters, 'unit.messages')} bad={(d.deadLetters ?? 0) > 0} href="delivery" />
          <Tile label={t('overview.overdue')} value={count(d.overdueSteps, 'unit.steps')} bad={(d.overdueSteps ?? 0) > 0} href="cases" />
          <Tile
            label={t('overview.directory')}
            value={d.directory?.serial != null ? `#${d.directory.serial}` : '—'}
            sub={`${t('overview.expires')}: ${time(d.directory?.expiresAt)}`}
            bad={d.directory?.mode === 'expired' || d.directory?.mode === 'degraded'}
            href="directory"
          />
          <Tile
            label={t('overview.tls')}
            value={d.tls?.daysLeft != null ? `${num(d.tls.daysLeft)} ${t('unit.d')}` : '—'}
            sub={`${t('overview.notAfter')}: ${time(d.tls?.notAfter)}`}
            bad={d.tls?.daysLeft != null && d.tls.daysLeft < 14}
          />
        </div>
      )}
      {d && (
        <Card title={t('overview.peers')}>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t('peer')}</th>
                  <th scope="col">{t('overview.reachable')}</th>
                  <th scope="col">{t('overview.lastSuccess')}</th>
                  <th scope="col">{t('overview.lastRefusal')}</th>
                </tr>
              </thead>
              <tbody>
                {(d.peers ?? []).map((p) => {
                  const unhealthy = p.suspended || p.reachable === false;
                  return (
                    <tr key={p.code} class={unhealthy ? 'row-bad' : undefined} data-row={p.code}>
                      <td>
                        <a href={`/console/peers/${p.code}`} onClick={(e) => onLink(e, `peers/${p.code}`)}>
                          {p.name ?? p.code} <span class="muted">{p.code}</span>
                        </a>
                      </td>
                      <td>{p.suspended ? <Badge value="SUSPENDED" /> : p.reachable == null ? '—' : p.reachable ? <Badge value="OK" /> : <Badge value="unreachable" />}</td>
                      <td>{time(p.lastSuccessAt)}</td>
                      <td>
                        {time(p.lastRefusalAt)} {p.lastRefusalCode && <code>{p.lastRefusalCode}</code>}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        </Card>
      )}
      {d && (
        <Card title={t('overview.keys')}>
          <ul class="plain">
            {(d.keys ?? []).map((k) => (
              <li key={k.kid}>
                <Badge value={k.status} /> <code>{k.kid.slice(0, 16)}…</code> {k.alg} · {t('keys.age')}: {num(k.ageDays, 1)} {t('unit.d')} · {t('keys.nextRotation')}: {time(k.nextRotationAt)}
              </li>
            ))}
          </ul>
        </Card>
      )}
      <Card title={t('overview.charts')}>
        <ErrorBox error={h.error} />
        <Charts points={points(h.data)} />
      </Card>
    </Page>
  );
}

function points(d: { points?: Point[]; minutes?: Point[] } | Point[] | undefined): Point[] {
  if (!d) return [];
  return Array.isArray(d) ? d : (d.points ?? d.minutes ?? []);
}

function Charts(props: { points: Point[] }) {
  const ps = props.points;
  if (ps.length === 0) return <p class="muted">{t('overview.noHistory')}</p>;
  const times = ps.map((p) => Date.parse(p.at));
  const codes = [...new Set(ps.flatMap((p) => (p.refusalsPerS && typeof p.refusalsPerS === 'object' ? Object.keys(p.refusalsPerS) : [])))];
  const refusals: Series[] = codes.length
    ? codes.map((c, i) => ({ name: c, tone: i + 1, values: ps.map((p) => (typeof p.refusalsPerS === 'object' && p.refusalsPerS ? (p.refusalsPerS[c] ?? 0) : 0)) }))
    : [{ name: t('overview.refusals'), tone: 1, values: ps.map((p) => (typeof p.refusalsPerS === 'number' ? p.refusalsPerS : 0)) }];
  return (
    <div class="charts">
      <LineChart
        title={t('overview.chart.verifications')}
        unit={t('unit.perS')}
        times={times}
        series={[{ name: t('overview.verifications'), tone: 0, values: ps.map((p) => p.verificationsPerS ?? null) }]}
      />
      <LineChart title={t('overview.chart.refusals')} unit={t('unit.perS')} times={times} series={refusals} />
      <LineChart title={t('overview.chart.p99')} unit="ms" times={times} series={[{ name: 'p99', tone: 3, values: ps.map((p) => p.p99LatencyMs ?? null) }]} />
      <LineChart title={t('overview.chart.outbox')} unit={t('unit.messages')} times={times} series={[{ name: t('overview.outboxDepth'), tone: 4, values: ps.map((p) => p.outboxDepth ?? null) }]} />
    </div>
  );
}

function Tile(props: { label: string; value: string; sub?: string; bad?: boolean; href?: string }) {
  const body = (
    <>
      <span class="tile-label">{props.label}</span>
      <strong class="tile-value">
        {props.bad && <span aria-hidden="true">⚠ </span>}
        {props.value}
      </strong>
      {props.sub && <span class="tile-sub">{props.sub}</span>}
    </>
  );
  return (
    <div class={`tile ${props.bad ? 'tile-bad' : ''}`}>
      {props.href ? (
        <a href={`/console/${props.href}`} onClick={(e) => onLink(e, props.href!)}>
          {body}
        </a>
      ) : (
        body
      )}
    </div>
  );
}
