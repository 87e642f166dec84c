import { useState } from 'preact/hooks';
import { Role, api, can } from '../api';
import { time } from '../format';
import { useAction, useLoad } from '../hooks';
import { t } from '../i18n';
import { Badge, Card, Dialog, ErrorBox, Field, Loading, Note, Page, Table } from '../ui';

interface Client {
  id: string;
  name: string;
  kind: 'SYSTEM' | 'ADMIN';
  scopes: string[] | null;
  role: string | null;
  createdAt: string;
  disabledAt: string | null;
}
const SCOPES = ['verify', 'cases', 'tasks'];
const ROLES = ['admin', 'operator', 'auditor'];

export function ClientsPage(props: { role: Role }) {
  const l = useLoad((s) => api.get<{ clients: Client[] }>('/admin/clients', s), []);
  const act = useAction();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ name: string; token: string }>();
  const [disabling, setDisabling] = useState<Client>();
  const [form, setForm] = useState({ name: '', kind: 'SYSTEM', scopes: ['verify'] as string[], role: 'auditor' });
  const admin = can.manageClients(props.role);
  const create = async () => {
    let token = '';
    const ok = await act.run(async () => {
      const body = form.kind === 'SYSTEM' ? { kind: 'SYSTEM', name: form.name, scopes: form.scopes } : { kind: 'ADMIN', name: form.name, role: form.role };
      token = (await api.post<{ token: string }>('/admin/clients', body)).token;
    });
    if (ok) {
      setCreating(false);
      setCreated({ name: form.name, token });
      l.reload();
    }
  };
  const disable = async () => {
    if (!disabling) return;
    if (await act.run(() => api.post(`/admin/clients/${disabling.id}/disable`), t('clients.disabled'))) setDisabling(undefined);
    l.reload();
  };
  return (
    <Page
      title={t('nav.clients')}
      actions={
        admin && (
          <button type="button" class="primary" onClick={() => (act.clear(), setCreating(true))}>
            {t('clients.create')}
          </button>
        )
      }
    >
      <ErrorBox error={act.error ?? l.error} />
      <Note text={act.note} />
      {created && (
        <div class="warn-box" role="alert" data-testid="new-token">
          <p>{t('clients.tokenOnce', { name: created.name })}</p>
          <code class="token">{created.token}</code>
          <button type="button" onClick={() => setCreated(undefined)}>
            {t('clients.stored')}
          </button>
        </div>
      )}
      <Loading loading={l.loading && !l.data} />
      <Card>
        <Table<Client>
          caption={t('nav.clients')}
          rows={l.data?.clients}
          rowKey={(c) => c.id}
          columns={[
            { key: 'name', label: t('clients.name'), render: (c) => c.name },
            { key: 'kind', label: t('clients.kind'), render: (c) => t(`clients.kind.${c.kind}`) },
            { key: 'rights', label: t('clients.rights'), render: (c) => (c.kind === 'ADMIN' ? t(`role.${c.role ?? ''}`) : (c.scopes ?? []).join(', ')) },
            { key: 'created', label: t('keys.created'), render: (c) => time(c.createdAt) },
            { key: 'status', label: t('status'), render: (c) => (c.disabledAt ? <Badge value="disabled" /> : <Badge value="ACTIVE" />) },
            ...(admin
              ? [
                  {
                    key: 'act',
                    label: t('actions'),
                    render: (c: Client) =>
                      !c.disabledAt && (
                        <button type="button" class="danger" onClick={() => setDisabling(c)} aria-label={`${t('clients.disable')} ${c.name}`}>
                          {t('clients.disable')}
                        </button>
                      ),
                  },
                ]
              : []),
          ]}
        />
      </Card>
      <Dialog open={creating} title={t('clients.create')} onClose={() => setCreating(false)}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <Field label={t('clients.name')} id="client-name" hint={t('clients.nameHint')}>
            <input id="client-name" value={form.name} pattern="[A-Za-z0-9_\-]{1,64}" required onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
          </Field>
          <Field label={t('clients.kind')} id="client-kind">
            <select id="client-kind" value={form.kind} onChange={(e) => setForm({ ...form, kind: e.currentTarget.value })}>
              <option value="SYSTEM">{t('clients.kind.SYSTEM')}</option>
              <option value="ADMIN">{t('clients.kind.ADMIN')}</option>
            </select>
          </Field>
          {form.kind === 'SYSTEM' ? (
            <fieldset>
              <legend>{t('clients.scopes')}</legend>
              {SCOPES.map((s) => (
                <label key={s} class="check">
                  <input
                    type="checkbox"
                    checked={form.scopes.includes(s)}
                    onChange={(e) => setForm({ ...form, scopes: e.currentTarget.checked ? [...form.scopes, s] : form.scopes.filter((x) => x !== s) })}
                  />{' '}
                  {s}
                </label>
              ))}
            </fieldset>
          ) : (
            <Field label={t('clients.role')} id="client-role">
              <select id="client-role" value={form.role} onChange={(e) => setForm({ ...form, role: e.currentTarget.value })}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {t(`role.${r}`)}
                  </option>
                ))}
              </select>
            </Field>
          )}
          <ErrorBox error={act.error} />
          <div class="buttons">
            <button type="button" onClick={() => setCreating(false)}>
              {t('cancel')}
            </button>
            <button type="submit" class="primary" disabled={act.busy}>
              {t('clients.create')}
            </button>
          </div>
        </form>
      </Dialog>
      <Dialog open={!!disabling} title={t('clients.disable')} onClose={() => setDisabling(undefined)}>
        <p>{t('clients.disable.explain', { name: disabling?.name ?? '' })}</p>
        <div class="buttons">
          <button type="button" onClick={() => setDisabling(undefined)}>
            {t('cancel')}
          </button>
          <button type="button" class="danger" onClick={() => void disable()} disabled={act.busy}>
            {t('clients.disable')}
          </button>
        </div>
      </Dialog>
    </Page>
  );
}
