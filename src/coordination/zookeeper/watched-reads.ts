/**
 * Reads kept while ZooKeeper's watches say they are unchanged — the way Curator's
 * NodeCache and PathChildrenCache keep theirs — for the reads that pass a barrier first
 * (`Session.fresh`). Each read that misses is sent with a one-shot watch; the watch's event
 * drops what it read. A session delivers events and replies in the order the server
 * processed them, and the server fires a watch when it applies the write, so once a
 * barrier sent after a read was asked for is answered, the event of every write before it
 * has arrived: a read still kept then is what a read sent then would have returned (and
 * it waits for the replies of the requests sent before it was asked for too, so that reads
 * keep the order in which they were asked, kept or not). A page of 50 jobs with their
 * newest builds was ~150 requests in two rounds; unchanged, it is its barrier alone.
 *
 * Kept: up to `maxBytes` (about: data bytes, ~48 per listed name), the least recently
 * used dropped first; everything is dropped on any connection event (a reconnect or a new
 * session may hide changes) and when the session's client is replaced. The session's
 * watches are dropped with it: they belong to this alone (the reader's session).
 */
import { isZk, ZK } from './errors.js';
import { decodeListing, type Listing } from './listings.js';
import type { Session } from './session.js';
import type { Stat, Watcher, ZkClient } from './zk-client.js';

interface Kept {
  value: unknown;
  weight: number;
}

export class WatchedReads {
  private readonly kept = new Map<string, Kept>();
  private bytes = 0;
  /** Moves on at every drop of everything: a read started before one is not kept. */
  private epoch = 0;
  private zk: ZkClient | null = null;

  constructor(
    session: Session,
    private readonly maxBytes = 32 * 1024 * 1024,
  ) {
    session.on((_event, zk) => {
      zk.dropWatches(); // the next connection need not set them again (see `dropWatches`)
      this.clear();
    });
  }

  /**
   * The node's data and stat, or null when there is no node, as of `barrier` or later.
   * `listed`: the node was just listed, so it most likely exists (see `readData`).
   */
  data(zk: ZkClient, path: string, barrier: Promise<unknown>, listed = false): Promise<{ data: Buffer; stat: Stat } | null> {
    return this.through(zk, `d${path}`, barrier, (watcher) => readData(zk, path, watcher, listed), (v) => 100 + (v?.data.length ?? 0));
  }

  /** The node's stat, or null when there is no node, as of `barrier` or later. */
  stat(zk: ZkClient, path: string, barrier: Promise<unknown>): Promise<Stat | null> {
    return this.through(zk, `s${path}`, barrier, (watcher) => zk.exists(path, watcher), () => 100);
  }

  /** The directory's children decoded (empty when there is no directory), as of `barrier` or later. */
  listing(zk: ZkClient, dir: string, barrier: Promise<unknown>): Promise<Listing> {
    return this.through(zk, `c${dir}`, barrier, (watcher) => readListing(zk, dir, watcher), (l) => 100 + 48 * (l.records.length + l.dirs.length));
  }

  /** What is kept (tests): its keys (`d`ata, `s`tat, `c`hildren + path) and bytes. */
  get size(): { entries: number; bytes: number } {
    return { entries: this.kept.size, bytes: this.bytes };
  }

  private async through<T>(zk: ZkClient, key: string, barrier: Promise<unknown>, read: (watcher: Watcher) => Promise<T>, weigh: (value: T) => number): Promise<T> {
    if (zk !== this.zk) {
      this.clear();
      this.zk = zk;
    }
    const kept = this.kept.get(key);
    if (kept) {
      // Served once the barrier and every request sent before it are answered: then it is
      // current as of a state no older than what those read (a counter read just before a
      // listing is never newer than the listing).
      const before = zk.answeredSoFar();
      await barrier;
      await before;
      if (this.kept.get(key) === kept) {
        this.kept.delete(key); // most recently used: last in the map's order
        this.kept.set(key, kept);
        return kept.value as T;
      }
    }
    // A watch may fire before the read's continuation runs (its event can follow the reply
    // in the same packet): what it read is then not kept.
    let fired = false;
    const watcher = (): void => {
      fired = true;
      this.drop(key);
    };
    const epoch = this.epoch;
    const value = await read(watcher);
    if (!fired && epoch === this.epoch && this.zk === zk) this.keep(key, { value, weight: weigh(value) });
    return value;
  }

  private keep(key: string, entry: Kept): void {
    this.drop(key);
    if (entry.weight > this.maxBytes) return;
    this.kept.set(key, entry);
    this.bytes += entry.weight;
    for (const [oldest] of this.kept) {
      if (this.bytes <= this.maxBytes) break;
      this.drop(oldest);
    }
  }

  private drop(key: string): void {
    const kept = this.kept.get(key);
    if (!kept) return;
    this.kept.delete(key);
    this.bytes -= kept.weight;
  }

  private clear(): void {
    this.epoch++;
    this.kept.clear();
    this.bytes = 0;
  }
}

/**
 * getData with the watch. A getData that finds no node sets no watch; an exists does, so
 * that the node's creation drops the kept null. Unless the node was just listed, both go
 * out together: one round trip whether it exists or not (a build shown from the archive
 * is a missing record); a listed one sends the exists only when the getData found nothing.
 */
async function readData(zk: ZkClient, path: string, watcher: Watcher, listed: boolean): Promise<{ data: Buffer; stat: Stat } | null> {
  for (;;) {
    const [got, stat] = listed
      ? [await zk.getData(path, watcher).catch(orNoNode), undefined]
      : await Promise.all([zk.getData(path, watcher).catch(orNoNode), zk.exists(path, watcher)]);
    if (got) return got;
    if ((stat === undefined ? await zk.exists(path, watcher) : stat) === null) return null;
    // Created between the two: read it again.
  }
}

const orNoNode = (err: unknown): null => {
  if (isZk(err, ZK.NO_NODE)) return null;
  throw err;
};

async function readListing(zk: ZkClient, dir: string, watcher: Watcher): Promise<Listing> {
  for (;;) {
    try {
      return decodeListing((await zk.listChildren(dir, watcher)).children);
    } catch (err) {
      if (!isZk(err, ZK.NO_NODE)) throw err;
    }
    if ((await zk.exists(dir, watcher)) === null) return decodeListing([]);
  }
}
