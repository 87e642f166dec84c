import { api } from '../api';
import { time } from '../format';
import { useLoad } from '../hooks';
import { t } from '../i18n';
import { Badge, Card, ErrorBox, Loading, Page, Table } from '../ui';
import type { AuditEvent } from './audit';

interface DirectoryView {
  mode: string;
  serial: number | null;
  notAfter: string | null;
  graceUntil: string | null;
  lastError: { code?: string; message?: string } | string | null;
  source: string | null;
  anchorKid: string | null;
  anchorKids?: string[];
  issuedAt: string | null;
  appliedAt: string | null;
  lastCheckAt: string | null;
  participants: { code: string; name: string; endpoint: string; status: string; keys: { kid: string; status: string }[]; tlsCaSha256: string | null }[];
}

const details = (e: AuditEvent | undefined): Record<string, string | number | undefined> => {
  if (!e?.details) return {};
  if (typeof e.details === 'object') return e.details as Record<string, string | number>;
  try {
    return JSON.parse(e.details) as Record<string, string | number>;
  } catch {
    return {};
  }
};

export function DirectoryPage() {
  const dir = useLoad((s) => api.get<DirectoryView>('/admin/directory', s), []);
  const applied = useLoad((s) => api.get<{ events: AuditEvent[] }>('/admin/console/audit?event=directory.applied&limit=2', s), []);
  const d = dir.data;
  const last = applied.data?.events[0];
  const change = details(last);
  const err = d?.lastError;
  return (
    <Page title={t('nav.directory')}>
      <ErrorBox error={dir.error} />
      <Loading loading={dir.loading && !d} />
      {d && (
        <>
          <Card title={t('directory.current')}>
            <dl class="facts">
              <dt>{t('directory.mode')}</dt>
              <dd>
                <Badge value={d.mode} />
              </dd>
              <dt>{t('directory.serial')}</dt>
              <dd>{d.serial ?? '—'}</dd>
              <dt>{t('directory.signer')}</dt>
              <dd>{d.anchorKid ? <code class="kid">{d.anchorKid}</code> : '—'}</dd>
              <dt>{t('directory.issued')}</dt>
              <dd>{time(d.issuedAt)}</dd>
              <dt>{t('directory.applied')}</dt>
              <dd>{time(d.appliedAt)}</dd>
              <dt>{t('directory.notAfter')}</dt>
              <dd>{time(d.notAfter)}</dd>
              <dt>{t('directory.grace')}</dt>
              <dd>{time(d.graceUntil)}</dd>
              <dt>{t('directory.lastCheck')}</dt>
              <dd>{time(d.lastCheckAt)}</dd>
              <dt>{t('directory.source')}</dt>
              <dd>{d.source ? <code>{d.source}</code> : '—'}</dd>
              {err && (
                <>
                  <dt>{t('directory.lastError')}</dt>
                  <dd class="error">{typeof err === 'string' ? err : `${err.code ?? ''} ${err.message ?? ''}`}</dd>
                </>
              )}
            </dl>
          </Card>
          <Card title={t('directory.changes')}>
            {!last && <p class="muted">{t('directory.noChanges')}</p>}
            {last && (
              <dl class="facts">
                <dt>{t('directory.serial')}</dt>
                <dd>
                  {String(change.serial ?? '—')} · {time(last.at)}
                </dd>
                <dt>{t('directory.added')}</dt>
                <dd>{String(change.added || '—')}</dd>
                <dt>{t('directory.updated')}</dt>
                <dd>{String(change.updated || '—')}</dd>
                <dt>{t('directory.keysAdded')}</dt>
                <dd>{String(change.keysAdded ?? 0)}</dd>
                <dt>{t('directory.keysChanged')}</dt>
                <dd>{String(change.keysChanged ?? 0)}</dd>
                {change.skipped != null && (
                  <>
                    <dt>{t('directory.skipped')}</dt>
                    <dd>{String(change.skipped)}</dd>
                  </>
                )}
              </dl>
            )}
          </Card>
          <Card title={t('directory.participants')}>
            <Table
              caption={t('directory.participants')}
              rows={d.participants}
              rowKey={(p) => p.code}
              columns={[
                { key: 'code', label: t('peer'), render: (p) => `${p.name} ${p.code}` },
                { key: 'endpoint', label: t('peers.endpoint'), render: (p) => <code>{p.endpoint}</code> },
                { key: 'status', label: t('status'), render: (p) => <Badge value={p.status} /> },
                { key: 'keys', label: t('peers.keys'), render: (p) => p.keys.map((k) => `${k.kid.slice(0, 10)}… ${k.status}`).join(', ') },
                { key: 'pin', label: t('peers.tlsPin'), render: (p) => (p.tlsCaSha256 ? <code class="kid">{p.tlsCaSha256.slice(0, 16)}…</code> : '—') },
              ]}
            />
          </Card>
        </>
      )}
    </Page>
  );
}
