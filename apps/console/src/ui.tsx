// Small building blocks shared by the pages: tables, status badges, errors, confirmation dialogs.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { ApiError } from './api';
import { t } from './i18n';

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title" tabIndex={-1}>
          {props.title}
        </h1>
        <div class="page-actions">{props.actions}</div>
      </header>
      {props.children}
    </section>
  );
}

export function Card(props: { title?: string; children: ComponentChildren; class?: string; id?: string }) {
  return (
    <section class={`card ${props.class ?? ''}`} id={props.id} aria-label={props.title}>
      {props.title && <h2>{props.title}</h2>}
      {props.children}
    </section>
  );
}

export function ErrorBox(props: { error?: Error }) {
  if (!props.error) return null;
  const e = props.error;
  const code = e instanceof ApiError ? `${e.status} ${e.code}` : '';
  return (
    <p class="error" role="alert">
      {t('error')}: {code && <code>{code}</code>} {e.message}
    </p>
  );
}

export function Note(props: { text?: string }) {
  return props.text ? (
    <p class="note" role="status">
      {props.text}
    </p>
  ) : null;
}

export function Loading(props: { loading: boolean; empty?: boolean }) {
  if (props.loading) return <p class="muted">{t('loading')}</p>;
  if (props.empty) return <p class="muted">{t('empty')}</p>;
  return null;
}

const TONE: Record<string, string> = {
  ACTIVE: 'ok',
  DELIVERED: 'ok',
  OK: 'ok',
  ok: 'ok',
  PROVEN: 'ok',
  COMPLETED: 'ok',
  NEXT: 'info',
  PENDING: 'info',
  OPEN: 'info',
  RETIRED: 'muted',
  CANCELLED: 'muted',
  SUSPENDED: 'warn',
  degraded: 'warn',
  NOT_PROVEN: 'warn',
  warning: 'warn',
  REVOKED: 'bad',
  DEAD: 'bad',
  REFUSED: 'bad',
  TAMPERED: 'bad',
  expired: 'bad',
  critical: 'bad',
  error: 'bad',
};

/** A status word with a colour and a text (never colour alone). */
export function Badge(props: { value: string | null | undefined }) {
  const v = props.value ?? '—';
  return <span class={`badge ${TONE[v] ?? ''}`}>{t(`status.${v}`) === `status.${v}` ? v : t(`status.${v}`)}</span>;
}

export interface Column<T> {
  key: string;
  label: string;
  render: (row: T) => ComponentChildren;
  class?: string;
}

export function Table<T>(props: { rows: T[] | undefined; columns: Column<T>[]; rowKey: (r: T) => string; caption: string; onRow?: (r: T) => void; selected?: string }) {
  const rows = props.rows ?? [];
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col" key={c.key} class={c.class}>
                {c.label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={props.columns.length} class="muted">
                {t('empty')}
              </td>
            </tr>
          )}
          {rows.map((r) => {
            const k = props.rowKey(r);
            return (
              <tr key={k} class={props.selected === k ? 'selected' : undefined} data-row={k}>
                {props.columns.map((c) => (
                  <td key={c.key} class={c.class}>
                    {c.render(r)}
                  </td>
                ))}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** A modal dialog (native <dialog>: focus stays inside, Esc closes). */
export function Dialog(props: { open: boolean; title: string; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="dialog-title" onClose={props.onClose} onCancel={props.onClose}>
      <h2 id="dialog-title">{props.title}</h2>
      {props.open && props.children}
    </dialog>
  );
}

export function Field(props: { label: string; id: string; children: ComponentChildren; hint?: string }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && (
        <small class="muted" id={`${props.id}-hint`}>
          {props.hint}
        </small>
      )}
    </div>
  );
}

/** Offers `rows` for download as a file (no server round trip). */
export function download(name: string, type: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
