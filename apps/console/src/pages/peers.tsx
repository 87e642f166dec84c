import { useState } from 'preact/hooks';
import { Role, api, can } from '../api';
import { num, time } from '../format';
import { useAction, useLoad } from '../hooks';
import { t } from '../i18n';
import { onLink } from '../router';
import { Badge, Card, ErrorBox, Loading, Note, Page, Table } from '../ui';
import { AddPeer } from './peer-add';
import { PolicyEditor } from './peer-policy';

export interface Peer {
  code: string;
  name: string;
  endpoint: string;
  status: string;
  allowedLicenceTypes: string[];
  allowedItems: string[];
  allowedRoles: string[];
  rateLimitPerSecond: number | null;
  allowedAlgs: string[] | null;
  keys: { kid: string; alg: string; status: string; addedAt: string }[];
}
interface Participant {
  code: string;
  tlsCaSha256: string | null;
}

export function PeersPage(props: { role: Role; code: string }) {
  return props.code ? <PeerDetail role={props.role} code={props.code} /> : <PeerList role={props.role} />;
}

function PeerList(props: { role: Role }) {
  const peers = useLoad((s) => api.get<{ peers: Peer[] }>('/admin/peers', s), []);
  const [adding, setAdding] = useState(false);
  return (
    <Page
      title={t('nav.peers')}
      actions={
        can.editPeers(props.role) && (
          <button type="button" class="primary" onClick={() => setAdding(true)}>
            {t('peers.add')}
          </button>
        )
      }
    >
      <ErrorBox error={peers.error} />
      <Loading loading={peers.loading && !peers.data} />
      <AddPeer open={adding} onClose={() => setAdding(false)} onAdded={() => (setAdding(false), peers.reload())} />
      <Table<Peer>
        caption={t('nav.peers')}
        rows={peers.data?.peers}
        rowKey={(p) => p.code}
        columns={[
          {
            key: 'code',
            label: t('peer'),
            render: (p) => (
              <a href={`/console/peers/${p.code}`} onClick={(e) => onLink(e, `peers/${p.code}`)}>
                {p.name} <span class="muted">{p.code}</span>
              </a>
            ),
          },
          { key: 'endpoint', label: t('peers.endpoint'), render: (p) => <code>{p.endpoint}</code> },
          { key: 'status', label: t('status'), render: (p) => <Badge value={p.status} /> },
          { key: 'keys', label: t('peers.keys'), render: (p) => `${p.keys.filter((k) => k.status === 'ACTIVE').length} / ${p.keys.length}` },
          { key: 'rate', label: t('peers.rate'), render: (p) => (p.rateLimitPerSecond == null ? t('peers.unlimited') : `${num(p.rateLimitPerSecond)} ${t('unit.perS')}`) },
        ]}
      />
    </Page>
  );
}

function PeerDetail(props: { role: Role; code: string }) {
  const peer = useLoad((s) => api.get<Peer>(`/admin/peers/${encodeURIComponent(props.code)}`, s), [props.code]);
  const dir = useLoad((s) => api.get<{ participants: Participant[] }>('/admin/directory', s), []);
  const act = useAction();
  const [editing, setEditing] = useState(false);
  const p = peer.data;
  const admin = can.editPeers(props.role);
  const pin = dir.data?.participants?.find((x) => x.code === props.code)?.tlsCaSha256 ?? null;
  const setStatus = async (status: 'ACTIVE' | 'SUSPENDED') => {
    await act.run(() => api.patch(`/admin/peers/${props.code}`, { status }), status === 'SUSPENDED' ? t('peers.suspended') : t('peers.resumed'));
    peer.reload();
  };
  return (
    <Page
      title={`${t('peer')} ${p?.name ?? ''} ${props.code}`}
      actions={
        <>
          <a href="/console/peers" class="button" onClick={(e) => onLink(e, 'peers')}>
            ← {t('back')}
          </a>
          {admin && p && p.status === 'ACTIVE' && (
            <button type="button" class="danger" onClick={() => void setStatus('SUSPENDED')} disabled={act.busy} data-testid="suspend">
              {t('peers.suspend')}
            </button>
          )}
          {admin && p && p.status === 'SUSPENDED' && (
            <button type="button" class="primary" onClick={() => void setStatus('ACTIVE')} disabled={act.busy} data-testid="resume">
              {t('peers.resume')}
            </button>
          )}
        </>
      }
    >
      <ErrorBox error={act.error ?? peer.error} />
      <Note text={act.note} />
      <Loading loading={peer.loading && !p} />
      {p && (
        <>
          <Card title={t('peers.detail')}>
            <dl class="facts">
              <dt>{t('status')}</dt>
              <dd data-testid="peer-status">
                <Badge value={p.status} />
              </dd>
              <dt>{t('peers.endpoint')}</dt>
              <dd>
                <code>{p.endpoint}</code>
              </dd>
              <dt>{t('peers.tlsPin')}</dt>
              <dd>{pin ? <code class="kid">{pin}</code> : <span class="muted">{t('peers.noPin')}</span>}</dd>
              <dt>{t('peers.algs')}</dt>
              <dd>{p.allowedAlgs?.join(', ') ?? t('peers.anyAlg')}</dd>
            </dl>
          </Card>
          <Card title={t('peers.policy')}>
            <dl class="facts">
              <dt>{t('peers.licenceTypes')}</dt>
              <dd>{p.allowedLicenceTypes.join(', ')}</dd>
              <dt>{t('peers.items')}</dt>
              <dd>{p.allowedItems.join(', ')}</dd>
              <dt>{t('peers.roles')}</dt>
              <dd>{p.allowedRoles.join(', ')}</dd>
              <dt>{t('peers.rate')}</dt>
              <dd>{p.rateLimitPerSecond == null ? t('peers.unlimited') : `${num(p.rateLimitPerSecond)} ${t('unit.perS')}`}</dd>
            </dl>
            {admin && !editing && (
              <button type="button" onClick={() => setEditing(true)}>
                {t('peers.editPolicy')}
              </button>
            )}
            {editing && <PolicyEditor peer={p} onDone={() => (setEditing(false), peer.reload())} />}
          </Card>
          <Card title={t('peers.keys')}>
            <Table
              caption={t('peers.keys')}
              rows={p.keys}
              rowKey={(k) => k.kid}
              columns={[
                { key: 'kid', label: 'kid', render: (k) => <code class="kid">{k.kid}</code> },
                { key: 'alg', label: t('keys.alg'), render: (k) => k.alg },
                { key: 'status', label: t('status'), render: (k) => <Badge value={k.status} /> },
                { key: 'added', label: t('peers.added'), render: (k) => time(k.addedAt) },
              ]}
            />
          </Card>
        </>
      )}
    </Page>
  );
}
