/**
 * Record directory listings, remembered with the directory's cversion as listed.
 * ZooKeeper has no paged listing: a page of 50 of 10,000 jobs is a getChildren of all
 * 10,000 names (~160 KB), decoded and sorted here, on every page. A listing is kept with
 * its stat; while the directory's cversion (which counts every creation and deletion of
 * a child) is the one listed, the names are those kept. Callers that know what they will
 * read from a kept listing send the directory's stat with those reads in one round trip
 * (`kept`, then `list` with `stale` when the stat says it changed); `list` alone asks the
 * stat first. Kept: at most `maxNames` names in all (a directory counts one more), the
 * least recently used dropped first.
 */
import { isZk, ZK } from './errors.js';
import { dec } from './layout.js';
import type { ZkClient } from './zk-client.js';

/** A record directory's children, decoded and sorted: record leaves and deeper directories. */
export interface Listing {
  records: readonly string[];
  dirs: readonly string[];
}

const EMPTY: Listing = { records: [], dirs: [] };

/**
 * A kept listing. `changing`: the last page read speculatively with the directory's stat
 * found it changed, so reads sent with its stat would likely be wasted (a busy job's
 * builds): it goes stat first until a stat finds it unchanged again.
 */
export interface Kept {
  cversion: number;
  listing: Listing;
  changing: boolean;
}

export class Listings {
  private readonly byDir = new Map<string, Kept>();
  private names = 0;

  constructor(private readonly maxNames = 200_000) {}

  /** The kept listing of `dir`, if any. */
  kept(dir: string): Kept | undefined {
    return this.byDir.get(dir);
  }

  /** Marks a kept listing used (it is dropped last). */
  used(dir: string): void {
    const kept = this.byDir.get(dir);
    if (!kept) return;
    this.byDir.delete(dir);
    this.byDir.set(dir, kept);
  }

  /**
   * The directory's listing as of now (reads sent now see what the caller's barrier
   * covers). `stale`: the caller saw its stat differ from the kept listing's.
   */
  async list(zk: ZkClient, dir: string, stale = false): Promise<Listing> {
    const kept = this.byDir.get(dir);
    if (kept && !stale) {
      const stat = await zk.stat(dir);
      if (stat && stat.cversion === kept.cversion) {
        this.used(dir);
        kept.changing = false;
        return kept.listing;
      }
    }
    let listed;
    try {
      listed = await zk.listChildren(dir);
    } catch (err) {
      if (!isZk(err, ZK.NO_NODE)) throw err;
      this.forget(dir);
      return EMPTY;
    }
    const listing = decode(listed.children);
    this.keep(dir, { cversion: listed.stat.cversion, listing, changing: stale || (kept?.changing ?? false) });
    return listing;
  }

  /** Keeps (or replaces) the listing of `dir`. */
  private keep(dir: string, kept: Kept): void {
    this.forget(dir);
    const size = sizeOf(kept.listing);
    if (size > this.maxNames) return;
    this.byDir.set(dir, kept);
    this.names += size;
    for (const [oldest] of this.byDir) {
      if (this.names <= this.maxNames) break;
      this.forget(oldest);
    }
  }

  private forget(dir: string): void {
    const kept = this.byDir.get(dir);
    if (!kept) return;
    this.byDir.delete(dir);
    this.names -= sizeOf(kept.listing);
  }
}

/** A kept listing's weight: its names, and one for the directory itself (empty ones too). */
function sizeOf(listing: Listing): number {
  return listing.records.length + listing.dirs.length + 1;
}

/** `r<leaf>` and `d<segment>` names → their decoded parts, each list sorted. */
function decode(names: readonly string[]): Listing {
  const records: string[] = [];
  const dirs: string[] = [];
  for (const name of names) {
    if (name.startsWith('r')) records.push(dec(name.slice(1)));
    else if (name.startsWith('d')) dirs.push(dec(name.slice(1)));
  }
  return { records: records.sort(), dirs: dirs.sort() };
}
