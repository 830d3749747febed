import type { NewTicket, Ticket, TicketResult, TicketStatus } from '../core/ticket.js';
import type { ApiClient, CallOptions } from './api-client.js';

export interface LeaseGrant {
  ticket: Ticket;
  lease: { token: number; expiresAt: number; ttlMs: number };
}

export interface RenewAnswer {
  lease: { expiresAt: number };
  ttlMs: number;
  /** Someone cancelled the ticket: stop and complete it as cancelled. */
  cancelRequested: boolean;
}

/** One lease's answer in `renewMany`: renewed, or its own error (`lease_lost`, `not_found`, `unavailable`, …). */
export type Renewal = ({ id: string; ok: true } & RenewAnswer) | { id: string; ok: false; error: { code: string; message: string } };

export interface ClaimParams {
  workerId: string;
  kinds: string[];
  labels: string[];
  waitMs: number;
  claimId: string;
}

/** The ticket calls of the API, typed. */
export class TicketsApi {
  constructor(readonly client: ApiClient) {}

  async post(ticket: NewTicket, opts?: CallOptions): Promise<{ ticket: Ticket; created: boolean }> {
    const res = await this.client.call<Ticket>('POST', '/api/v1/tickets', ticket, opts);
    return { ticket: res.body, created: res.status === 201 };
  }

  async list(filter: { status?: TicketStatus; kind?: string; job?: string; after?: string; limit?: number } = {}, opts?: CallOptions) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filter)) if (value !== undefined) query.set(key, String(value));
    const qs = query.size > 0 ? `?${query}` : '';
    return (await this.client.call<{ tickets: Ticket[]; next: string | null }>('GET', `/api/v1/tickets${qs}`, undefined, opts)).body;
  }

  async get(id: string, opts?: CallOptions): Promise<Ticket> {
    return (await this.client.call<Ticket>('GET', `/api/v1/tickets/${encodeURIComponent(id)}`, undefined, opts)).body;
  }

  /** Long poll; the same `claimId` on every retry so a lost answer never costs a second lease. */
  async claim(params: ClaimParams, opts: CallOptions = {}): Promise<LeaseGrant | null> {
    const res = await this.client.call<LeaseGrant>('POST', '/api/v1/tickets/claim', params, { ...opts, holdMs: params.waitMs });
    return res.status === 204 ? null : res.body;
  }

  /**
   * Long poll for up to `max` tickets (a worker's free slots), each with its own lease;
   * [] when `waitMs` passes. A retry with the same `claimId` returns the leases it already
   * won, never more than `max` in all.
   */
  async claimMany(params: ClaimParams & { max: number }, opts: CallOptions = {}): Promise<LeaseGrant[]> {
    const res = await this.client.call<{ grants: LeaseGrant[] }>('POST', '/api/v1/tickets/claim', params, { ...opts, holdMs: params.waitMs });
    return res.status === 204 ? [] : res.body.grants;
  }

  async renew(id: string, token: number, opts?: CallOptions): Promise<RenewAnswer> {
    return (await this.client.call<RenewAnswer>('POST', `/api/v1/tickets/${id}/renew`, { token }, opts)).body;
  }

  /** Renews several leases in one request; each answer is the lease renewed or that lease's own error. */
  async renewMany(leases: { id: string; token: number }[], opts?: CallOptions): Promise<Renewal[]> {
    return (await this.client.call<{ renewals: Renewal[] }>('POST', '/api/v1/tickets/renew', { leases }, opts)).body.renewals;
  }

  async cancel(id: string, opts?: CallOptions): Promise<Ticket> {
    return (await this.client.call<Ticket>('POST', `/api/v1/tickets/${id}/cancel`, undefined, opts)).body;
  }

  async complete(id: string, token: number, result: TicketResult, opts?: CallOptions): Promise<Ticket> {
    return (await this.client.call<Ticket>('POST', `/api/v1/tickets/${id}/complete`, { token, result }, opts)).body;
  }

  async release(id: string, token: number, opts?: CallOptions): Promise<Ticket> {
    return (await this.client.call<Ticket>('POST', `/api/v1/tickets/${id}/release`, { token }, opts)).body;
  }
}
