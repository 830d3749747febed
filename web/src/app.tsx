import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, storeToken, storedToken, whenUnauthorized } from './lib/api.js';
import { href, navigate, useRoute, type Route } from './lib/router.js';
import type { Session } from './lib/types.js';
import { SessionContext } from './session.js';
import { ThemeToggle } from './components/theme.js';
import { JobsPage } from './pages/jobs.js';
import { JobPage } from './pages/job.js';
import { BuildPage } from './pages/build.js';
import { QueuePage } from './pages/queue.js';
import { SignInPage } from './pages/signin.js';

type State = { kind: 'loading' } | { kind: 'signin'; message: string | null } | { kind: 'ready'; session: Session } | { kind: 'down'; message: string };

export function App() {
  const route = useRoute();
  const [state, setState] = useState<State>({ kind: 'loading' });

  const load = async (): Promise<void> => {
    try {
      setState({ kind: 'ready', session: await api.session() });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setState({ kind: 'signin', message: storedToken() ? 'That token is not valid here (any more). Sign in again.' : null });
      } else setState({ kind: 'down', message: err instanceof Error ? err.message : String(err) });
    }
  };

  useEffect(() => {
    whenUnauthorized(() => setState({ kind: 'signin', message: 'Your session ended: the token was refused. Sign in again.' }));
    void load();
  }, []);

  const signIn = async (token: string): Promise<string | null> => {
    storeToken(token);
    try {
      const session = await api.session();
      setState({ kind: 'ready', session });
      if (route.page === 'signin') navigate(href.jobs(), true);
      return null;
    } catch (err) {
      storeToken(null);
      return err instanceof ApiError && err.status === 401 ? 'Unknown or revoked token.' : err instanceof Error ? err.message : String(err);
    }
  };

  const signOut = (): void => {
    storeToken(null);
    setState({ kind: 'signin', message: 'Signed out.' });
  };

  const session = state.kind === 'ready' ? state.session : null;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href.jobs()}>
          <span aria-hidden="true">◆</span> distci
        </a>
        <nav aria-label="Main">
          <a href={href.jobs()} aria-current={route.page === 'jobs' || route.page === 'job' || route.page === 'build' ? 'page' : undefined}>
            Jobs
          </a>
          <a href={href.queue()} aria-current={route.page === 'queue' ? 'page' : undefined}>
            Queue &amp; workers
          </a>
        </nav>
        <div class="who">
          {session && session.authEnabled && (
            <>
              <span class="muted" data-testid="whoami">
                {session.name} · {session.role}
                {session.jobs !== null && ` · jobs ${session.jobs}`}
              </span>
              <button type="button" class="link" onClick={signOut}>
                Sign out
              </button>
            </>
          )}
          {session && !session.authEnabled && (
            <span class="muted" title="No tokens are configured on this frontend: everyone is admin">
              open access
            </span>
          )}
          <ThemeToggle />
        </div>
      </header>
      <Main id="main" route={route}>
        {state.kind === 'loading' && <p class="muted">Loading…</p>}
        {state.kind === 'down' && (
          <div class="error" role="alert">
            The frontend did not answer: {state.message}
          </div>
        )}
        {state.kind === 'signin' && <SignInPage message={state.message} onSignIn={signIn} />}
        {session && (
          <SessionContext.Provider value={{ session, signOut }}>
            <Page route={route} />
          </SessionContext.Provider>
        )}
      </Main>
    </>
  );
}

/** Moves focus to the page on navigation, so keyboard and screen-reader users start at the top of it. */
function Main({ id, route, children }: { id: string; route: Route; children: ComponentChildren }) {
  const ref = useRef<HTMLElement>(null);
  const first = useRef(true);
  const key = JSON.stringify(route);
  useLayoutEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    ref.current?.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [key.replace(/"(q|after|step)":[^,}]*/g, '')]);
  return (
    <main id={id} ref={ref} tabIndex={-1}>
      {children}
    </main>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'jobs':
      return <JobsPage q={route.q} after={route.after} />;
    case 'job':
      return <JobPage key={route.job} job={route.job} tab={route.tab} />;
    case 'build':
      return <BuildPage key={`${route.job}#${route.number}`} job={route.job} number={route.number} step={route.step} />;
    case 'queue':
      return <QueuePage />;
    case 'signin':
      return <p>You are signed in.</p>;
    case 'notfound':
      return (
        <div>
          <h1>Not found</h1>
          <p>
            There is no page <code>{route.path}</code>. <a href={href.jobs()}>Go to the jobs.</a>
          </p>
        </div>
      );
  }
}
