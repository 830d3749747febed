/** The one place where native file system errors of the `file:` store become ours. */
import { DistciError, UnavailableError, ValidationError } from '../../core/errors.js';

export interface FsErrorContext {
  /** The store's root directory. */
  root: string;
  /** What we were doing, e.g. `put`, `list`. */
  op: string;
  key?: string;
}

/** A libuv error: a string code like ENOENT plus a numeric errno. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { code, errno } = err as { code?: unknown; errno?: unknown };
  return typeof code === 'string' && typeof errno === 'number' ? code : undefined;
}

/**
 * Translates a native error. Errors that are already ours, and errors that did not come
 * from the file system (an aborted upload, a failing body stream), pass through.
 * ENOENT and EEXIST are answered by the callers, where they mean "not found" and
 * "already exists"; here they are only reached when the store's own layout is missing.
 */
export function fsError(err: unknown, ctx: FsErrorContext): Error {
  if (err instanceof DistciError) return err;
  const code = errnoCode(err);
  if (code === undefined) return err instanceof Error ? err : new Error(String(err));
  const what = ctx.key === undefined ? `${ctx.op} in store ${ctx.root}` : `${ctx.op} of '${ctx.key}' in store ${ctx.root}`;
  const details = { op: ctx.op, key: ctx.key, root: ctx.root, cause: code };
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new UnavailableError(`${what} failed: no space left (${code}); free space or grow the volume, then retry`, details);
    case 'EACCES':
    case 'EPERM':
      return new UnavailableError(
        `${what} failed: permission denied (${code}); make ${ctx.root} readable and writable by the user running distci`,
        details,
      );
    case 'EROFS':
      return new UnavailableError(`${what} failed: the file system is read-only (EROFS); remount it read-write`, details);
    case 'EIO':
    case 'ESTALE':
    case 'ETIMEDOUT':
    case 'EAGAIN':
    case 'EBUSY':
      return new UnavailableError(
        `${what} failed: I/O error (${code}); check the disk or the network mount behind ${ctx.root}, then retry`,
        details,
      );
    case 'EMFILE':
    case 'ENFILE':
      return new UnavailableError(`${what} failed: too many open files (${code}); raise the open-file limit (ulimit -n)`, details);
    case 'ENAMETOOLONG':
      return new ValidationError(`${what} failed: the key is too long for this file system; use shorter key segments`, details);
    case 'ENOENT':
    case 'ENOTDIR':
      return new UnavailableError(
        `${what} failed: part of the store directory is missing or is not a directory (${code}); check that ${ctx.root} exists and is not modified by hand`,
        details,
      );
    default:
      return new DistciError('internal', `${what} failed with ${code}: ${(err as Error).message}`, details);
  }
}
