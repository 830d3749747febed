/**
 * Record directory listings, remembered with the directory's cversion as listed.
 * ZooKeeper has no paged listing: a page of 50 of 10,000 jobs is a getChildren of all
 * 10,000 names (~160 KB), decoded and sorted here, on every page. A listing of a large
 * directory is kept with its stat; the next listing asks only the directory's stat, and
 * while its cversion (which counts every creation and deletion of a child) is the one
 * listed, the names are those kept. Small directories are listed each time (one round
 * trip either way). Kept: at most `maxNames` names in all, the least recently used
 * dropped first.
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

/** Directories with fewer children are not kept: listing them again costs what a stat costs. */
const KEEP_FROM = 64;

export class Listings {
  private readonly kept = new Map<string, { cversion: number; listing: Listing }>();
  private names = 0;

  constructor(private readonly maxNames = 200_000) {}

  /** The directory's listing as of now (reads sent now see what the caller's barrier covers). */
  async list(zk: ZkClient, dir: string): Promise<Listing> {
    const kept = this.kept.get(dir);
    if (kept) {
      const stat = await zk.stat(dir);
      if (stat && stat.cversion === kept.cversion) {
        this.kept.delete(dir); // most recently used last
        this.kept.set(dir, kept);
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
    this.forget(dir);
    if (listed.children.length >= KEEP_FROM) this.keep(dir, listed.stat.cversion, listing);
    return listing;
  }

  private keep(dir: string, cversion: number, listing: Listing): void {
    const size = listing.records.length + listing.dirs.length;
    if (size > this.maxNames) return;
    this.kept.set(dir, { cversion, listing });
    this.names += size;
    for (const [oldest] of this.kept) {
      if (this.names <= this.maxNames) break;
      this.forget(oldest);
    }
  }

  private forget(dir: string): void {
    const kept = this.kept.get(dir);
    if (!kept) return;
    this.kept.delete(dir);
    this.names -= kept.listing.records.length + kept.listing.dirs.length;
  }
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
