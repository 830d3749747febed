import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, type Stats } from 'node:fs';
import { lstat, readlink, rm, writeFile } from 'node:fs/promises';
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
 * Times are Node's float milliseconds (~0.2 µs resolution today): rounding is monotonic,
 * so an entry that changed after the stamp but rounds to its old ctime also rounds to at
 * least the stamp's, i.e. it was racy and its content is compared. (Float stats cost
 * ~40% less CPU than bigint ones.) Assumes nobody sets the filesystem clock backwards
 * during a step. Sockets, FIFOs and devices are not part of a workspace (the archive
 * leaves them out) and are ignored.
 */
export interface TreeSnapshot {
  /**
   * '/'-separated path relative to the root → stat signature (+ content for racy entries),
   * parents before their children.
   */
  readonly entries: Map<string, string>;
  /** Paths whose signature includes their content. */
  readonly racy: Set<string>;
  /** Sum of the regular files' sizes. */
  readonly bytes: number;
}

type Kind = 'f' | 'd' | 'l';

function kindOf(st: Stats): Kind | null {
  if (st.isFile()) return 'f';
  if (st.isDirectory()) return 'd';
  if (st.isSymbolicLink()) return 'l';
  return null;
}

const kindAt = (sig: string): Kind => sig[0] as Kind;
const signature = (kind: Kind, st: Stats): string => `${kind}:${st.mode}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`;

/** "Now" in the filesystem's own timestamps: the ctime of a file written in `stampDir`. */
async function fsNow(stampDir: string): Promise<number> {
  const stamp = join(stampDir, `.stamp-${randomUUID()}`);
  try {
    await writeFile(stamp, '');
    return (await lstat(stamp)).ctimeMs;
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
  st: Stats;
}

/** Entries stat-ed between two yields to the event loop. */
const BATCH = 256;

/**
 * Every entry under `root` (not `root` itself), parents before children. Synchronous
 * calls in batches: an async `lstat` per entry costs ~10× the CPU (thread pool round trip
 * and a promise each), and yielding between batches keeps lease renewals on time.
 */
async function walk(root: string): Promise<Walked[]> {
  const out: Walked[] = [];
  const dirs = [''];
  let sinceYield = 0;
  for (let rel = dirs.pop(); rel !== undefined; rel = dirs.pop()) {
    const names = readdirSync(rel === '' ? root : join(root, rel));
    for (const name of names) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, path));
      const kind = kindOf(st);
      if (!kind) continue;
      out.push({ path, kind, st });
      if (kind === 'd') dirs.push(path);
      if (++sinceYield >= BATCH) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }
  return out;
}

export interface SnapshotOptions {
  /**
   * Paths whose content goes into their signatures even when they are not racy now: the
   * racy paths of the snapshot this one will be compared with.
   */
  contentFor?: ReadonlySet<string>;
  /** The filesystem's "now" in ms, with its fraction (tests); default: a stamp file's ctime. */
  now?: number;
}

/** Takes a snapshot of `root`. `stampDir` must be on the same filesystem (`root`'s parent is). */
export async function snapshotTree(root: string, stampDir: string, options: SnapshotOptions = {}): Promise<TreeSnapshot> {
  const contentFor = options.contentFor ?? new Set<string>();
  const now = options.now ?? (await fsNow(stampDir));
  const walked = await walk(root);
  const entries = new Map<string, string>();
  const racy = new Set<string>();
  let bytes = 0;
  for (const { path, kind, st } of walked) {
    if (kind === 'f') bytes += Number(st.size);
    entries.set(path, signature(kind, st));
    if (st.ctimeMs >= now || contentFor.has(path)) racy.add(path);
  }
  await Promise.all(
    [...racy].map(async (path) => {
      const sig = entries.get(path)!;
      entries.set(path, sig + (await contentOf(kindAt(sig), join(root, path))));
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
