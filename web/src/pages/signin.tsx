/** Sign-in with an access token (tokens are configured on the frontends: name:role:secret). */
import { useState } from 'preact/hooks';

export function SignInPage({ message, onSignIn }: { message: string | null; onSignIn: (token: string) => Promise<string | null> }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <section class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Sign in</h1>
      <p class="muted">This distci needs an access token. Ask whoever runs it for one; the CLI uses the same token as DISTCI_TOKEN.</p>
      {message && <p role="status">{message}</p>}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setBusy(true);
          void onSignIn(token.trim()).then((failure) => {
            setBusy(false);
            setError(failure);
          });
        }}
      >
        <div class="field">
          <label for="token">Access token</label>
          <input
            id="token"
            type="password"
            autocomplete="current-password"
            required
            value={token}
            aria-invalid={error !== null}
            aria-describedby={error ? 'token-error' : undefined}
            onInput={(e) => setToken(e.currentTarget.value)}
          />
          {error && (
            <p id="token-error" class="error-text" role="alert">
              {error}
            </p>
          )}
        </div>
        <button type="submit" class="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}
