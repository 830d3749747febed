/**
 * Glossary
 * - ticket: a unit of work posted by a caller and pulled by a worker of its `kind`.
 * - labels: capabilities a worker must have to serve a ticket (ticket labels ⊆ worker labels).
 * - route: the canonical (kind, sorted labels) pair; tickets of one route are one queue.
 * - share: whose turn a ticket counts against in fair share — its job (`refs.job`), or ''
 *   for tickets outside any job. Claims take the highest priority first; within it, the
 *   share served least recently; within a share, first in, first out. So one job's flood
 *   of tickets delays another job's ticket by one turn, not by the whole flood.
 * - lease: the right of one holder to work on a ticket until `expiresAt`; renewed by the holder.
 * - token: the lease's fencing token. It strictly increases with every new lease of a ticket,
 *   and every write made on behalf of the ticket carries it; a stale token is refused.
 * - attempt: how many times the ticket has been leased; past `maxAttempts` an expired lease
 *   ends the ticket as `error` / `worker_lost` instead of putting it back in play.
 * - follow-up: a ticket posted atomically when this one ends, however it ends (completed,
 *   lost, cancelled). Pipelines use it so that no step result can go unnoticed.
 * - cancel: a pending ticket ends at once as `cancelled`; a leased one is flagged, and its
 *   holder learns it on the next renewal and stops.
 */
import { ValidationError } from './errors.js';

export type TicketStatus = 'pending' | 'leased' | 'done';
export const TICKET_STATUSES: readonly TicketStatus[] = ['pending', 'leased', 'done'];

export type Outcome = 'success' | 'failure' | 'error' | 'cancelled';
export const OUTCOMES: readonly Outcome[] = ['success', 'failure', 'error', 'cancelled'];

export interface TicketResult {
  /** success / failure (the work ran and failed) / error (infrastructure) / cancelled. */
  outcome: Outcome;
  /** Stable machine-readable reason for failure or error, e.g. `worker_lost`. */
  code?: string;
  message?: string;
  data?: unknown;
}

export interface TicketRefs {
  job?: string;
  build?: number;
  step?: string;
}

export interface Lease {
  holder: string;
  token: number;
  /** Milliseconds since the epoch, by the coordinator's clock. */
  expiresAt: number;
}

export interface LeaseRecord {
  attempt: number;
  holder: string;
  /** When the lease was granted (coordinator clock). */
  at: number;
}

export interface Ticket {
  id: string;
  kind: string;
  labels: string[];
  payload: unknown;
  refs: TicketRefs;
  priority: number;
  status: TicketStatus;
  attempt: number;
  maxAttempts: number;
  lease: Lease | null;
  /** The worker holding the lease, or the one that completed the ticket. */
  holder: string | null;
  /** Every lease granted so far, oldest first: who worked on each attempt, from when. */
  leases: LeaseRecord[];
  result: TicketResult | null;
  idempotencyKey: string | null;
  cancelRequested: boolean;
  /** Posted when this ticket ends; null when there is none. */
  followUp: NormalizedTicket | null;
  createdAt: number;
  updatedAt: number;
}

export interface NewTicket {
  kind: string;
  labels?: string[];
  payload?: unknown;
  refs?: TicketRefs;
  priority?: number;
  maxAttempts?: number;
  idempotencyKey?: string;
  followUp?: NewTicket;
}

export interface NormalizedTicket {
  kind: string;
  labels: string[];
  payload: unknown;
  refs: TicketRefs;
  priority: number;
  maxAttempts: number;
  idempotencyKey: string | null;
  followUp: NormalizedTicket | null;
}

export const DEFAULT_MAX_ATTEMPTS = 3;
export const MAX_PRIORITY = 1000;

/** The most tickets one claim request may ask for (a worker asks for its free slots, at most this). */
export const MAX_CLAIM = 64;
/** The most leases one batch renewal (`POST /tickets/renew`) may name. */
export const MAX_RENEWALS = 512;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._=-]{0,63}$/;

export function assertName(what: 'kind' | 'label', value: string): void {
  if (!NAME.test(value)) {
    throw new ValidationError(
      `${what} '${value}' is invalid: use 1-64 characters from A-Z a-z 0-9 . _ = -, starting with a letter or digit`,
      { field: what, value },
      'invalid_name',
    );
  }
}

/** Sorted, de-duplicated labels: the same capability set always has one spelling. */
export function canonicalLabels(labels: readonly string[]): string[] {
  for (const label of labels) assertName('label', label);
  return [...new Set(labels)].sort();
}

export function routeKey(kind: string, labels: readonly string[]): string {
  return `${kind}|${canonicalLabels(labels).join(',')}`;
}

/** The fair-share group a ticket belongs to (see the glossary). */
export function ticketShare(ticket: { refs: TicketRefs }): string {
  return ticket.refs.job ?? '';
}

/** A worker offering `offered` labels may serve a ticket requiring `required`. */
export function labelsSatisfy(required: readonly string[], offered: ReadonlySet<string>): boolean {
  return required.every((label) => offered.has(label));
}

/** Applies defaults and checks names; the coordinator stores exactly what this returns. */
export function normalizeNewTicket(input: NewTicket, depth = 0): NormalizedTicket {
  assertName('kind', input.kind);
  const priority = input.priority ?? 0;
  if (!Number.isInteger(priority) || Math.abs(priority) > MAX_PRIORITY) {
    throw new ValidationError(`priority must be an integer from -${MAX_PRIORITY} to ${MAX_PRIORITY}`, {
      field: 'priority',
    });
  }
  const maxAttempts = input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100) {
    throw new ValidationError('maxAttempts must be an integer from 1 to 100', { field: 'maxAttempts' });
  }
  if (input.followUp && depth > 0) {
    throw new ValidationError('a follow-up ticket cannot have a follow-up of its own', { field: 'followUp.followUp' });
  }
  return {
    kind: input.kind,
    labels: canonicalLabels(input.labels ?? []),
    payload: input.payload ?? null,
    refs: input.refs ?? {},
    priority,
    maxAttempts,
    idempotencyKey: input.idempotencyKey ?? null,
    followUp: input.followUp ? normalizeNewTicket(input.followUp, depth + 1) : null,
  };
}

/** The fields that make two posts "the same request" for idempotency. */
export function sameRequest(ticket: Ticket, input: NormalizedTicket): boolean {
  return (
    ticket.kind === input.kind &&
    ticket.priority === input.priority &&
    ticket.labels.join(',') === input.labels.join(',') &&
    JSON.stringify(ticket.payload) === JSON.stringify(input.payload)
  );
}
