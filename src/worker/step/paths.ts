import { isAbsolute, join, relative, sep } from 'node:path';
import { ValidationError } from '../../core/errors.js';

/**
 * Normalizes a '/'-separated path that must stay inside some root: absolute paths,
 * drive letters, backslashes, NUL and `..` segments are refused. Returns '.' for the root.
 */
export function safeRelative(path: string, what: string): string {
  const refuse = (why: string): never => {
    throw new ValidationError(`${what} '${path}' ${why}; give a path relative to the workspace, without '..'`, { path });
  };
  if (path.includes('\0')) refuse('contains a NUL character');
  if (path.startsWith('/') || path.includes('\\') || /^[A-Za-z]:/.test(path)) refuse('is absolute');
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) refuse("climbs out with '..'");
  return parts.length === 0 ? '.' : parts.join('/');
}

/** `root` joined with a checked relative path. */
export function resolveInside(root: string, path: string, what: string): string {
  const rel = safeRelative(path, what);
  return rel === '.' ? root : join(root, ...rel.split('/'));
}

/** Whether `candidate` (absolute, normalized) is `root` or below it. */
export function isInside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** An absolute path as '/'-separated relative to root. */
export function toPosixRelative(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}
