import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import type { WorkspaceRef } from '../../core/builds/step-payload.js';

/** A name safe as one path component: no '/', '.', '..' or other surprises. */
const component = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()*.~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The workspaces of step attempts this worker ran, kept on local disk under
 * `<root>/<job>/<build>/<step>-<attempt>`, at most `capacity` of them (oldest go first).
 * Only workspaces whose upload succeeded are kept, so a kept directory is exactly the
 * stored archive of its attempt. The next step of the build, when it runs here with that
 * one workspace as its input, takes the directory over with a rename: no download, no
 * extraction. Entries are known only to this process (its work root is its own).
 */
export class WorkspaceCache {
  private readonly kept = new Map<string, string>();

  constructor(
    readonly root: string,
    readonly capacity = 8,
    private readonly log?: Logger,
  ) {}

  /** Where the attempt `step`/`attempt` of build `job` #`build` works. */
  dirFor(job: string, build: number, step: string, attempt: number): string {
    return join(this.root, component(job), String(build), `${component(step)}-${attempt}`);
  }

  /** Moves the kept workspace of `ref` to `dest` (absent); false when this worker does not have it. */
  async takeOver(job: string, build: number, ref: WorkspaceRef, dest: string): Promise<boolean> {
    const key = this.dirFor(job, build, ref.step, ref.attempt);
    if (!this.kept.delete(key)) return false;
    try {
      await mkdir(dirname(dest), { recursive: true });
      await rename(key, dest);
      return true;
    } catch (err) {
      this.log?.warn({ err, dir: key }, 'cached workspace could not be taken over; downloading it instead');
      await this.remove(key);
      return false;
    }
  }

  /** Keeps `dir` (the directory `dirFor` gave) as its attempt's workspace, evicting the oldest. */
  async keep(dir: string): Promise<void> {
    this.kept.delete(dir);
    this.kept.set(dir, dir);
    while (this.kept.size > this.capacity) {
      const oldest = this.kept.keys().next().value as string;
      this.kept.delete(oldest);
      await this.remove(oldest);
    }
  }

  /** Removes a workspace that is not kept (a failed or aborted attempt). */
  async discard(dir: string): Promise<void> {
    if (!this.kept.has(dir)) await this.remove(dir);
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
