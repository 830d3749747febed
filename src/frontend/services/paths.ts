import { ValidationError } from '../../core/errors.js';

/** A '/'-separated relative path inside a build: no absolute, empty, '.' or '..' segments. */
export function assertRelativePath(what: string, path: string): void {
  // eslint-disable-next-line no-control-regex
  const bad = path.startsWith('/') || path.includes('\\') || /[\u0000-\u001f]/.test(path) || path.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad) {
    throw new ValidationError(`${what} '${path}' is invalid: use a relative path like dist/app.tgz, without '..', '.', '//' or a leading '/'`);
  }
}
