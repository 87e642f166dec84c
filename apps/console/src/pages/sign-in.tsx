import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError, Session, signIn } from '../api';
import { t } from '../i18n';

/** Sign-in with an admin client's token; the server turns it into a session cookie. */
export function SignIn(props: { expired: boolean; langButton: ComponentChildren; onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const s = await signIn(token.trim());
      setToken('');
      props.onSignedIn(s);
    } catch (err) {
      const code = err instanceof ApiError ? err.code : '';
      setError(code === 'RATE_LIMITED' ? t('signIn.rateLimited') : code === 'UNAUTHENTICATED' ? t('signIn.bad') : `${t('error')}: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in" id="main">
      <form class="card" onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
        <div class="sign-in-head">
          <h1 id="sign-in-title">
            <span class="logo" aria-hidden="true">
              通
            </span>
            {t('app.title')}
          </h1>
          {props.langButton}
        </div>
        {props.expired && (
          <p class="warn-box" role="alert" data-testid="expired">
            {t('signIn.expired')}
          </p>
        )}
        <label for="token">{t('signIn.token')}</label>
        <input id="token" name="token" type="password" autoComplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} aria-describedby="token-hint" autoFocus />
        <small id="token-hint" class="muted">
          {t('signIn.hint')}
        </small>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || !token.trim()}>
          {t('signIn.submit')}
        </button>
      </form>
    </main>
  );
}
