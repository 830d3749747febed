/**
 * Lease operations. A claim is one multi-op: remove the pending entry, write the header
 * (status leased, expecting the version read), create the lease znode and the claim entry.
 * Exactly one of any number of racing claimers commits; the token is the header's new data
 * version, and only ownership changes write the header, so tokens strictly increase.
 * Renewal rewrites only the lease znode (its mtime, stamped by the leader, is the renewal
 * time); a cancel request is a child of the lease znode. Neither changes the token.
 */
import { randomUUID } from 'node:crypto';
import { LeaseLostError, NotFoundError } from '../../core/errors.js';
import { assertName, type Ticket, type TicketResult } from '../../core/ticket.js';
import type { Claim, ClaimRequest } from '../contract.js';
import { isZk, ZK } from './errors.js';
import { json, parse, parseTicketId, toTicket, type Header } from './layout.js';
import { MultiBatcher } from './batch.js';
import { HeadersAhead, READ_AHEAD } from './headers-ahead.js';
import type { Members } from './members.js';
import { QueueView, type Entry } from './queue-view.js';
import type { Session } from './session.js';
import { orNull, type Reservation, type Tickets, type TicketState } from './tickets.js';
import { afterLease, CANCELLED, Transitions } from './transitions.js';
import type { Op, Stat, ZkClient } from './zk-client.js';

/**
 * Under contention a claim picks at random among the first entries in claim order, so that
 * racing frontends spread over the queue instead of all losing but one: up to this many.
 */
const SPREAD = 16;
/** How long a race lost to another instance makes this one spread its claims. */
const CONTENDED_MS = 2_000;

export class Leases {
  private readonly transitions: Transitions;
  private readonly queues: QueueView;
  private readonly batch = new MultiBatcher();
  private readonly headers = new HeadersAhead();
  /** Pending entries this instance is claiming right now: its other claims try the next ones. */
  private readonly inFlight = new Set<string>();
  /**
   * Until when claims count as contended: a race lost to another instance contends the
   * next CONTENDED_MS. Counted in time, not in wins: an instance that went back to the
   * plain head of its view after a few dozen wins found it full of entries the other
   * instances had taken meanwhile (a fifth of its claims read a gone header).
   */
  private contendedUntil = 0;

  constructor(
    private readonly session: Session,
    private readonly tickets: Tickets,
    private readonly members: Members,
    /** The bell watch's epoch (`ClaimableWatch.epoch`): while it stays, the queue view needs no check. */
    bellEpoch: () => number,
  ) {
    this.transitions = new Transitions(session, tickets);
    this.queues = new QueueView(session, bellEpoch);
  }

  private get layout() {
    return this.session.layout;
  }

  /**
   * Picks an entry from this instance's view of the queues and, in the same round trip,
   * reads its header and checks that no entry appeared since the view was listed; then
   * one multi-op decides. A claim id already used is found through the multi's failure to
   * create its claim entry (or, when nothing is left to claim, by looking it up).
   */
  async claim(req: ClaimRequest): Promise<Claim | null> {
    const claimKey = this.layout.claimKey(req.workerId, req.claimId ?? randomUUID());
    const offered = new Set(req.labels);
    const kinds = [...new Set(req.kinds)].filter(validName);
    return this.session.run(async (zk, recovering) => {
      let synced = recovering;
      let relisted = false;
      let lost = 0;
      if (recovering) {
        const won = await this.findClaim(zk, claimKey, req.workerId);
        if (won) return won;
      }
      for (;;) {
        const spread = Math.min(SPREAD, (performance.now() < this.contendedUntil ? SPREAD : 1) + lost);
        const pick = this.queues.pick(kinds, offered, spread, this.inFlight, this.members.slot);
        if (pick) this.inFlight.add(pick.path);
        try {
          const [fresh, read]: [boolean, { data: Buffer; stat: Stat } | null] = await Promise.all([
            relisted ? true : this.queues.verify(zk, kinds, offered),
            pick ? this.headers.take(zk, (id) => this.layout.ticket(id), pick, () => this.queues.ahead(pick, READ_AHEAD)) : null,
          ]);
          relisted = !fresh;
          if (!fresh) continue; // entries appeared: pick again from the new listing
          if (!pick) {
            if (synced) {
              // Nothing to claim: unless an earlier try of this claim id already won a lease.
              const won = req.claimId === undefined ? null : await this.findClaim(zk, claimKey, req.workerId);
              return won;
            }
            // Our server may lag behind a post made through another: pass a barrier and check
            // the directories again behind it (sent together: the session keeps its requests
            // in order), re-listing those that gained entries. (Re-listing all of them, as
            // first built, was ~700 getChildren/s at 1,000 builds in flight: every parked
            // claim a bell woke and that found nothing listed each of its directories.) The
            // claims that come up empty in one turn — the parked claims one bell woke —
            // share the barrier and, for the same kinds and labels, the check behind it.
            await this.session.fresh(zk, () => this.queues.verify(zk, kinds, offered, true));
            synced = relisted = true;
            continue;
          }
          const outcome = await this.tryClaim(zk, pick, read, req, claimKey);
          this.headers.drop(pick.id);
          if (outcome === 'retried') {
            const won = await this.findClaim(zk, claimKey, req.workerId);
            if (won) return won;
          } else if (outcome === 'taken' || outcome === 'gone') {
            this.queues.gone(pick, false);
            this.contendedUntil = performance.now() + CONTENDED_MS;
            if (++lost > 200) return null; // a storm of claimers: let the caller come back
            synced = true; // a failed multi passed the leader: our reads are fresh now
          } else {
            this.queues.gone(pick, true);
            return outcome;
          }
        } finally {
          if (pick) this.inFlight.delete(pick.path);
        }
      }
    });
  }

  private async tryClaim(
    zk: ZkClient,
    c: Entry,
    read: { data: Buffer; stat: Stat } | null,
    req: ClaimRequest,
    claimKey: string,
  ): Promise<Claim | 'taken' | 'gone' | 'retried'> {
    const l = this.layout;
    if (!read) return 'gone';
    const h = parse<Header>(read.data);
    if (h.status !== 'pending') return 'gone';
    const header: Header = {
      ...h,
      status: 'leased',
      attempt: h.attempt + 1,
      holder: req.workerId,
      leases: [...h.leases, { attempt: h.attempt + 1, holder: req.workerId, at: null }],
      claimKey,
      op: randomUUID(),
    };
    try {
      const results = await this.batch.commit(zk, [
        { op: 'remove', path: c.path, version: -1 },
        { op: 'set', path: l.ticket(c.id), data: json(header), version: read.stat.version },
        { op: 'create', path: l.lease(c.id), data: json({ ttl: req.ttlMs }) },
        { op: 'create', path: l.claim(claimKey), data: json({ ticketId: c.id }) },
      ]);
      const set = results[1]!;
      if (set.op !== 'set') throw new Error('unreachable');
      const lease = { ttl: req.ttlMs, mtime: set.stat.mtime, cancel: false };
      // `header` was built from a fresh parse of the read and is not shared: no copy needed.
      return { ticket: toTicket(c.id, header, set.stat, lease), token: set.stat.version, expiresAt: lease.mtime + lease.ttl };
    } catch (err) {
      if (isZk(err) && err.opIndex === 3 && err.code === ZK.NODE_EXISTS) return 'retried';
      if (isZk(err) && err.opIndex === 0) return 'gone';
      if (isZk(err) && err.opIndex !== undefined) return 'taken';
      throw err;
    }
  }

  /** The live lease a claim with this key won, if any (the entry goes when the lease ends). */
  private async findClaim(zk: ZkClient, claimKey: string, workerId: string): Promise<Claim | null> {
    const entry = await zk.getData(this.layout.claim(claimKey)).catch(orNull);
    if (!entry) return null;
    const s = await this.tickets.read(zk, parse<{ ticketId: number }>(entry.data).ticketId);
    if (!s || s.header.status !== 'leased' || s.header.holder !== workerId || s.header.claimKey !== claimKey || !s.lease) return null;
    return { ticket: this.tickets.ticket(s), token: s.stat.version, expiresAt: s.lease.mtime + s.lease.ttl };
  }

  async renew(id: string, token: number, ttlMs: number): Promise<Claim> {
    const n = this.parse(id);
    const l = this.layout;
    return this.session.run(async (zk) => {
      let results;
      try {
        // Group commit: a worker renews all its leases in one request (POST /tickets/renew),
        // so they arrive in the same turn and go to the ensemble as one multi-op.
        results = await this.batch.commit(zk, [
          { op: 'check', path: l.ticket(n), version: token },
          { op: 'set', path: l.lease(n), data: json({ ttl: ttlMs }), version: -1 },
        ]);
      } catch (err) {
        if (isZk(err) && err.opIndex !== undefined) throw await this.whyNotHeld(zk, n, token);
        throw err;
      }
      // The lease as renewed is in the multi's answer: its mtime, and a cancel request is
      // its child. Only the header is read (sent after the multi's answer: sees its effect);
      // a renewal used to read the lease and the cancel flag too, three reads per lease.
      const header = await zk.getData(l.ticket(n)).catch(orNull);
      const set = results[1]!;
      if (!header || set.op !== 'set') throw await this.whyNotHeld(zk, n, token);
      const lease = { ttl: ttlMs, mtime: set.stat.mtime, cancel: set.stat.numChildren > 0 };
      return { ticket: toTicket(n, parse<Header>(header.data), header.stat, lease), token, expiresAt: set.stat.mtime + ttlMs };
    });
  }

  async complete(id: string, token: number, result: TicketResult): Promise<Ticket> {
    const n = this.parse(id);
    return this.ending(async (zk, reserve) => {
      const s = await this.mustRead(zk, n);
      if (s.header.status === 'done' && s.header.completedToken === token) return this.tickets.ticket(s);
      if (s.header.status !== 'leased' || s.stat.version !== token) throw this.notHeld(s, token);
      const header = afterLease(s, randomUUID(), { status: 'done', result, completedToken: token });
      return { ops: await this.transitions.end(zk, s, header, reserve), s, header };
    });
  }

  async release(id: string, token: number): Promise<Ticket> {
    const n = this.parse(id);
    const op = randomUUID();
    return this.ending(async (zk, _reserve, recovering) => {
      const s = await this.mustRead(zk, n);
      if (recovering && s.header.op === op) return this.tickets.ticket(s);
      if (s.header.status !== 'leased' || s.stat.version !== token) throw this.notHeld(s, token);
      const header = afterLease(s, op, { status: 'pending', holder: null });
      return { ops: this.transitions.requeue(s, header), s, header };
    });
  }

  /** Pending: ends now as cancelled (follow-up posted). Leased: flagged. Done: unchanged. */
  async cancel(id: string): Promise<Ticket> {
    const n = this.parse(id);
    return this.ending(async (zk, reserve) => {
      const s = await this.mustRead(zk, n);
      if (s.header.status === 'done') return this.tickets.ticket(s);
      if (s.header.status === 'leased') {
        if (!s.cancel) {
          try {
            await zk.create(this.layout.cancelFlag(n));
          } catch (err) {
            if (isZk(err, ZK.NO_NODE)) return null; // the lease ended meanwhile: look again
            if (!isZk(err, ZK.NODE_EXISTS)) throw err;
          }
        }
        return this.tickets.ticket((await this.tickets.read(zk, n)) ?? s);
      }
      const header: Header = { ...s.header, status: 'done', result: CANCELLED, cancelRequested: true, op: randomUUID() };
      return { ops: await this.transitions.end(zk, s, header, reserve), s, header };
    });
  }

  /**
   * Runs a transition until it commits or decides: `step` returns a ticket (nothing to
   * write), null (look again), or the ops to commit; a commit that loses a race is looked
   * at again (the failed multi passed the leader, so the next read is fresh). Reads come
   * from whichever server this session talks to and may lag behind another frontend's
   * write: a refusal (lease lost, not found) is only given after a barrier and a fresh look.
   */
  private async ending(
    step: (
      zk: ZkClient,
      reserve: () => Promise<Reservation>,
      recovering: boolean,
    ) => Promise<Ticket | null | { ops: Op[]; s: TicketState; header: Header }>,
  ): Promise<Ticket> {
    const held: { reservation: Reservation | null } = { reservation: null };
    try {
      return await this.session.run(async (zk, recovering) => {
        const reserve = async (): Promise<Reservation> => (held.reservation ??= await this.tickets.reserve(zk));
        let synced = recovering;
        for (let round = 0; ; round++) {
          let next;
          try {
            next = await step(zk, reserve, recovering);
          } catch (err) {
            if (synced || !(err instanceof LeaseLostError || err instanceof NotFoundError)) throw err;
            await this.session.barrier(zk);
            synced = true;
            continue;
          }
          if (next === null) continue;
          if (!('ops' in next)) return next;
          try {
            const results = await zk.multi(next.ops);
            const set = results[0]!;
            if (held.reservation) held.reservation.path = null; // the multi removed it
            return toTicket(next.s.id, parse<Header>(json(next.header)), set.op === 'set' ? set.stat : next.s.stat, null);
          } catch (err) {
            if (!isZk(err) || err.opIndex === undefined || round >= 50) throw err;
            synced = true;
            if (held.reservation) this.tickets.retryablePost(err, held.reservation);
          }
        }
      });
    } finally {
      void this.tickets.unreserve(this.session.client, held.reservation);
    }
  }

  private parse(id: string): number {
    const n = parseTicketId(id);
    if (n === null) throw new NotFoundError('ticket', id);
    return n;
  }

  private async mustRead(zk: ZkClient, n: number): Promise<TicketState> {
    const s = await this.tickets.read(zk, n);
    if (!s) throw new NotFoundError('ticket', String(n));
    return s;
  }

  private async whyNotHeld(zk: ZkClient, n: number, token: number): Promise<Error> {
    return this.notHeld(await this.mustRead(zk, n).catch((err: unknown) => err as TicketState), token);
  }

  private notHeld(s: TicketState | Error, token: number): Error {
    if (s instanceof Error) return s;
    const id = String(s.id);
    if (s.header.status === 'leased' && s.stat.version !== token) {
      return new LeaseLostError(id, token, `the current lease token is ${s.stat.version}`);
    }
    return new LeaseLostError(id, token, `the ticket is ${s.header.status} and no longer leased under this token`);
  }
}

/** A kind no ticket can have (a post checks names) has no queue to look at. */
function validName(kind: string): boolean {
  try {
    assertName('kind', kind);
    return true;
  } catch {
    return false;
  }
}
