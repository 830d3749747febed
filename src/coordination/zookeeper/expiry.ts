/**
 * Lease expiry by ZooKeeper's clock, never a frontend's: "now" is the mtime of the clock
 * znode, which this sweep has just written (the leader stamps it), and a lease's last
 * renewal is its znode's mtime (stamped the same way). A lease is expired when
 * now - mtime > ttl + margin; the margin covers clock differences between successive
 * leaders. Returning a lease is one multi that checks the lease version it saw, so a
 * renewal that lands first wins, and writes the header expecting the token, so of several
 * frontends sweeping at once exactly one returns it. Each instance remembers the mtimes it
 * read, so a sweep reads only the leases new to it or possibly due; a frontend's routine
 * sweep leaves the leases granted or renewed elsewhere to that instance, as a backup.
 */
import { randomUUID } from 'node:crypto';
import { isZk } from './errors.js';
import { parse } from './layout.js';
import type { Session } from './session.js';
import { orNull, type Reservation, type Tickets } from './tickets.js';
import { afterLease, Transitions, WORKER_LOST } from './transitions.js';
import type { ZkClient } from './zk-client.js';

/** Leases read per round trip of a sweep. */
const BATCH = 256;
/**
 * How long what this instance read of a lease is trusted at most, counted from the read.
 * A lease renewed or re-granted through another instance with a shorter TTL may be due
 * earlier than remembered; it is read again within this time (changes made through this
 * instance are forgotten at once). Counted from the lease's mtime instead, every lease
 * older than this was read again by every sweep: with 12,000 long leases, 12,000 reads a
 * second per frontend.
 */
export const LEASE_TRUST_MS = 5_000;
/**
 * Routine sweeps: how long a lease granted and renewed only through other instances is
 * left to them before this one reads it, and how long such a read is trusted. Each
 * frontend reading every lease another one granted was one extra ZooKeeper read per claim
 * per frontend; this is what it costs instead when the granting frontend died with its
 * workers: the lease comes back up to this much later.
 */
export const LEASE_BACKUP_MS = 10_000;

export interface ExpiryOptions {
  /** Added to every TTL: covers clock differences between successive leaders. */
  marginMs: number;
  trustMs: number;
  backupMs: number;
}

/** A lease as this instance last saw it, by ZooKeeper's clock. */
interface Seen {
  mtime: number;
  ttl: number;
  /** The clock when it was read (or granted or renewed through this instance). */
  readAt: number;
  /** Granted or renewed through this instance: its routine sweeps are in charge of it. */
  own: boolean;
}

export class Expiry {
  private readonly transitions: Transitions;
  /**
   * What this instance last read of each lease: its mtime only grows (renewals), so a lease
   * not yet due by the time remembered is not due at all and is not read again until it
   * may be. A sweep reads the leases that are new to it or may be due, not all of them.
   */
  private readonly seen = new Map<number, Seen>();
  /** Leases a routine sweep listed but left to their instance: the clock when first listed. */
  private readonly foreign = new Map<number, number>();
  /** Leases read by sweeps so far (diagnostics and tests). */
  reads = 0;

  constructor(
    private readonly session: Session,
    private readonly tickets: Tickets,
    private readonly options: ExpiryOptions,
  ) {
    this.transitions = new Transitions(session, tickets);
  }

  /** A lease of this ticket is changing through this instance: read it afresh. */
  forget(id: number): void {
    this.seen.delete(id);
  }

  /** A lease granted or renewed through this instance: no need to read it. */
  remember(id: number, mtime: number, ttl: number): void {
    this.seen.set(id, { mtime, ttl, readAt: mtime, own: true });
    this.foreign.delete(id);
  }

  /**
   * Reads the leases that are new to this instance or may be due, and returns the expired.
   * A routine sweep reads a lease this instance neither granted nor renewed only as a
   * backup: once listed for `backupMs`, then every `backupMs` (unless due by what it read).
   */
  async expireLeases(routine = false): Promise<number> {
    const l = this.session.layout;
    const { marginMs, trustMs, backupMs } = this.options;
    return this.session.run(async (zk) => {
      const ids = (await zk.getChildren(l.dir('leases'))).map(Number);
      const listed = new Set(ids);
      for (const id of this.seen.keys()) if (!listed.has(id)) this.seen.delete(id);
      for (const id of this.foreign.keys()) if (!listed.has(id)) this.foreign.delete(id);
      if (ids.length === 0) return 0;
      // Writing the clock is also a barrier: the reads below are at least this fresh.
      const now = (await zk.setData(l.clock, Buffer.alloc(0), -1)).mtime;
      const due = (lease: Seen): boolean => now - lease.mtime > lease.ttl + marginMs;
      const maybe = ids.filter((id) => {
        const known = this.seen.get(id);
        if (known) return due(known) || now - known.readAt > (routine && !known.own ? backupMs : trustMs);
        if (!routine) return true;
        const since = this.foreign.get(id);
        if (since === undefined) this.foreign.set(id, now);
        return since !== undefined && now - since > backupMs;
      });
      this.reads += maybe.length;
      let returned = 0;
      for (let i = 0; i < maybe.length; i += BATCH) {
        const batch = maybe.slice(i, i + BATCH);
        const leases = await Promise.all(batch.map((id) => zk.getData(l.lease(id)).catch(orNull)));
        for (const [j, lease] of leases.entries()) {
          const id = batch[j]!;
          if (!lease) continue;
          this.foreign.delete(id);
          const known = { mtime: lease.stat.mtime, ttl: parse<{ ttl: number }>(lease.data).ttl, readAt: now, own: this.seen.get(id)?.own ?? false };
          this.seen.set(id, known);
          if (due(known) && (await this.expire(zk, id, lease.stat.version))) {
            returned++;
            this.seen.delete(id);
          }
        }
      }
      return returned;
    });
  }

  /** Requeues the ticket, or ends it as worker_lost past its attempts; false if someone was first. */
  private async expire(zk: ZkClient, id: number, leaseVersion: number): Promise<boolean> {
    const s = await this.tickets.read(zk, id);
    if (!s || s.header.status !== 'leased' || !s.lease) return false;
    const op = randomUUID();
    const final = s.header.attempt >= s.header.maxAttempts;
    const held: { reservation: Reservation | null } = { reservation: null };
    const reserve = async (): Promise<Reservation> => (held.reservation ??= await this.tickets.reserve(zk));
    const header = final
      ? afterLease(s, op, { status: 'done', result: WORKER_LOST })
      : afterLease(s, op, { status: 'pending', holder: null });
    const ops = final ? await this.transitions.end(zk, s, header, reserve) : this.transitions.requeue(s, header);
    try {
      // The version seen may be 0 (never renewed): the client wrapper keeps it from becoming "any".
      await zk.multi([{ op: 'check', path: this.session.layout.lease(id), version: leaseVersion }, ...ops]);
      if (held.reservation) held.reservation.path = null; // the multi removed it
      return true;
    } catch (err) {
      if (isZk(err) && err.opIndex !== undefined) return false; // renewed, or another sweeper won
      throw err;
    } finally {
      void this.tickets.unreserve(zk, held.reservation);
    }
  }
}
