import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { WorkspaceRef } from '../../core/builds/step-payload.js';
import type { TreeSnapshot } from './tree-snapshot.js';

/** A name safe as one path component: no '/', '.', '..' or other surprises. */
const component = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*.~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** How much this worker keeps: the oldest entries go first when either limit is passed. */
export interface CacheLimits {
  /** Workspaces (default 256). */
  entries?: number;
  /** Bytes of file contents (default 2 GiB). */
  bytes?: number;
  /**
   * Tree snapshot entries remembered with them, in all (default 100,000, some 20 MB of
   * memory); the oldest entries' snapshots are dropped first, and those are walked again.
   */
  snapshotEntries?: number;
}

interface Kept {
  dir: string;
  bytes: number;
  /** The tree as the step that left it saw it last; null when dropped to save memory. */
  snapshot: TreeSnapshot | null;
}

const refKey = (job: string, build: number, ref: WorkspaceRef): string => JSON.stringify([job, build, ref.step, ref.attempt]);

/**
 * The workspaces this worker holds on local disk, each known by the stored workspace it
 * is an exact copy of (a `WorkspaceRef`): the one its step uploaded, or, when the step
 * left its single input unchanged, that input's. Only workspaces whose upload succeeded
 * (or whose input was stored) are kept, so a kept directory is exactly a stored archive.
 * The next step of the build, when it runs here with that one workspace as its input,
 * takes the directory over with a rename: no download, no extraction. Attempts work in
 * `<root>/<job>/<build>/<step>-<attempt>`. Entries are known only to this process (its
 * work root is its own).
 */
export class WorkspaceCache {
  /** refKey → directory, size and snapshot, oldest first. */
  private readonly kept = new Map<string, Kept>();
  private keptBytes = 0;
  private snapshotEntries = 0;
  readonly limits: Required<CacheLimits>;

  constructor(
    readonly root: string,
    limits: CacheLimits | number = {},
    private readonly log?: Logger,
  ) {
    const l = typeof limits === 'number' ? { entries: limits } : limits;
    this.limits = { entries: l.entries ?? 256, bytes: l.bytes ?? 2 * 1024 ** 3, snapshotEntries: l.snapshotEntries ?? 100_000 };
  }

  /** Where the attempt `step`/`attempt` of build `job` #`build` works. */
  dirFor(job: string, build: number, step: string, attempt: number): string {
    return join(this.root, component(job), String(build), `${component(step)}-${attempt}`);
  }

  /**
   * Moves the kept copy of `ref` to `dest` (absent). Null when this worker does not have
   * it; else its snapshot, still exact: nothing touched the tree since (a rename changes
   * only the root's own ctime, which snapshots leave out).
   */
  async takeOver(job: string, build: number, ref: WorkspaceRef, dest: string): Promise<{ snapshot: TreeSnapshot | null } | null> {
    const key = refKey(job, build, ref);
    const entry = this.kept.get(key);
    if (!entry) return null;
    this.forget(key);
    try {
      await mkdir(dirname(dest), { recursive: true });
      await rename(entry.dir, dest);
      return { snapshot: entry.snapshot };
    } catch (err) {
      this.log?.warn({ err, dir: entry.dir }, 'cached workspace could not be taken over; downloading it instead');
      await this.remove(entry.dir);
      return null;
    }
  }

  /**
   * Keeps `dir` (a directory `dirFor` gave) as an exact copy of the stored workspace `ref`
   * of build `job` #`build`, with the snapshot just taken of it, replacing an older copy
   * of it and evicting the oldest entries.
   */
  async keep(job: string, build: number, ref: WorkspaceRef, dir: string, snapshot: TreeSnapshot): Promise<void> {
    const key = refKey(job, build, ref);
    const old = this.kept.get(key);
    this.forget(key);
    if (old && old.dir !== dir) await this.remove(old.dir);
    this.kept.set(key, { dir, bytes: snapshot.bytes, snapshot });
    this.keptBytes += snapshot.bytes;
    this.snapshotEntries += snapshot.entries.size;
    for (const entry of this.kept.values()) {
      if (this.snapshotEntries <= this.limits.snapshotEntries) break;
      if (!entry.snapshot) continue;
      this.snapshotEntries -= entry.snapshot.entries.size;
      entry.snapshot = null;
    }
    while (this.kept.size > this.limits.entries || (this.keptBytes > this.limits.bytes && this.kept.size > 1)) {
      const [oldest, entry] = this.kept.entries().next().value as [string, { dir: string }];
      this.forget(oldest);
      await this.remove(entry.dir);
    }
  }

  /** Removes a workspace that is not kept (a failed or aborted attempt). */
  async discard(dir: string): Promise<void> {
    for (const entry of this.kept.values()) if (entry.dir === dir) return;
    await this.remove(dir);
  }

  private forget(key: string): void {
    const entry = this.kept.get(key);
    if (!entry) return;
    this.kept.delete(key);
    this.keptBytes -= entry.bytes;
    this.snapshotEntries -= entry.snapshot?.entries.size ?? 0;
  }

  /** How many workspaces are kept now. */
  get size(): number {
    return this.kept.size;
  }

  /**
   * Renames `dir` aside at once (O(1)) and deletes it in the background: deleting 10,000
   * files takes seconds that the step's result should not wait for.
   */
  private async remove(dir: string): Promise<void> {
    const trash = join(this.root, `.trash-${randomUUID()}`);
    const moved = await rename(dir, trash).then(
      () => true,
      () => false,
    );
    if (moved) {
      void rm(trash, { recursive: true, force: true }).catch((err: unknown) => this.log?.warn({ err, dir: trash }, 'could not remove a workspace'));
    } else {
      await rm(dir, { recursive: true, force: true }).catch((err: unknown) => this.log?.warn({ err, dir }, 'could not remove a workspace'));
    }
    // Tidy the now possibly empty build and job directories; a busy one stays.
    for (let d = dirname(dir); d !== this.root && d.startsWith(this.root); d = dirname(d)) {
      if (!(await rmdir(d).then(() => true, () => false))) break;
    }
  }
}
