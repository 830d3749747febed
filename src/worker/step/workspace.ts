import type { Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { create, Unpack, type ReadEntry } from 'tar';
import { StepFailure } from './failure.js';
import { isInside } from './paths.js';

/**
 * Workspace archives: plain tar (no compression: packing 100 MB of node_modules must
 * cost seconds, and gzip would dominate that), portable headers (no uid/gid/uname),
 * modification times kept so incremental builds see what changed.
 */
export function packWorkspace(dir: string): Readable {
  // Sockets, FIFOs and devices are left out: tar cannot carry them (and hangs on them).
  const filter = (_path: string, stat: Stats | ReadEntry): boolean =>
    !('isFIFO' in stat) || stat.isFile() || stat.isDirectory() || stat.isSymbolicLink();
  return Readable.from(create({ cwd: dir, portable: true, filter }, ['.']), { objectMode: false });
}

const SUPPORTED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'GNUDumpDir', 'SymbolicLink', 'Link']);

/** Why an archive path is unsafe, or null. Backslashes count as separators, to be strict. */
function unsafePath(p: string): string | null {
  if (p.includes('\0')) return 'contains a NUL character';
  if (p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:/.test(p)) return 'is absolute';
  if (p.split(/[\\/]/).includes('..')) return "contains '..'";
  return null;
}

function unsafeEntry(entry: ReadEntry, root: string): string | null {
  const p = entry.path;
  if (!SUPPORTED.has(entry.type)) return `entry '${p}' has unsupported type ${entry.type}`;
  const why = unsafePath(p);
  if (why) return `entry '${p}' ${why}`;
  const target = entry.linkpath ?? '';
  if (entry.type === 'SymbolicLink') {
    if (target === '' || target.includes('\0')) return `symlink '${p}' has no valid target`;
    if (!isInside(root, resolve(root, dirname(p), target))) return `symlink '${p}' points outside the workspace (to '${target}')`;
  }
  if (entry.type === 'Link') {
    const bad = target === '' ? 'is empty' : unsafePath(target);
    if (bad) return `hardlink '${p}' target '${target}' ${bad}`;
  }
  return null;
}

/** tar's own refusals (extracting through a symlink, escaping paths) mean the archive is unsafe. */
function classify(err: unknown): unknown {
  const e = err as { code?: string; tarCode?: string; syscall?: string; message?: string; name?: string };
  if (e.name === 'SymlinkError' || e.code === 'TAR_SYMLINK_ERROR') {
    return new StepFailure('unsafe_archive', `workspace archive refused: ${e.message ?? 'it extracts through a symbolic link'}`);
  }
  if (e.tarCode === 'TAR_ENTRY_ERROR' && e.syscall === undefined) {
    return new StepFailure('unsafe_archive', `workspace archive refused: ${e.message ?? 'unsafe entry'}`);
  }
  if (e.tarCode === 'TAR_BAD_ARCHIVE' || e.tarCode === 'TAR_ENTRY_INVALID') {
    return new StepFailure('workspace_corrupt', `workspace archive is damaged: ${e.message ?? ''}; run the previous step again`, 'error');
  }
  return err;
}

/**
 * Extracts a workspace archive into `dir`. Entries with absolute paths or `..`, symlinks
 * pointing outside `dir`, hardlinks to anything but a relative path inside it, and
 * devices or FIFOs stop the extraction with `unsafe_archive` before they are written;
 * tar itself refuses to write through any symlink. Nothing is ever written outside `dir`.
 */
export async function unpackWorkspace(source: Readable, dir: string, signal?: AbortSignal): Promise<void> {
  const root = resolve(dir);
  let unsafe: StepFailure | null = null;
  const unpack: Unpack = new Unpack({
    cwd: root,
    strict: true,
    filter: (_path, entry) => {
      if (unsafe) return false;
      const why = unsafeEntry(entry as ReadEntry, root);
      if (why === null) return true;
      unsafe = new StepFailure('unsafe_archive', `workspace archive refused: ${why}; nothing outside the workspace was written`);
      unpack.abort(unsafe);
      return false;
    },
  });
  try {
    await new Promise<void>((done, reject) => {
      let settled = false;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err === undefined) return done();
        source.destroy();
        reject(err as Error);
      };
      const onAbort = (): void => finish(signal?.reason);
      if (signal?.aborted) return finish(signal.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      unpack.on('error', finish);
      unpack.on('close', () => finish());
      source.on('error', finish);
      source.pipe(unpack);
    });
  } catch (err) {
    throw unsafe ?? classify(err);
  }
}
