/**
 * Headers of the pending tickets a claim is likely to pick next, read ahead. A claim that
 * has to read its header reads those of the next entries of its FIFO in the same turn
 * (the client sends the reads of one turn as one multiRead), so the claims after it go
 * straight to their multi-op: one ZooKeeper round trip per claim instead of two. A header
 * read ahead may be stale by the time it is used; the claim's multi writes the header
 * expecting the version read, so a stale one fails that claim's ops, never grants twice.
 */
import type { Entry } from './queue-view.js';
import { orNull } from './tickets.js';
import type { Stat, ZkClient } from './zk-client.js';

export type HeaderRead = { data: Buffer; stat: Stat } | null;

/** Entries whose headers one claim's read brings along. */
export const READ_AHEAD = 32;
/** Headers kept at most (the oldest go first). */
const MAX_KEPT = 4096;

export class HeadersAhead {
  private readonly kept = new Map<number, Promise<HeaderRead>>();

  /**
   * The header of `pick`: the one read ahead if there is one (taken: it serves one
   * claim), else read now, with those of `next()` not read yet sent in the same turn
   * (asked for only then: most claims find their header read ahead).
   */
  take(zk: ZkClient, path: (id: number) => string, pick: Entry, next: () => readonly Entry[]): Promise<HeaderRead> {
    const ahead = this.kept.get(pick.id);
    if (ahead) {
      this.kept.delete(pick.id);
      return ahead;
    }
    const read = zk.getData(path(pick.id)).catch(orNull);
    for (const e of next()) {
      if (e.id === pick.id || this.kept.has(e.id)) continue;
      const p = zk.getData(path(e.id)).catch(orNull);
      p.catch(() => undefined); // a failed read ahead is only read again by its claim
      this.kept.set(e.id, p);
      if (this.kept.size > MAX_KEPT) this.kept.delete(this.kept.keys().next().value!);
    }
    return read;
  }

  /** The ticket left the queue (claimed, taken elsewhere, gone): its header is stale. */
  drop(id: number): void {
    this.kept.delete(id);
  }
}
