/**
 * One spelling per repository, so a push to `git@github.com:Acme/App.git` finds the job
 * that checks out `https://github.com/acme/app`: scheme, credentials, default ports, a
 * trailing `.git` or `/` and letter case of the host and path do not matter. Local paths
 * stay paths.
 */
export function normalizeRepository(url: string): string {
  const trimmed = url.trim();
  let host: string;
  let path: string;
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\/)(.+)$/.exec(trimmed);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    const parsed = new URL(trimmed);
    if (parsed.protocol === 'file:') return stripGit(decodeURIComponent(parsed.pathname));
    host = parsed.hostname;
    path = parsed.pathname;
  } else if (scp && !trimmed.startsWith('/')) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    return stripGit(trimmed);
  }
  return `${host.toLowerCase()}/${stripGit(path.replace(/^\/+/, '')).toLowerCase()}`;
}

function stripGit(path: string): string {
  return path.replace(/\/+$/, '').replace(/\.git$/, '');
}
