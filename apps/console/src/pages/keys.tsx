import { useState } from 'preact/hooks';
import { Role, api, can } from '../api';
import { time } from '../format';
import { useAction, useLoad } from '../hooks';
import { t } from '../i18n';
import { Badge, Card, Dialog, ErrorBox, Field, Loading, Note, Page, Table } from '../ui';

interface Key {
  kid: string;
  alg: string;
  status: string;
  createdAt: string;
  activatedAt: string | null;
  retiredAt: string | null;
  revokedAt: string | null;
  revocationReason: string | null;
}
export interface OutboxMessage {
  id: string;
  peer: string;
  stream: string;
  type: string;
  status: string;
  attempts: number;
  createdAt: string;
  deliveredAt: string | null;
  lastError: string | null;
  failureCode: string | null;
  deadReason: string | null;
}
const KEY_ANNOUNCEMENT = 'tongban.federation.v1.KeyAnnouncement';

/** Key announcements in the outbox, per peer: delivered, pending, dead, and the newest one's status. */
async function announcements(signal: AbortSignal) {
  const lists = await Promise.all(['PENDING', 'DELIVERED', 'DEAD'].map((s) => api.get<{ messages: OutboxMessage[] }>(`/admin/outbox?status=${s}&limit=1000`, signal)));
  const msgs = lists.flatMap((l) => l.messages).filter((m) => m.type === KEY_ANNOUNCEMENT);
  const peers = new Map<string, { peer: string; delivered: number; pending: number; dead: number; latest: OutboxMessage }>();
  for (const m of msgs) {
    const p = peers.get(m.peer) ?? { peer: m.peer, delivered: 0, pending: 0, dead: 0, latest: m };
    if (m.status === 'DELIVERED') p.delivered++;
    else if (m.status === 'DEAD') p.dead++;
    else p.pending++;
    if (m.createdAt >= p.latest.createdAt) p.latest = m;
    peers.set(m.peer, p);
  }
  return [...peers.values()].sort((a, b) => a.peer.localeCompare(b.peer));
}

export function KeysPage(props: { role: Role }) {
  const keys = useLoad((s) => api.get<{ keys: Key[] }>('/admin/keys', s), []);
  const ann = useLoad(announcements, [], 3000);
  const act = useAction();
  const [rotating, setRotating] = useState(false);
  const [overlap, setOverlap] = useState('24');
  const [revoking, setRevoking] = useState<Key>();
  const [typed, setTyped] = useState('');
  const [reason, setReason] = useState('');
  const admin = can.rotateKeys(props.role);

  const rotate = async () => {
    const ok = await act.run(() => api.post('/admin/keys/rotate', { overlapHours: Number(overlap) }), t('keys.rotated'));
    if (ok) setRotating(false);
    keys.reload();
    ann.reload();
  };
  const revoke = async () => {
    if (!revoking) return;
    const ok = await act.run(() => api.post(`/admin/keys/${encodeURIComponent(revoking.kid)}/revoke`, { reason }), t('keys.revoked'));
    if (ok) setRevoking(undefined);
    keys.reload();
    ann.reload();
  };

  return (
    <Page
      title={t('nav.keys')}
      actions={
        admin && (
          <button type="button" class="primary" onClick={() => (act.clear(), setRotating(true))} data-testid="rotate">
            {t('keys.rotate')}
          </button>
        )
      }
    >
      <ErrorBox error={act.error ?? keys.error} />
      <Note text={act.note} />
      <Card title={t('keys.own')}>
        <Loading loading={keys.loading && !keys.data} />
        <Table<Key>
          caption={t('keys.own')}
          rows={keys.data?.keys}
          rowKey={(k) => k.kid}
          columns={[
            { key: 'kid', label: 'kid', render: (k) => <code class="kid">{k.kid}</code> },
            { key: 'alg', label: t('keys.alg'), render: (k) => k.alg },
            { key: 'status', label: t('status'), render: (k) => <Badge value={k.status} /> },
            { key: 'created', label: t('keys.created'), render: (k) => time(k.createdAt) },
            { key: 'activated', label: t('keys.activated'), render: (k) => time(k.activatedAt) },
            { key: 'retired', label: t('keys.retired'), render: (k) => time(k.retiredAt ?? k.revokedAt) },
            ...(admin
              ? [
                  {
                    key: 'act',
                    label: t('actions'),
                    render: (k: Key) =>
                      k.status !== 'REVOKED' && (
                        <button type="button" class="danger" onClick={() => (act.clear(), setTyped(''), setReason(''), setRevoking(k))} aria-label={`${t('keys.revoke')} ${k.kid}`}>
                          {t('keys.revoke')}
                        </button>
                      ),
                  },
                ]
              : []),
          ]}
        />
      </Card>
      <Card title={t('keys.announcements')} id="announcements">
        <p class="muted">{t('keys.announcements.hint')}</p>
        <ErrorBox error={ann.error} />
        <Table
          caption={t('keys.announcements')}
          rows={ann.data}
          rowKey={(p) => p.peer}
          columns={[
            { key: 'peer', label: t('peer'), render: (p) => p.peer },
            { key: 'latest', label: t('keys.latest'), render: (p) => <Badge value={p.latest.status} /> },
            { key: 'at', label: t('time'), render: (p) => time(p.latest.deliveredAt ?? p.latest.createdAt) },
            { key: 'delivered', label: t('status.DELIVERED'), render: (p) => p.delivered },
            { key: 'pending', label: t('status.PENDING'), render: (p) => p.pending },
            { key: 'dead', label: t('status.DEAD'), render: (p) => p.dead },
          ]}
        />
      </Card>
      <Dialog open={rotating} title={t('keys.rotate')} onClose={() => setRotating(false)}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void rotate();
          }}
        >
          <p>{t('keys.rotate.explain')}</p>
          <Field label={t('keys.overlap')} id="overlap" hint={t('keys.overlap.hint')}>
            <input id="overlap" type="number" min="0" max="720" step="any" value={overlap} onInput={(e) => setOverlap(e.currentTarget.value)} required />
          </Field>
          <ErrorBox error={act.error} />
          <div class="buttons">
            <button type="button" onClick={() => setRotating(false)}>
              {t('cancel')}
            </button>
            <button type="submit" class="primary" disabled={act.busy}>
              {t('keys.rotate.confirm')}
            </button>
          </div>
        </form>
      </Dialog>
      <Dialog open={!!revoking} title={t('keys.revoke')} onClose={() => setRevoking(undefined)}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void revoke();
          }}
        >
          <p class="warn-box">{t('keys.revoke.explain')}</p>
          <Field label={t('keys.revoke.type', { kid: revoking?.kid ?? '' })} id="revoke-kid">
            <input id="revoke-kid" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} autoComplete="off" spellcheck={false} />
          </Field>
          <Field label={t('keys.revoke.reason')} id="revoke-reason">
            <input id="revoke-reason" value={reason} maxLength={200} onInput={(e) => setReason(e.currentTarget.value)} required />
          </Field>
          <ErrorBox error={act.error} />
          <div class="buttons">
            <button type="button" onClick={() => setRevoking(undefined)}>
              {t('cancel')}
            </button>
            <button type="submit" class="danger" disabled={act.busy || typed !== revoking?.kid || !reason.trim()}>
              {t('keys.revoke.confirm')}
            </button>
          </div>
        </form>
      </Dialog>
    </Page>
  );
}
