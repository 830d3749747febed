/**
 * The multi-ops that move a ticket from one state to another, shared by the lease
 * operations and expiry. Every transition writes the header expecting the version it
 * read, so of two racing transitions exactly one commits; ending a lease also removes
 * the lease znode (which fails while an unseen cancel flag is under it) and the claim entry.
 */
import type { NormalizedTicket, TicketResult } from '../../core/ticket.js';
import { closeLease, type Header } from './layout.js';
import type { Session } from './session.js';
import { headerBytes, ringBell, type Reservation, type Tickets, type TicketState } from './tickets.js';
import type { Op, ZkClient } from './zk-client.js';

export const CANCELLED: TicketResult = { outcome: 'cancelled', code: 'cancelled', message: 'cancelled before a worker took it' };

export const WORKER_LOST: TicketResult = {
  outcome: 'error',
  code: 'worker_lost',
  message: 'worker lost: the lease expired on the last allowed attempt',
};

/** The header once its live lease ends (the lease's grant time, the old mtime, is fixed). */
export function afterLease(s: TicketState, op: string, changes: Partial<Header>): Header {
  return {
    ...s.header,
    leases: closeLease(s.header, s.stat.mtime),
    claimKey: null,
    cancelRequested: s.header.cancelRequested || s.cancel,
    op,
    ...changes,
  };
}

export class Transitions {
  constructor(
    private readonly session: Session,
    private readonly tickets: Tickets,
  ) {}

  private get layout() {
    return this.session.layout;
  }

  /** Writes the header, expecting the version that was read (the token while leased). */
  setHeader(s: TicketState, header: Header): Op {
    return {
      op: 'set',
      path: this.layout.ticket(s.id),
      data: headerBytes(header),
      version: s.stat.version,
      meaning: { what: 'fence', ticketId: String(s.id), token: s.stat.version },
    };
  }

  endLease(s: TicketState): Op[] {
    const l = this.layout;
    const ops: Op[] = [];
    if (s.cancel) ops.push({ op: 'remove', path: l.cancelFlag(s.id), version: -1 });
    ops.push({ op: 'remove', path: l.lease(s.id), version: -1 });
    if (s.header.claimKey) ops.push({ op: 'remove', path: l.claim(s.header.claimKey), version: -1 });
    return ops;
  }

  /** Back in its queue, and the bell rung so parked claims look again. */
  requeue(s: TicketState, header: Header): Op[] {
    return [
      this.setHeader(s, header),
      ...(s.header.status === 'leased' ? this.endLease(s) : []),
      { op: 'create', path: this.layout.pending(s.header, s.id) },
      this.bell(),
    ];
  }

  bell(): Op {
    return ringBell(this.layout);
  }

  /**
   * Ends the ticket with `result`: header, lease (if any), pending entry (if pending), and
   * the follow-up posted in the same transaction.
   */
  async end(
    zk: ZkClient,
    s: TicketState,
    header: Header,
    reserve: () => Promise<Reservation>,
  ): Promise<Op[]> {
    const ops: Op[] = [this.setHeader(s, header)];
    if (s.header.status === 'leased') ops.push(...this.endLease(s));
    if (s.header.status === 'pending') ops.push({ op: 'remove', path: this.layout.pending(s.header, s.id), version: -1 });
    if (s.header.followUp) ops.push(...(await this.followUp(zk, s.header.followUp, reserve, header.op)));
    return ops;
  }

  private async followUp(zk: ZkClient, t: NormalizedTicket, reserve: () => Promise<Reservation>, op: string): Promise<Op[]> {
    const plan = await this.tickets.planPost(zk, t, await reserve(), op);
    return plan.header ? [...plan.ops, this.bell()] : [];
  }
}
