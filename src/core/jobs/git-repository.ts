/**
 * Where a `git-checkout` repository lives. URLs (`scheme://…`) and scp-like `host:path`
 * are remote; everything else is a path on the worker, which git clones in its local
 * mode (objects hardlinked or copied, no pack made and sent) unless a depth asks for
 * its transport.
 */
export function isLocalRepository(repository: string): boolean {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repository)) return false;
  const colon = repository.indexOf(':');
  const slash = repository.indexOf('/');
  return colon === -1 || (slash !== -1 && slash < colon);
}
