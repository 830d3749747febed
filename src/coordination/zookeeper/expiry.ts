/**
 * Lease expiry by ZooKeeper's clock, never a frontend's: "now" is the mtime of the clock
 * znode, which this sweep has just written (the leader stamps it), and a lease's last
 * renewal is its znode's mtime (stamped the same way). A lease is expired when
 * now - mtime > ttl + margin; the margin covers clock differences between successive
 * leaders. Returning a lease is one multi that checks the lease version it saw, so a
 * renewal that lands first wins, and writes the header expecting the token, so of several
 * frontends sweeping at once exactly one returns it.
 */
import { randomUUID } from 'node:crypto';
import { isZk } from './errors.js';
import { parse } from './layout.js';
import type { Session } from './session.js';
import { orNull, type Reservation, type Tickets } from './tickets.js';
import { afterLease, Transitions, WORKER_LOST } from './transitions.js';
import type { ZkClient } from './zk-client.js';

export class Expiry {
  private readonly transitions: Transitions;

  constructor(
    private readonly session: Session,
    private readonly tickets: Tickets,
    private readonly marginMs: number,
  ) {
    this.transitions = new Transitions(session, tickets);
  }

  async expireLeases(): Promise<number> {
    const l = this.session.layout;
    return this.session.run(async (zk) => {
      const ids = (await zk.getChildren(l.dir('leases'))).map(Number);
      if (ids.length === 0) return 0;
      // Writing the clock is also a barrier: the reads below are at least this fresh.
      const now = (await zk.setData(l.clock, Buffer.alloc(0), -1)).mtime;
      const leases = await Promise.all(ids.map((id) => zk.getData(l.lease(id)).catch(orNull)));
      let returned = 0;
      for (const [i, lease] of leases.entries()) {
        if (!lease || now - lease.stat.mtime <= parse<{ ttl: number }>(lease.data).ttl + this.marginMs) continue;
        if (await this.expire(zk, ids[i]!, lease.stat.version)) returned++;
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
