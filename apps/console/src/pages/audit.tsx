import { useState } from 'preact/hooks';
import { api } from '../api';
import { num, time } from '../format';
import { useAction, useLoad } from '../hooks';
import { t } from '../i18n';
import { Badge, Card, Dialog, ErrorBox, Field, Loading, Page, Table, download } from '../ui';
import { AuditVerification } from './audit-verify';

export interface AuditEvent {
  seq: number;
  at: string;
  event: string;
  actor: string;
  subject: string;
  outcome: string;
  reason: string | null;
  messageId: string | null;
  details: string | Record<string, unknown> | null;
  hash?: string | null;
  prevHash?: string | null;
}

const COLUMNS = ['seq', 'at', 'event', 'actor', 'subject', 'outcome', 'reason', 'messageId', 'details'] as const;
const csvCell = (v: unknown) => {
  const s = v == null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};
export const toCsv = (events: AuditEvent[]) => [COLUMNS.join(','), ...events.map((e) => COLUMNS.map((c) => csvCell(e[c])).join(','))].join('\r\n') + '\r\n';

/** Local datetime-input value → ISO instant (the browser's zone). */
const iso = (local: string) => (local ? new Date(local).toISOString() : '');

export function AuditPage() {
  const [form, setForm] = useState({ event: '', actor: '', subject: '', from: '', to: '' });
  const [query, setQuery] = useState(form);
  const [detail, setDetail] = useState<AuditEvent>();
  const qs = new URLSearchParams({ limit: '200' });
  if (query.event) qs.set('event', query.event.trim());
  if (query.actor) qs.set('actor', query.actor.trim());
  if (query.subject) qs.set('subject', query.subject.trim());
  if (query.from) qs.set('from', iso(query.from));
  if (query.to) qs.set('to', iso(query.to));
  const events = useLoad((s) => api.get<{ events: AuditEvent[] }>(`/admin/console/audit?${qs.toString()}`, s), [qs.toString()]);
  const exp = useAction();
  const exportAll = (kind: 'csv' | 'json') =>
    exp.run(async () => {
      const all = new URLSearchParams(qs);
      all.set('limit', '5000');
      const r = await api.get<{ events: AuditEvent[] }>(`/admin/console/audit?${all.toString()}`);
      const name = `tongban-audit-${new Date().toISOString().slice(0, 19).replace(/:/g, '')}.${kind}`;
      if (kind === 'csv') download(name, 'text/csv;charset=utf-8', '\ufeff' + toCsv(r.events));
      else download(name, 'application/json', JSON.stringify(r.events, null, 2));
    });
  const input = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <Page
      title={t('nav.audit')}
      actions={
        <>
          <button type="button" onClick={() => void exportAll('csv')} disabled={exp.busy}>
            {t('audit.exportCsv')}
          </button>
          <button type="button" onClick={() => void exportAll('json')} disabled={exp.busy}>
            {t('audit.exportJson')}
          </button>
        </>
      }
    >
      <ErrorBox error={exp.error ?? events.error} />
      <Card title={t('audit.search')}>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery(form);
          }}
        >
          <Field label={t('audit.event')} id="f-event">
            <input id="f-event" value={form.event} onInput={input('event')} placeholder="federation.request.refused" />
          </Field>
          <Field label={t('audit.actor')} id="f-actor">
            <input id="f-actor" value={form.actor} onInput={input('actor')} />
          </Field>
          <Field label={t('audit.subject')} id="f-subject">
            <input id="f-subject" value={form.subject} onInput={input('subject')} placeholder="130000" />
          </Field>
          <Field label={t('audit.from')} id="f-from">
            <input id="f-from" type="datetime-local" step="1" value={form.from} onInput={input('from')} />
          </Field>
          <Field label={t('audit.to')} id="f-to">
            <input id="f-to" type="datetime-local" step="1" value={form.to} onInput={input('to')} />
          </Field>
          <div class="buttons">
            <button type="submit" class="primary">
              {t('audit.searchButton')}
            </button>
          </div>
        </form>
      </Card>
      <Card title={t('audit.results')}>
        <Loading loading={events.loading && !events.data} />
        <p class="muted">{t('audit.newestFirst', { n: num(events.data?.events.length ?? 0) })}</p>
        <Table<AuditEvent>
          caption={t('audit.results')}
          rows={events.data?.events}
          rowKey={(e) => String(e.seq)}
          columns={[
            { key: 'seq', label: '#', render: (e) => e.seq, class: 'num' },
            { key: 'at', label: t('time'), render: (e) => time(e.at) },
            {
              key: 'event',
              label: t('audit.event'),
              render: (e) => (
                <button type="button" class="link" onClick={() => setDetail(e)}>
                  {e.event}
                </button>
              ),
            },
            { key: 'actor', label: t('audit.actor'), render: (e) => e.actor },
            { key: 'subject', label: t('audit.subject'), render: (e) => <span class="clip">{e.subject}</span> },
            { key: 'outcome', label: t('audit.outcome'), render: (e) => <Badge value={e.outcome} /> },
            { key: 'reason', label: t('audit.reason'), render: (e) => e.reason ?? '' },
          ]}
        />
      </Card>
      <AuditVerification />
      <Dialog open={!!detail} title={t('audit.detail')} onClose={() => setDetail(undefined)}>
        {detail && (
          <>
            <dl class="facts">
              {COLUMNS.map((c) => (
                <>
                  <dt key={`${c}-t`}>{c}</dt>
                  <dd key={`${c}-d`}>{c === 'at' ? time(detail.at) : c === 'details' ? <pre>{pretty(detail.details)}</pre> : String(detail[c] ?? '—')}</dd>
                </>
              ))}
              <dt>hash</dt>
              <dd>
                <code class="kid">{detail.hash ?? '—'}</code>
              </dd>
            </dl>
            <div class="buttons">
              <button type="button" onClick={() => setDetail(undefined)} autoFocus>
                {t('close')}
              </button>
            </div>
          </>
        )}
      </Dialog>
    </Page>
  );
}

function pretty(d: AuditEvent['details']): string {
  if (d == null) return '—';
  if (typeof d !== 'string') return JSON.stringify(d, null, 2);
  try {
    return JSON.stringify(JSON.parse(d), null, 2);
  } catch {
    return d;
  }
}
