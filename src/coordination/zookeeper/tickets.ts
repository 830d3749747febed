/**
 * Posting and reading tickets. A post is one multi-op: the header, its pending entry in
 * its queue, its index entries, its idempotency key, a bell write (the watch that wakes
 * long polls) and the removal of the id reservation. The same ops post follow-ups inside
 * the transaction that ends a ticket, and the ticket of `createNumbered`.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../../core/errors.js';
import { normalizeNewTicket, sameRequest, type NewTicket, type NormalizedTicket, type Ticket } from '../../core/ticket.js';
import type { PostOutcome, QueueStat, ReadFreshness, TicketFilter } from '../contract.js';
import { isZk, ZK } from './errors.js';
import { dec, json, newHeader, parse, parseLabelsName, parsePendingName, parseTicketId, toTicket, type Header, type Layout, type LeaseState } from './layout.js';
import type { Session } from './session.js';
import type { Op, Stat, ZkClient } from './zk-client.js';

/** ZooKeeper refuses requests over ~1 MB; a header also travels inside multi-ops with a follow-up. */
export const MAX_HEADER_BYTES = 256 * 1024;

export interface Reservation {
  id: number;
  /** The ephemeral reservation node, removed by the post; null once gone with its session. */
  path: string | null;
}

export interface TicketState {
  id: number;
  header: Header;
  stat: Stat;
  /** The lease znode while leased (its mtime is the last grant or renewal). */
  lease: LeaseState | null;
  /** A cancel was requested while leased (the `cancel` child of the lease). */
  cancel: boolean;
}

export interface PostPlan {
  ops: Op[];
  /** The header to be written; null when the idempotency key already posted the same ticket. */
  header: Header | null;
  existing: Ticket | null;
}

/** The write that wakes every watcher of the bell: part of each transaction that makes work claimable. */
export function ringBell(layout: Layout): Op {
  return { op: 'set', path: layout.bell, data: Buffer.alloc(0), version: -1 };
}

export function headerBytes(header: Header): Buffer {
  const data = json(header);
  if (data.length > MAX_HEADER_BYTES) {
    throw new ValidationError(
      `ticket is ${data.length} bytes as stored; the ZooKeeper coordinator takes at most ${MAX_HEADER_BYTES}: ` +
        'keep payloads small and put large data in the store',
      { field: 'payload' },
    );
  }
  return data;
}

export class Tickets {
  /** `reader` serves `get` and `list` (see `Session`: reads that need not queue behind this instance's writes). */
  constructor(
    private readonly session: Session,
    private readonly reader: Session = session,
  ) {}

  get layout() {
    return this.session.layout;
  }

  async post(input: NewTicket): Promise<PostOutcome> {
    const t = normalizeNewTicket(input);
    headerBytes(newHeader(t, ''));
    const op = randomUUID();
    let reservation: Reservation | null = null;
    return this.session.run(async (zk, recovering) => {
      for (;;) {
        if (reservation && recovering) {
          const mine = await this.read(zk, reservation.id);
          if (mine) return { ticket: this.ticket(mine), created: true };
        }
        reservation ??= await this.reserve(zk);
        const plan = await this.planPost(zk, t, reservation, op);
        if (plan.existing) {
          void this.unreserve(zk, reservation);
          return { ticket: plan.existing, created: false };
        }
        try {
          const results = await zk.multi([...plan.ops, ringBell(this.layout)]);
          const bell = results[results.length - 1]!;
          const time = bell.op === 'set' ? bell.stat.mtime : 0;
          const stat: Stat = { version: 0, cversion: 0, ctime: time, mtime: time, ephemeralOwner: '', numChildren: 0 };
          return { ticket: toTicket(reservation.id, parse<Header>(json(plan.header!)), stat, null), created: true };
        } catch (err) {
          if (!this.retryablePost(err, reservation)) throw err;
        }
      }
    });
  }

  /** A race the post loses harmlessly: the key was just taken, or the reservation's session ended. */
  retryablePost(err: unknown, reservation: Reservation): boolean {
    if (isZk(err, ZK.NODE_EXISTS) && err.path?.startsWith(`${this.layout.dir('idem')}/`)) return true;
    if (isZk(err, ZK.NO_NODE) && err.path === reservation.path) {
      reservation.path = null;
      return true;
    }
    return false;
  }

  /** An id nobody else can take: the sequence number of an ephemeral-sequential node, + 1. */
  async reserve(zk: ZkClient): Promise<Reservation> {
    const path = await zk.create(this.layout.reservationPrefix(), Buffer.alloc(0), 'ephemeral-sequential');
    return { id: Number(path.slice(path.lastIndexOf('/') + 2)) + 1, path };
  }

  async unreserve(zk: ZkClient, reservation: Reservation | null): Promise<void> {
    if (!reservation?.path) return;
    await zk.remove(reservation.path, -1).catch(() => undefined);
    reservation.path = null;
  }

  /**
   * The ops that post `t` under the reserved id, after making sure their parent
   * directories exist. With an idempotency key already used: the same request → no ops,
   * the existing ticket; a different one → ConflictError.
   */
  async planPost(zk: ZkClient, t: NormalizedTicket, reservation: Reservation, op: string): Promise<PostPlan> {
    if (t.idempotencyKey !== null) {
      const existing = await this.byKey(zk, t.idempotencyKey);
      if (existing) {
        if (!sameRequest(existing, t)) {
          throw new ConflictError(
            `idempotency key '${t.idempotencyKey}' was already used for a different ticket (${existing.id}); ` +
              'use a new key for a new request',
            { ticketId: existing.id },
            'idempotency_mismatch',
          );
        }
        return { ops: [], header: null, existing };
      }
    }
    const l = this.layout;
    const id = reservation.id;
    const dirs = [l.ticketBucket(id), l.queue(t.kind, t.labels), l.byKind(t.kind)];
    if (t.refs.job !== undefined) dirs.push(l.byJob(t.refs.job));
    await this.session.ensureDirs(zk, dirs);
    const header = newHeader(t, op);
    const ops: Op[] = [
      { op: 'create', path: l.ticket(id), data: headerBytes(header) },
      { op: 'create', path: l.pending(t, id) },
      { op: 'create', path: `${l.byKind(t.kind)}/${id}` },
    ];
    if (t.refs.job !== undefined) ops.push({ op: 'create', path: `${l.byJob(t.refs.job)}/${id}` });
    if (t.idempotencyKey !== null) ops.push({ op: 'create', path: l.idem(t.idempotencyKey), data: json({ ticketId: id }) });
    if (reservation.path) ops.push({ op: 'remove', path: reservation.path, version: -1 });
    return { ops, header, existing: null };
  }

  private async byKey(zk: ZkClient, key: string): Promise<Ticket | null> {
    try {
      const { data } = await zk.getData(this.layout.idem(key));
      const state = await this.read(zk, parse<{ ticketId: number }>(data).ticketId);
      return state ? this.ticket(state) : null;
    } catch (err) {
      if (isZk(err, ZK.NO_NODE)) return null;
      throw err;
    }
  }

  async get(id: string, fresh: ReadFreshness = {}): Promise<Ticket> {
    const n = parseTicketId(id);
    if (n === null) throw new NotFoundError('ticket', id);
    const state = await this.reader.run((zk) => this.reader.fresh(zk, () => this.read(zk, n), fresh.since));
    if (!state) throw new NotFoundError('ticket', id);
    return this.ticket(state);
  }

  ticket(state: TicketState): Ticket {
    return toTicket(state.id, state.header, state.stat, state.lease);
  }

  /**
   * Header and lease (with its cancel flag), sent together. They are two reads, not one
   * snapshot: a leased header without its lease (the lease ended in between) is read again.
   */
  async read(zk: ZkClient, id: number): Promise<TicketState | null> {
    for (let i = 0; ; i++) {
      const l = this.layout;
      // Two getData, which go out with the turn's other reads as one multiRead; a cancel
      // request is the lease znode's child, so the lease's stat tells it (no `exists`).
      const [header, lease] = await Promise.all([zk.getData(l.ticket(id)).catch(orNull), zk.getData(l.lease(id)).catch(orNull)]);
      if (!header) return null;
      const h = parse<Header>(header.data);
      const cancel = lease !== null && lease.stat.numChildren > 0;
      const leaseState = lease ? { ttl: parse<{ ttl: number }>(lease.data).ttl, mtime: lease.stat.mtime, cancel } : null;
      if (h.status === 'leased' && !leaseState && i < 3) continue;
      return { id, header: h, stat: header.stat, lease: leaseState, cancel };
    }
  }

  async list(filter: TicketFilter): Promise<Ticket[]> {
    const limit = Math.min(filter.limit ?? 100, 1000);
    const after = filter.after ? (parseTicketId(filter.after) ?? 0) : 0;
    const l = this.layout;
    return this.reader.run((zk) => this.reader.fresh(zk, async () => {
      const out: Ticket[] = [];
      const take = async (ids: number[]): Promise<boolean> => {
        const sorted = ids.filter((id) => id > after).sort((a, b) => a - b);
        for (let i = 0; i < sorted.length && out.length < limit; i += 100) {
          const states = await Promise.all(sorted.slice(i, i + 100).map((id) => this.read(zk, id)));
          for (const s of states) {
            if (!s || out.length >= limit) continue;
            const h = s.header;
            if (filter.status && h.status !== filter.status) continue;
            if (filter.kind && h.kind !== filter.kind) continue;
            if (filter.job && h.refs.job !== filter.job) continue;
            out.push(this.ticket(s));
          }
        }
        return out.length >= limit;
      };
      if (filter.job || filter.kind) {
        const dir = filter.job ? l.byJob(filter.job) : l.byKind(filter.kind!);
        await take((await zk.getChildren(dir).catch(orEmpty)).map(Number));
        return out;
      }
      const buckets = (await zk.getChildren(l.dir('tickets'))).map(Number).sort((a, b) => a - b);
      for (const bucket of buckets.filter((b) => b >= Math.floor(after / 10_000))) {
        if (await take((await zk.getChildren(`${l.dir('tickets')}/${bucket}`).catch(orEmpty)).map(Number))) break;
      }
      return out;
    }));
  }
}

/** Depth of every non-empty queue and the posting time of its oldest ticket. */
export async function queueStats(tickets: Tickets, session: Session): Promise<QueueStat[]> {
  const l = tickets.layout;
  return session.run(async (zk) => {
    const out: QueueStat[] = [];
    for (const kindName of await zk.getChildren(l.dir('queues')).catch(orEmpty)) {
      const kind = dec(kindName);
      for (const labelsDir of await zk.getChildren(l.queueKind(kind)).catch(orEmpty)) {
        const labels = parseLabelsName(labelsDir);
        const ids = (await zk.getChildren(l.queue(kind, labels)).catch(orEmpty)).flatMap((n) => parsePendingName(n)?.id ?? []);
        if (ids.length === 0) continue;
        const oldest = await tickets.read(zk, Math.min(...ids));
        out.push({ kind, labels, pending: ids.length, oldestCreatedAt: oldest ? oldest.stat.ctime : null });
      }
    }
    return out;
  });
}

export function orNull(err: unknown): null {
  if (isZk(err, ZK.NO_NODE)) return null;
  throw err;
}

export function orEmpty(err: unknown): string[] {
  if (isZk(err, ZK.NO_NODE)) return [];
  throw err;
}
