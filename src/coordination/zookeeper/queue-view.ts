/**
 * One instance's picture of the pending queues, so that a claim lists nothing in the
 * common case. A listing remembers its directory's stat as listed; before a claim
 * relies on it, one `exists` per directory (sent beside the claim's header read) tells
 * whether entries were created since: cversion counts creations and deletions,
 * numChildren their difference, so creations = (Δcversion + Δchildren) / 2. Any creation
 * means a re-list; deletions made elsewhere only make entries stale, which the claim's
 * multi-op finds out by itself (it removes the entry and writes the header expecting the
 * version read), so a stale view costs a retry, never a wrong grant. While the bell (rung by
 * every transaction that creates an entry) stays silent, a check that found the view
 * complete less than TRUST_MS ago stands for the claims that follow: a busy instance
 * checks a few times per second, not once per claim. Too many unseen
 * deletions re-list too, so racing frontends do not keep trying gone entries; under
 * contention each instance prefers the entries of its own slot (`members.ts`).
 *
 * Fair share: among the entries of the top priority, the share (job) this instance served
 * least recently comes first (never served counts as oldest; ties by the older head), and
 * FIFO within a share. "Last served" lives in memory, per instance, and is forgotten when
 * a share has nothing pending in any listing.
 */
import { isZk, ZK } from './errors.js';
import { Fifo } from './fifo.js';
import { parseLabelsName, parsePendingName } from './layout.js';
import type { Slot } from './members.js';
import type { Session } from './session.js';
import type { Stat, ZkClient } from './zk-client.js';

export interface Entry {
  id: number;
  priority: number;
  share: string;
  path: string;
}

/** A directory as last listed: its children and its stat then (null: it did not exist). */
class Listing {
  names: string[] = [];
  stat: Stat | null = null;
  /** When the listing was asked for (performance.now()). */
  sentAt = performance.now();
  /** Children known to be gone since the listing (removed from `names` or the index). */
  seenGone = 0;
  constructor(readonly dir: string) {}

  /** Compared with the directory's stat now: null when still complete, else why not. */
  staleness(now: Stat | null, limit: number): 'created' | 'gone' | null {
    if (!now || !this.stat) return now === this.stat ? null : 'created';
    const dv = now.cversion - this.stat.cversion;
    const dn = now.numChildren - this.stat.numChildren;
    if ((dv + dn) / 2 > 0) return 'created';
    return (dv - dn) / 2 - this.seenGone > limit ? 'gone' : null;
  }
}

/** A route's pending entries by priority, then share, each share in FIFO order. */
class Route {
  readonly byPriority = new Map<number, Map<string, Fifo<Entry>>>();
  /** The FIFOs split by slot, for the slot count last asked for (by priority and share). */
  private split: { count: number; fifos: Map<string, Fifo<Entry>[]> } | null = null;
  constructor(
    readonly listing: Listing,
    goneSince: (path: string) => number | undefined,
  ) {
    for (const name of listing.names.sort()) {
      const p = parsePendingName(name);
      // Gone after the listing was asked for (claimed here while it was in flight): it is stale already.
      if (!p || (goneSince(`${listing.dir}/${name}`) ?? -Infinity) > listing.sentAt) continue;
      let shares = this.byPriority.get(p.priority);
      if (!shares) this.byPriority.set(p.priority, (shares = new Map()));
      let fifo = shares.get(p.share);
      if (!fifo) shares.set(p.share, (fifo = new Fifo()));
      fifo.push({ ...p, path: `${listing.dir}/${name}` });
    }
  }

  get top(): number | null {
    let top: number | null = null;
    for (const p of this.byPriority.keys()) if (top === null || p > top) top = p;
    return top;
  }

  /**
   * The share's entries of one slot, in FIFO order (split once per slot count). Racing
   * instances take from different slots, so the entries another instance took, still in
   * this view, are not in the way of this instance's own.
   */
  slotFifo(priority: number, share: string, slot: Slot): Fifo<Entry> {
    if (this.split?.count !== slot.count) this.split = { count: slot.count, fifos: new Map() };
    const key = `${priority}|${share}`;
    let fifos = this.split.fifos.get(key);
    if (!fifos) {
      fifos = Array.from({ length: slot.count }, () => new Fifo<Entry>());
      const all = this.byPriority.get(priority)?.get(share);
      for (const e of all ? all.first(Infinity) : []) fifos[slotOf(e.id, slot.count)]!.push(e);
      this.split.fifos.set(key, fifos);
    }
    return fifos[slot.index]!;
  }

  /** Drops a gone entry; true if that was its share's last one here. */
  remove(e: Entry): boolean {
    const shares = this.byPriority.get(e.priority);
    const fifo = shares?.get(e.share);
    if (!shares || !fifo?.remove(e.id)) return false;
    this.split?.fifos.get(`${e.priority}|${e.share}`)?.[slotOf(e.id, this.split.count)]?.remove(e.id);
    this.listing.seenGone++;
    if (fifo.size > 0) return false;
    shares.delete(e.share);
    this.split?.fifos.delete(`${e.priority}|${e.share}`);
    if (shares.size === 0) this.byPriority.delete(e.priority);
    return true;
  }

  hasShare(share: string): boolean {
    for (const shares of this.byPriority.values()) if (shares.has(share)) return true;
    return false;
  }
}

/**
 * Deletions made elsewhere tolerated before a re-list: this many, or a quarter of the
 * listing if more. Racing instances take from different slots, so the entries gone are
 * mostly not in this instance's slot; re-listing a deep queue costs more than the few
 * stale picks it saves (a stale pick fails its multi and leaves the view).
 */
const GONE_SLACK = 128;
/**
 * How long a check that found the view complete is trusted while the bell stays silent:
 * long enough that a busy instance checks a few times per second instead of once per
 * claim, short enough that entries claimed elsewhere leave its view soon.
 */
const TRUST_MS = 100;
/** Kinds-and-labels signatures whose last check is remembered. */
const MAX_CHECKED = 1000;
/** Gone entries remembered at most, to keep them out of listings already in flight. */
const RECENTLY_GONE = 4096;
/** Shares remembered at most (the least recently served are forgotten first). */
const MAX_SHARES = 10_000;

export class QueueView {
  /** Label-set directories per kind directory. */
  private readonly kinds = new Map<string, Listing>();
  private readonly routes = new Map<string, Route>();
  private readonly loading = new Map<string, Promise<Listing>>();
  /** Route directories being re-listed: claims arriving meanwhile wait for the same new Route. */
  private readonly relisting = new Map<string, Promise<void>>();
  private readonly lastServed = new Map<string, number>();
  /** Checks sent in this turn of the event loop, by kinds and labels. */
  private readonly sameTurn = new Map<string, Promise<boolean>>();
  /** Entries found gone lately, and when: a listing asked for before that still shows them. */
  private readonly recentlyGone = new Map<string, number>();
  private served = 0;

  /** The last check found this view complete, in this bell epoch, at this time (by kinds and labels). */
  private readonly checked = new Map<string, { epoch: number; at: number }>();

  constructor(
    private readonly session: Session,
    private readonly bellEpoch: () => number = () => -1,
  ) {}

  private get layout() {
    return this.session.layout;
  }

  /**
   * Brings the view of these kinds up to date: one stat per directory (one multiRead), a
   * listing for each that gained entries. False if anything was re-listed. `now`: behind
   * a barrier the caller just sent, so neither a recent check nor one of this turn stands
   * for it; the stats still decide what is listed again (a directory nobody created
   * entries in since its listing is as complete as a fresh listing would be).
   */
  verify(zk: ZkClient, kinds: readonly string[], offered: ReadonlySet<string>, now = false): Promise<boolean> {
    // Claims started in the same iteration of the event loop (a multi-ticket claim, the
    // claims of every HTTP request read in one poll) share one check. Its requests leave
    // corked until the iteration's I/O callbacks are done (ZkClient), so the check is
    // still answered after every reply this iteration has read, such as a post's. (Checks
    // behind a barrier share only with each other: each of them was asked for after it.)
    const key = `${kinds.join(',')}|${[...offered].sort().join(',')}`;
    // No bell since a check that found the view complete, and that check is recent: no
    // entry was created since (every transaction that creates one rings the bell).
    // Deletions made elsewhere are caught by the next check, within TRUST_MS.
    const epoch = this.bellEpoch();
    const last = now ? undefined : this.checked.get(key);
    if (epoch >= 0 && last?.epoch === epoch && performance.now() - last.at < TRUST_MS) return Promise.resolve(true);
    const turnKey = now ? `now|${key}` : key;
    let check = this.sameTurn.get(turnKey);
    if (!check) {
      const at = performance.now();
      check = this.verifyNow(zk, kinds, offered).then((fresh) => {
        if (fresh && epoch >= 0) this.remember(key, { epoch, at });
        return fresh;
      });
      if (this.sameTurn.size === 0) setImmediate(() => this.sameTurn.clear());
      this.sameTurn.set(turnKey, check);
    }
    return check;
  }

  private remember(key: string, check: { epoch: number; at: number }): void {
    this.checked.delete(key);
    this.checked.set(key, check);
    if (this.checked.size > MAX_CHECKED) this.checked.delete(this.checked.keys().next().value!);
  }

  private async verifyNow(zk: ZkClient, kinds: readonly string[], offered: ReadonlySet<string>): Promise<boolean> {
    const results = await Promise.all(kinds.map((kind) => this.verifyKind(zk, kind, offered)));
    return results.every(Boolean);
  }

  private async verifyKind(zk: ZkClient, kind: string, offered: ReadonlySet<string>): Promise<boolean> {
    const kindDir = this.layout.queueKind(kind);
    const cached = this.kinds.get(kindDir);
    const dirs = cached ? this.routeDirs(cached, offered) : [];
    const stats = await Promise.all([kindDir, ...dirs].map((d) => zk.stat(d)));
    let fresh = cached !== undefined && cached.staleness(stats[0]!, Infinity) === null;
    const sets = fresh ? cached! : await this.list(zk, kindDir);
    this.kinds.set(kindDir, sets);
    const relist = this.routeDirs(sets, offered).map((dir) => {
      const i = dirs.indexOf(dir);
      const route = this.routes.get(dir);
      const why = i < 0 || !route ? 'new' : route.listing.staleness(stats[i + 1]!, Math.max(GONE_SLACK, route.listing.names.length / 4));
      const stale = why !== null;
      return stale ? this.relist(zk, dir) : null;
    });
    const relisted = relist.filter((p) => p !== null);
    if (relisted.length > 0) {
      fresh = false;
      await Promise.all(relisted);
      this.forgetEmptyShares();
    }
    return fresh;
  }

  private routeDirs(sets: Listing, offered: ReadonlySet<string>): string[] {
    return sets.names.filter((name) => parseLabelsName(name).every((label) => offered.has(label))).map((name) => `${sets.dir}/${name}`);
  }

  /**
   * One re-list per directory at a time, and one Route built from it: the claims of a
   * burst that all find the same route new or stale share it. (Each used to build its own
   * Route from the shared listing: 30 claims arriving over a few turns at a 40,000-entry
   * queue spent 2.4 s of the event loop building the same index 30 times.)
   */
  private relist(zk: ZkClient, dir: string): Promise<void> {
    let p = this.relisting.get(dir);
    if (!p) {
      p = this.list(zk, dir)
        .then((listing) => void this.routes.set(dir, new Route(listing, (path) => this.recentlyGone.get(path))))
        .finally(() => this.relisting.delete(dir));
      this.relisting.set(dir, p);
    }
    return p;
  }

  /** One listing in flight per directory: claims arriving meanwhile share it. */
  private list(zk: ZkClient, dir: string): Promise<Listing> {
    let p = this.loading.get(dir);
    if (!p) {
      p = (async () => {
        const listing = new Listing(dir);
        try {
          const { children, stat } = await zk.listChildren(dir);
          listing.names = children;
          listing.stat = stat;
        } catch (err) {
          if (!isZk(err, ZK.NO_NODE)) throw err;
        }
        return listing;
      })().finally(() => this.loading.delete(dir));
      this.loading.set(dir, p);
    }
    return p;
  }

  /**
   * The entry to claim, from the view as it is: the top priority, the least recently
   * served share, its oldest entry. Under contention (`spread` > 1) one of the first
   * `spread` in that order, at random, taken from this instance's slot of each share
   * when it has any (the entries of other slots near the head are mostly gone already:
   * their instances took them), else from all. Entries in `skip` (being claimed here) are
   * passed over.
   */
  pick(kinds: readonly string[], offered: ReadonlySet<string>, spread: number, skip: ReadonlySet<string>, slot: Slot | null): Entry | null {
    const routes: Route[] = [];
    for (const kind of kinds) {
      const sets = this.kinds.get(this.layout.queueKind(kind));
      for (const dir of sets ? this.routeDirs(sets, offered) : []) {
        const route = this.routes.get(dir);
        if (route) routes.push(route);
      }
    }
    const own = slot && spread > 1 ? slot : null;
    for (const priority of [...new Set(routes.map((r) => r.top))].filter((p) => p !== null).sort((a, b) => b - a)) {
      const found = (own ? this.pickAt(routes, priority, spread, skip, own) : null) ?? this.pickAt(routes, priority, spread, skip, null);
      if (found) return found;
      // everything of this priority is being claimed: try the next
    }
    return null;
  }

  private pickAt(routes: Route[], priority: number, spread: number, skip: ReadonlySet<string>, slot: Slot | null): Entry | null {
    const groups: { rank: number; fifo: Entry[] }[] = [];
    for (const route of routes) {
      for (const [share, all] of route.byPriority.get(priority) ?? []) {
        const fifo = slot ? route.slotFifo(priority, share, slot) : all;
        const live = fifo.first(spread, (e) => skip.has(e.path));
        if (live.length > 0) groups.push({ rank: this.lastServed.get(share) ?? -Infinity, fifo: live });
      }
    }
    groups.sort((a, b) => a.rank - b.rank || a.fifo[0]!.id - b.fifo[0]!.id);
    const order: Entry[] = [];
    for (let i = 0; order.length < spread && groups.some((g) => i < g.fifo.length); i++) {
      for (const g of groups) if (i < g.fifo.length && order.length < spread) order.push(g.fifo[i]!);
    }
    return order[Math.floor(Math.random() * order.length)] ?? null;
  }

  private routeOf(e: Entry): Route | undefined {
    return this.routes.get(e.path.slice(0, e.path.lastIndexOf('/')));
  }

  /** The first `n` entries of the FIFO `e` is in: what the next claims will likely pick. */
  ahead(e: Entry, n: number): Entry[] {
    return this.routeOf(e)?.byPriority.get(e.priority)?.get(e.share)?.first(n) ?? [];
  }

  /** The entry is gone (claimed here or elsewhere, or no longer pending). */
  gone(e: Entry, claimedHere: boolean): void {
    const route = this.routeOf(e);
    if (claimedHere) this.serve(e.share);
    this.recentlyGone.delete(e.path);
    this.recentlyGone.set(e.path, performance.now());
    if (this.recentlyGone.size > RECENTLY_GONE) this.recentlyGone.delete(this.recentlyGone.keys().next().value!);
    if (route?.remove(e) && ![...this.routes.values()].some((r) => r.hasShare(e.share))) this.lastServed.delete(e.share);
  }

  private serve(share: string): void {
    this.lastServed.delete(share); // re-inserted last: the map stays in serving order
    this.lastServed.set(share, ++this.served);
    for (const oldest of this.lastServed.keys()) {
      if (this.lastServed.size <= MAX_SHARES) break;
      this.lastServed.delete(oldest);
    }
  }

  private forgetEmptyShares(): void {
    const pending = new Set<string>();
    for (const route of this.routes.values()) for (const shares of route.byPriority.values()) for (const share of shares.keys()) pending.add(share);
    for (const share of this.lastServed.keys()) if (!pending.has(share)) this.lastServed.delete(share);
  }
}

/**
 * The slot an entry belongs to. Ticket ids are sequence numbers of a directory whose
 * counter also counts deletions, so consecutive ids often differ by 2: hash, then use the
 * high bits.
 */
export function slotOf(id: number, count: number): number {
  return (Math.imul(id, 0x9e3779b1) >>> 16) % count;
}
