import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, type BigIntStats } from 'node:fs';
import { lstat, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What a workspace looked like at one moment, cheaply enough to take before and after
 * every step: one `lstat` per entry, no reading of contents except for "racy" entries.
 *
 * The rule (git's "racy clean" rule, applied to ctime):
 * - each entry is known by its path, type, mode, size, mtime, ctime and inode;
 * - ctime is set by the kernel on every change of contents or metadata (and cannot be
 *   set back by `touch -d`, `cp -p` or `tar x`, unlike mtime); a rename-over gives a new
 *   inode;
 * - just before the walk, a stamp file is written beside the workspace, on the same
 *   filesystem: its ctime is "now" as that filesystem's clock reads it, at its
 *   timestamp granularity;
 * - an entry whose ctime is older than the stamp cannot change later without its ctime
 *   becoming at least the stamp's, so comparing the stat fields is enough;
 * - an entry whose ctime is not older than the stamp (changed in the same clock tick)
 *   could change again within that tick without any field moving: those entries are
 *   also fingerprinted by content (files: SHA-1; symlinks: target), before and after.
 *
 * Assumes nobody sets the filesystem clock backwards during a step. Sockets, FIFOs and
 * devices are not part of a workspace (the archive leaves them out) and are ignored.
 */
export interface TreeSnapshot {
  /** '/'-separated path relative to the root → stat signature (+ content for racy entries). */
  readonly entries: Map<string, string>;
  /** Paths whose signature includes their content. */
  readonly racy: Set<string>;
  /** Sum of the regular files' sizes. */
  readonly bytes: number;
}

type Kind = 'f' | 'd' | 'l';

function kindOf(st: BigIntStats): Kind | null {
  if (st.isFile()) return 'f';
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  return null;
}

const signature = (kind: Kind, st: BigIntStats): string => `${kind}:${st.mode}:${st.size}:${st.mtimeNs}:${st.ctimeNs}:${st.ino}`;

/** "Now" in the filesystem's own timestamps: the ctime of a file written in `stampDir`. */
async function fsNow(stampDir: string): Promise<bigint> {
  const stamp = join(stampDir, `.stamp-${randomUUID()}`);
  try {
    await writeFile(stamp, '');
    return (await lstat(stamp, { bigint: true })).ctimeNs;
  } finally {
    await rm(stamp, { force: true });
  }
}

async function contentOf(kind: Kind, path: string): Promise<string> {
  if (kind === 'l') return `->${await readlink(path)}`;
  if (kind === 'd') return '';
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `#${hash.digest('hex')}`;
}

interface Walked {
  path: string;
  kind: Kind;
  st: BigIntStats;
}

/** Every entry under `root` (not `root` itself), parents before children. */
async function walk(root: string): Promise<Walked[]> {
  const out: Walked[] = [];
  const visit = async (rel: string): Promise<void> => {
    const names = await readdir(rel === '' ? root : join(root, rel));
    const found = await Promise.all(
      names.map(async (name) => {
        const path = rel === '' ? name : `${rel}/${name}`;
        const st = await lstat(join(root, path), { bigint: true });
        return { path, kind: kindOf(st), st };
      }),
    );
    for (const e of found) if (e.kind) out.push(e as Walked);
    await Promise.all(found.filter((e) => e.kind === 'd').map((e) => visit(e.path)));
  };
  await visit('');
  return out;
}

export interface SnapshotOptions {
  /**
   * Paths whose content goes into their signatures even when they are not racy now: the
   * racy paths of the snapshot this one will be compared with.
   */
  contentFor?: ReadonlySet<string>;
  /** The filesystem's "now" in ns (tests); default: a stamp file's ctime. */
  now?: bigint;
}

/** Takes a snapshot of `root`. `stampDir` must be on the same filesystem (`root`'s parent is). */
export async function snapshotTree(root: string, stampDir: string, options: SnapshotOptions = {}): Promise<TreeSnapshot> {
  const contentFor = options.contentFor ?? new Set<string>();
  const now = options.now ?? (await fsNow(stampDir));
  const walked = await walk(root);
  const entries = new Map<string, string>();
  const racy = new Set<string>();
  let bytes = 0;
  await Promise.all(
    walked.map(async ({ path, kind, st }) => {
      if (kind === 'f') bytes += Number(st.size);
      let sig = signature(kind, st);
      if (st.ctimeNs >= now || contentFor.has(path)) {
        racy.add(path);
        sig += await contentOf(kind, join(root, path));
      }
      entries.set(path, sig);
    }),
  );
  return { entries, racy, bytes };
}

/** Whether `after` (taken with `contentFor: before.racy`) shows the same tree as `before`. */
export function sameTree(before: TreeSnapshot, after: TreeSnapshot): boolean {
  if (before.entries.size !== after.entries.size) return false;
  for (const [path, sig] of before.entries) if (after.entries.get(path) !== sig) return false;
  return true;
}
