import { useState } from 'preact/hooks';
import { api } from '../api';
import { useAction } from '../hooks';
import { t } from '../i18n';
import { Dialog, ErrorBox, Field } from '../ui';

/** Keys from a pasted JWK Set (`{"keys":[…]}`) or a single JWK; the server checks each key. */
export function parseJwks(text: string): unknown[] {
  const v = JSON.parse(text) as unknown;
  if (v && typeof v === 'object' && Array.isArray((v as { keys?: unknown }).keys)) return (v as { keys: unknown[] }).keys;
  if (v && typeof v === 'object' && 'kty' in v) return [v];
  throw new Error(t('peers.jwksShape'));
}

export function AddPeer(props: { open: boolean; onClose: () => void; onAdded: () => void }) {
  const [f, setF] = useState({ code: '', name: '', endpoint: '', jwks: '' });
  const act = useAction();
  const submit = async () => {
    await act.run(async () => {
      const keys = parseJwks(f.jwks);
      await api.post('/admin/peers', { code: f.code.trim(), endpoint: f.endpoint.trim(), ...(f.name.trim() ? { name: f.name.trim() } : {}), keys });
      setF({ code: '', name: '', endpoint: '', jwks: '' });
      props.onAdded();
    });
  };
  const input = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  return (
    <Dialog open={props.open} title={t('peers.add')} onClose={props.onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field label={t('peers.code')} id="add-code" hint={t('peers.codeHint')}>
          <input id="add-code" value={f.code} onInput={input('code')} required pattern="\d{6}" inputMode="numeric" />
        </Field>
        <Field label={t('peers.name')} id="add-name">
          <input id="add-name" value={f.name} onInput={input('name')} />
        </Field>
        <Field label={t('peers.endpoint')} id="add-endpoint" hint="host:port">
          <input id="add-endpoint" value={f.endpoint} onInput={input('endpoint')} required />
        </Field>
        <Field label={t('peers.jwks')} id="add-jwks" hint={t('peers.jwksHint')}>
          <textarea id="add-jwks" rows={6} value={f.jwks} onInput={input('jwks')} required spellcheck={false} />
        </Field>
        <ErrorBox error={act.error} />
        <div class="buttons">
          <button type="button" onClick={props.onClose}>
            {t('cancel')}
          </button>
          <button type="submit" class="primary" disabled={act.busy}>
            {t('peers.add')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
