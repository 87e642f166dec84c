import { useState } from 'preact/hooks';
import { api } from '../api';
import { useAction } from '../hooks';
import { t } from '../i18n';
import { ErrorBox, Field } from '../ui';
import type { Peer } from './peers';

type Policy = Pick<Peer, 'allowedLicenceTypes' | 'allowedItems' | 'allowedRoles' | 'rateLimitPerSecond'>;
const LISTS = ['allowedLicenceTypes', 'allowedItems', 'allowedRoles'] as const;
const LABEL: Record<keyof Policy, string> = { allowedLicenceTypes: 'peers.licenceTypes', allowedItems: 'peers.items', allowedRoles: 'peers.roles', rateLimitPerSecond: 'peers.rate' };

const split = (s: string) =>
  s
    .split(/[\s,，]+/)
    .map((x) => x.trim())
    .filter(Boolean);
const show = (v: string[] | number | null | undefined) => (Array.isArray(v) ? v.join(', ') : v == null ? '—' : String(v));

/** Edits a peer's policy; the change is shown as a diff and saved only after a second confirmation. */
export function PolicyEditor(props: { peer: Peer; onDone: () => void }) {
  const p = props.peer;
  const [text, setText] = useState<Record<string, string>>({
    allowedLicenceTypes: p.allowedLicenceTypes.join('\n'),
    allowedItems: p.allowedItems.join('\n'),
    allowedRoles: p.allowedRoles.join('\n'),
    rateLimitPerSecond: p.rateLimitPerSecond == null ? '' : String(p.rateLimitPerSecond),
  });
  const [review, setReview] = useState(false);
  const act = useAction();
  const next: Policy = {
    allowedLicenceTypes: split(text.allowedLicenceTypes),
    allowedItems: split(text.allowedItems),
    allowedRoles: split(text.allowedRoles),
    rateLimitPerSecond: text.rateLimitPerSecond.trim() === '' ? null : Number(text.rateLimitPerSecond),
  };
  const changed = (Object.keys(LABEL) as (keyof Policy)[]).filter((k) => show(p[k]) !== show(next[k]));
  const patch = Object.fromEntries(changed.map((k) => [k, next[k]]));
  const save = async () => {
    if (await act.run(() => api.patch(`/admin/peers/${p.code}`, patch))) props.onDone();
  };
  return (
    <form
      class="editor"
      onSubmit={(e) => {
        e.preventDefault();
        if (review) void save();
        else setReview(true);
      }}
    >
      {!review &&
        LISTS.map((k) => (
          <Field key={k} label={t(LABEL[k])} id={`policy-${k}`} hint={t('peers.listHint')}>
            <textarea id={`policy-${k}`} rows={3} value={text[k]} onInput={(e) => setText({ ...text, [k]: e.currentTarget.value })} />
          </Field>
        ))}
      {!review && (
        <Field label={`${t('peers.rate')} (${t('unit.perS')})`} id="policy-rate" hint={t('peers.rateHint')}>
          <input id="policy-rate" type="number" min="1" max="100000" value={text.rateLimitPerSecond} onInput={(e) => setText({ ...text, rateLimitPerSecond: e.currentTarget.value })} />
        </Field>
      )}
      {review && (
        <div class="diff" aria-label={t('peers.diff')}>
          <h3>{t('peers.diff')}</h3>
          {changed.length === 0 && <p class="muted">{t('peers.noChange')}</p>}
          {changed.map((k) => (
            <div key={k} class="diff-row">
              <strong>{t(LABEL[k])}</strong>
              <del>− {show(p[k])}</del>
              <ins>+ {show(next[k])}</ins>
            </div>
          ))}
        </div>
      )}
      <ErrorBox error={act.error} />
      <div class="buttons">
        <button type="button" onClick={() => (review ? setReview(false) : props.onDone())}>
          {review ? t('back') : t('cancel')}
        </button>
        <button type="submit" class="primary" disabled={act.busy || (review && changed.length === 0)}>
          {review ? t('save') : t('peers.review')}
        </button>
      </div>
    </form>
  );
}
