import { useState } from 'preact/hooks';
import { Role, api, can } from '../api';
import { time } from '../format';
import { useAction, useLoad } from '../hooks';
import { t } from '../i18n';
import { Badge, Card, ErrorBox, Loading, Note, Page, Table } from '../ui';
import type { OutboxMessage } from './keys';

interface Transfer {
  materialId: string;
  peer: string;
  status: string;
  attempts: number;
  createdAt: string;
  deliveredAt: string | null;
  lastError: string | null;
}
interface WebhookDelivery {
  id: string;
  webhookId: string;
  eventType: string;
  status: string;
  attempts: number;
  createdAt: string;
  deliveredAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
}

const TABS = ['outbox', 'dead', 'materials', 'webhooks'] as const;
type Tab = (typeof TABS)[number];
const STATUSES = ['PENDING', 'DELIVERED', 'DEAD'];

export function DeliveryPage(props: { role: Role }) {
  const [tab, setTab] = useState<Tab>('outbox');
  const [status, setStatus] = useState('PENDING');
  const act = useAction();
  const mayRequeue = can.requeue(props.role);
  const requeue = async (path: string, reload: () => void) => {
    await act.run(() => api.post(path), t('delivery.requeued'));
    reload();
  };
  return (
    <Page title={t('nav.delivery')}>
      <div role="tablist" class="tabs" aria-label={t('nav.delivery')}>
        {TABS.map((k) => (
          <button
            key={k}
            type="button"
            role="tab"
            id={`tab-${k}`}
            aria-selected={tab === k}
            aria-controls="tabpanel"
            tabIndex={tab === k ? 0 : -1}
            onClick={() => (act.clear(), setTab(k))}
            onKeyDown={(e) => {
              const i = TABS.indexOf(tab) + (e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0);
              if (i !== TABS.indexOf(tab)) {
                const next = TABS[(i + TABS.length) % TABS.length];
                setTab(next);
                document.getElementById(`tab-${next}`)?.focus();
              }
            }}
          >
            {t(`delivery.${k}`)}
          </button>
        ))}
      </div>
      <ErrorBox error={act.error} />
      <Note text={act.note} />
      <div id="tabpanel" role="tabpanel" aria-labelledby={`tab-${tab}`}>
        {(tab === 'materials' || tab === 'webhooks' || tab === 'outbox') && (
          <div class="filters inline">
            <label for="status-filter">{t('status')}</label>
            <select id="status-filter" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {t(`status.${s}`)}
                </option>
              ))}
            </select>
          </div>
        )}
        {tab === 'outbox' && <Outbox status={status} mayRequeue={mayRequeue} requeue={requeue} />}
        {tab === 'dead' && <Outbox status="DEAD" mayRequeue={mayRequeue} requeue={requeue} />}
        {tab === 'materials' && <Materials status={status} mayRequeue={mayRequeue} requeue={requeue} />}
        {tab === 'webhooks' && <Webhooks status={status} mayRequeue={mayRequeue} requeue={requeue} />}
      </div>
    </Page>
  );
}

type Requeue = (path: string, reload: () => void) => Promise<void>;

function Outbox(props: { status: string; mayRequeue: boolean; requeue: Requeue }) {
  const l = useLoad((s) => api.get<{ messages: OutboxMessage[] }>(`/admin/outbox?status=${props.status}&limit=500`, s), [props.status], 5000);
  return (
    <Card title={props.status === 'DEAD' ? t('delivery.dead') : t('delivery.outbox')}>
      <ErrorBox error={l.error} />
      <Loading loading={l.loading && !l.data} />
      <Table<OutboxMessage>
        caption={t('delivery.outbox')}
        rows={l.data?.messages}
        rowKey={(m) => m.id}
        columns={[
          { key: 'created', label: t('delivery.created'), render: (m) => time(m.createdAt) },
          { key: 'peer', label: t('peer'), render: (m) => m.peer },
          { key: 'type', label: t('delivery.type'), render: (m) => <span class="clip">{m.type.replace('tongban.federation.v1.', '')}</span> },
          { key: 'status', label: t('status'), render: (m) => <Badge value={m.status} /> },
          { key: 'attempts', label: t('delivery.attempts'), render: (m) => `${m.attempts} ${t('unit.times')}`, class: 'num' },
          { key: 'error', label: t('delivery.lastError'), render: (m) => <span class="clip">{[m.deadReason, m.failureCode, m.lastError].filter(Boolean).join(' · ')}</span> },
          ...(props.mayRequeue
            ? [
                {
                  key: 'act',
                  label: t('actions'),
                  render: (m: OutboxMessage) => m.status === 'DEAD' && <RequeueButton onClick={() => void props.requeue(`/admin/outbox/${m.id}/requeue`, l.reload)} />,
                },
              ]
            : []),
        ]}
      />
    </Card>
  );
}

function Materials(props: { status: string; mayRequeue: boolean; requeue: Requeue }) {
  const l = useLoad((s) => api.get<{ transfers: Transfer[] }>(`/admin/material-transfers?status=${props.status}&limit=500`, s), [props.status], 5000);
  return (
    <Card title={t('delivery.materials')}>
      <ErrorBox error={l.error} />
      <Table<Transfer>
        caption={t('delivery.materials')}
        rows={l.data?.transfers}
        rowKey={(m) => `${m.materialId}/${m.peer}`}
        columns={[
          { key: 'created', label: t('delivery.created'), render: (m) => time(m.createdAt) },
          { key: 'material', label: t('delivery.material'), render: (m) => <code>{m.materialId}</code> },
          { key: 'peer', label: t('peer'), render: (m) => m.peer },
          { key: 'status', label: t('status'), render: (m) => <Badge value={m.status} /> },
          { key: 'attempts', label: t('delivery.attempts'), render: (m) => `${m.attempts} ${t('unit.times')}`, class: 'num' },
          { key: 'error', label: t('delivery.lastError'), render: (m) => <span class="clip">{m.lastError ?? ''}</span> },
          ...(props.mayRequeue
            ? [
                {
                  key: 'act',
                  label: t('actions'),
                  render: (m: Transfer) =>
                    m.status === 'DEAD' && <RequeueButton onClick={() => void props.requeue(`/admin/material-transfers/${encodeURIComponent(m.materialId)}/${m.peer}/requeue`, l.reload)} />,
                },
              ]
            : []),
        ]}
      />
    </Card>
  );
}

function Webhooks(props: { status: string; mayRequeue: boolean; requeue: Requeue }) {
  const l = useLoad((s) => api.get<{ deliveries: WebhookDelivery[] }>(`/admin/webhook-deliveries?status=${props.status}&limit=500`, s), [props.status], 5000);
  return (
    <Card title={t('delivery.webhooks')}>
      <ErrorBox error={l.error} />
      <Table<WebhookDelivery>
        caption={t('delivery.webhooks')}
        rows={l.data?.deliveries}
        rowKey={(d) => d.id}
        columns={[
          { key: 'created', label: t('delivery.created'), render: (d) => time(d.createdAt) },
          { key: 'event', label: t('delivery.type'), render: (d) => d.eventType },
          { key: 'status', label: t('status'), render: (d) => <Badge value={d.status} /> },
          { key: 'attempts', label: t('delivery.attempts'), render: (d) => `${d.attempts} ${t('unit.times')}`, class: 'num' },
          { key: 'error', label: t('delivery.lastError'), render: (d) => <span class="clip">{[d.lastStatus ? `HTTP ${d.lastStatus}` : '', d.lastError].filter(Boolean).join(' · ')}</span> },
          ...(props.mayRequeue
            ? [
                {
                  key: 'act',
                  label: t('actions'),
                  render: (d: WebhookDelivery) => d.status === 'DEAD' && <RequeueButton onClick={() => void props.requeue(`/admin/webhook-deliveries/${d.id}/requeue`, l.reload)} />,
                },
              ]
            : []),
        ]}
      />
    </Card>
  );
}

function RequeueButton(props: { onClick: () => void }) {
  return (
    <button type="button" onClick={props.onClick} data-testid="requeue">
      {t('delivery.requeue')}
    </button>
  );
}
