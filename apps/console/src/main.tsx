import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { Session, currentSession, signOut, useSession } from './api';
import { zoneName } from './format';
import { Lang, lang, setLang, t } from './i18n';
import { AuditPage } from './pages/audit';
import { CasesPage } from './pages/cases';
import { ClientsPage } from './pages/clients';
import { DeliveryPage } from './pages/delivery';
import { DirectoryPage } from './pages/directory';
import { KeysPage } from './pages/keys';
import { OverviewPage } from './pages/overview';
import { PeersPage } from './pages/peers';
import { SignIn } from './pages/sign-in';
import { BASE, onLink, usePath } from './router';

const PAGES = [
  { path: 'overview', label: 'nav.overview' },
  { path: 'keys', label: 'nav.keys' },
  { path: 'peers', label: 'nav.peers' },
  { path: 'directory', label: 'nav.directory' },
  { path: 'audit', label: 'nav.audit' },
  { path: 'delivery', label: 'nav.delivery' },
  { path: 'cases', label: 'nav.cases' },
  { path: 'clients', label: 'nav.clients' },
];

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [expired, setExpired] = useState(false);
  const [, setLangTick] = useState<Lang>(lang());
  const path = usePath();
  const [section, ...rest] = path.split('/');
  const sub = rest.join('/');

  const onExpired = useCallback(() => {
    setSession(null);
    setExpired(true);
  }, []);
  useSession(session ?? null, onExpired);

  useEffect(() => {
    currentSession().then(setSession, () => setSession(null));
  }, []);
  useEffect(() => {
    document.title = `${t('app.title')} · ${t(PAGES.find((p) => p.path === section)?.label ?? 'nav.overview')}`;
    document.getElementById('page-title')?.focus();
  }, [section, session]);

  const switchLang = () => {
    setLang(lang() === 'zh' ? 'en' : 'zh');
    setLangTick(lang());
  };
  const langButton = (
    <button type="button" class="link" onClick={switchLang} lang={lang() === 'zh' ? 'en' : 'zh-CN'} data-testid="lang">
      {lang() === 'zh' ? 'English' : '中文'}
    </button>
  );

  if (session === undefined) return <p class="muted boot">{t('loading')}</p>;
  if (session === null)
    return (
      <SignIn
        expired={expired}
        langButton={langButton}
        onSignedIn={(s) => {
          setExpired(false);
          setSession(s);
        }}
      />
    );

  const role = session.client.role;
  const current = PAGES.some((p) => p.path === section) ? section : 'overview';
  const doSignOut = async () => {
    try {
      await signOut();
    } finally {
      setSession(null);
    }
  };
  return (
    <div class="shell">
      <a class="skip" href="#main">
        {t('skip')}
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">
            通
          </span>
          {t('app.title')}
        </div>
        <div class="who">
          <span data-testid="who">
            {session.client.name} · <span class={`role role-${role}`}>{t(`role.${role}`)}</span>
          </span>
          <span class="muted" title={t('zone.hint')}>
            {t('zone')}: {zoneName()}
          </span>
          {langButton}
          <button type="button" class="link" onClick={() => void doSignOut()}>
            {t('signOut')}
          </button>
        </div>
      </header>
      <nav class="side" aria-label={t('nav.label')}>
        <ul>
          {PAGES.map((p) => (
            <li key={p.path}>
              <a href={BASE + p.path} aria-current={current === p.path ? 'page' : undefined} onClick={(e) => onLink(e, p.path)}>
                {t(p.label)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">
        {current === 'overview' && <OverviewPage />}
        {current === 'keys' && <KeysPage role={role} />}
        {current === 'peers' && <PeersPage role={role} code={sub} />}
        {current === 'directory' && <DirectoryPage />}
        {current === 'audit' && <AuditPage />}
        {current === 'delivery' && <DeliveryPage role={role} />}
        {current === 'cases' && <CasesPage id={sub} />}
        {current === 'clients' && <ClientsPage role={role} />}
      </main>
    </div>
  );
}

setLang(lang());
render(<App />, document.getElementById('app')!);
