import { EventEmitter, setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { newClaimId } from '../core/claim-id.js';
import { ApiError } from '../client/api-client.js';
import type { LeaseGrant, TicketsApi } from '../client/tickets-api.js';
import { MAX_CLAIM, type Ticket, type TicketResult } from '../core/ticket.js';
import { Renewer } from './renewer.js';


export interface TicketContext {
  ticket: Ticket;
  /** Fencing token: every write made for this ticket must carry it. */
  token: number;
  /** Aborted when the lease is lost or the worker shuts down; stop and write nothing more. */
  signal: AbortSignal;
  log: Logger;
}

export type TicketHandler = (ctx: TicketContext) => Promise<TicketResult>;

export interface WorkerOptions {
  api: TicketsApi;
  workerId: string;
  handlers: Record<string, TicketHandler>;
  labels: string[];
  concurrency: number;
  log: Logger;
  /** How long one claim long poll waits before asking again. */
  claimWaitMs?: number;
}

export interface WorkerEvents {
  claimed: [ticket: Ticket];
  completed: [ticket: Ticket, result: TicketResult];
  lost: [ticketId: string, token: number];
  released: [ticketId: string];
}

const isLeaseLost = (err: unknown): boolean => err instanceof ApiError && (err.code === 'lease_lost' || err.code === 'not_found');

/**
 * Pull-based worker: up to `concurrency` tickets at once. One long poll asks for as many
 * tickets of its kinds as it has free slots (`max`), and each runs with its lease renewed
 * in the background while the handler runs. A lost lease (409) aborts the handler and
 * nothing more is written under its token. `stop()` stops claiming, lets running tickets
 * finish within a grace period, then aborts them and releases their tickets back to the
 * queue.
 */
export class Worker extends EventEmitter<WorkerEvents> {
  private readonly stopClaiming = new AbortController();
  private readonly shutdown = new AbortController();
  private claiming: Promise<void> | null = null;
  private readonly running = new Set<Promise<void>>();
  /** Resolves the claim loop's wait for a free slot. */
  private slotFreed: (() => void) | null = null;
  private readonly kinds: string[];
  private readonly renewer: Renewer;

  constructor(private readonly options: WorkerOptions) {
    super();
    this.kinds = Object.keys(options.handlers);
    this.renewer = new Renewer(options.api, options.log);
    // Every running ticket's signal listens to shutdown: as many listeners as slots, by design.
    setMaxListeners(options.concurrency + 10, this.shutdown.signal);
  }

  start(): void {
    this.claiming ??= this.claimLoop();
  }

  /** Stops claiming; after `graceMs`, aborts running handlers and releases their tickets. */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopClaiming.abort();
    this.slotFreed?.();
    const timer = setTimeout(() => this.shutdown.abort(), graceMs);
    await this.claiming;
    await Promise.all(this.running);
    clearTimeout(timer);
  }

  private async claimLoop(): Promise<void> {
    const log = this.options.log;
    while (!this.stopClaiming.signal.aborted) {
      const free = this.options.concurrency - this.running.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => (this.slotFreed = resolve));
        this.slotFreed = null;
        continue;
      }
      let grants: LeaseGrant[];
      try {
        grants = await this.options.api.claimMany(
          {
            workerId: this.options.workerId,
            kinds: this.kinds,
            labels: this.options.labels,
            waitMs: this.options.claimWaitMs ?? 30_000,
            claimId: newClaimId(),
            max: Math.min(free, MAX_CLAIM),
          },
          { signal: this.stopClaiming.signal },
        );
      } catch (err) {
        if (this.stopClaiming.signal.aborted) return;
        log.error({ err }, 'claim refused; check the worker token and its kinds and labels');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const grant of grants) {
        const task = this.run(grant, log)
          .catch((err: unknown) => log.error({ err, ticketId: grant.ticket.id }, 'running a ticket failed; its lease will expire'))
          .finally(() => {
            this.running.delete(task);
            this.slotFreed?.();
          });
        this.running.add(task);
      }
    }
  }

  private async run(grant: LeaseGrant, slotLog: Logger): Promise<void> {
    const { ticket } = grant;
    const token = grant.lease.token;
    const log = slotLog.child({ ticketId: ticket.id, kind: ticket.kind, token, attempt: ticket.attempt, ...ticket.refs });
    const handler = this.options.handlers[ticket.kind]!;
    const lease = new AbortController();
    const cancel = new AbortController();
    const signal = AbortSignal.any([lease.signal, cancel.signal, this.shutdown.signal]);
    const renewal = this.keepRenewing(ticket.id, token, grant.lease, { lease, cancel }, log);
    this.emit('claimed', ticket);
    log.info('ticket claimed');

    let result: TicketResult;
    try {
      result = await handler({ ticket, token, signal, log });
    } catch (err) {
      result = { outcome: 'error', code: 'handler_failed', message: (err as Error).message };
    }
    renewal.stop();
    if (cancel.signal.aborted && !lease.signal.aborted) {
      result = { outcome: 'cancelled', code: 'cancelled', message: 'cancelled while running' };
    }
    if (lease.signal.aborted) {
      log.warn('lease lost; the result is dropped and nothing more is written');
      this.emit('lost', ticket.id, token);
      return;
    }
    const api = this.options.api;
    try {
      if (this.shutdown.signal.aborted && !cancel.signal.aborted) {
        await api.release(ticket.id, token, { retryUntil: grant.lease.expiresAt });
        log.info('ticket released on shutdown');
        this.emit('released', ticket.id);
        return;
      }
      const done = await api.complete(ticket.id, token, result, { retryUntil: Date.now() + 10 * grant.lease.ttlMs });
      log.info({ outcome: result.outcome }, 'ticket completed');
      this.emit('completed', done, result);
    } catch (err) {
      if (isLeaseLost(err)) this.emit('lost', ticket.id, token);
      log.warn({ err }, 'could not record the outcome; the lease will expire and the ticket run again');
    }
  }

  /**
   * Holds the lease with the worker's renewer (all leases in one request per round);
   * aborts `lease` on 409 or when the lease ran out unrenewed, and `cancel` when the
   * coordinator says the ticket was cancelled.
   */
  private keepRenewing(
    id: string,
    token: number,
    initial: { expiresAt: number; ttlMs: number },
    { lease, cancel: cancelled }: { lease: AbortController; cancel: AbortController },
    log: Logger,
  ) {
    const stop = this.renewer.hold({
      id,
      token,
      ttlMs: initial.ttlMs,
      renewed: (answer) => {
        if (answer.cancelRequested && !cancelled.signal.aborted) {
          log.info('ticket cancelled; stopping it');
          cancelled.abort();
        }
      },
      lost: (err) => {
        log.warn({ err }, 'code' in err && err.code === 'lease_lost' ? 'lease lost' : 'could not renew the lease before it ran out');
        lease.abort(err);
      },
    });
    return { stop };
  }
}
