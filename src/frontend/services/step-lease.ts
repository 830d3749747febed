import type { Coordinator } from '../../coordination/contract.js';
import type { StepPayload } from '../../core/builds/step-payload.js';
import { LeaseLostError, ValidationError } from '../../core/errors.js';
import type { Ticket } from '../../core/ticket.js';

export interface LeasedStep {
  ticket: Ticket;
  payload: StepPayload;
  attempt: number;
}

/**
 * Fencing for step writes (console, workspace, artifacts, secrets): the ticket must be
 * leased under exactly this token. A worker whose lease was lost gets 409 lease_lost.
 * Writes are also keyed by attempt, so even a write racing a lease expiry lands in its own
 * attempt's space and never in its successor's.
 */
export async function requireStepLease(coordinator: Coordinator, ticketId: string, token: number): Promise<LeasedStep> {
  const ticket = await coordinator.get(ticketId);
  if (ticket.status !== 'leased' || ticket.lease?.token !== token) {
    throw new LeaseLostError(ticketId, token, ticket.status === 'leased' ? `the current token is ${ticket.lease?.token}` : `the ticket is ${ticket.status}`);
  }
  const payload = ticket.payload as Partial<StepPayload> | null;
  if (!payload || typeof payload.job !== 'string' || typeof payload.build !== 'number' || typeof payload.step !== 'string') {
    throw new ValidationError(`ticket ${ticketId} is not a build step (its payload names no job, build and step)`);
  }
  return { ticket, payload: payload as StepPayload, attempt: ticket.attempt };
}

export function parseToken(header: string | string[] | undefined): number {
  const raw = Array.isArray(header) ? header[0] : header;
  if (!raw || !/^[1-9][0-9]{0,15}$/.test(raw)) {
    throw new ValidationError('send the lease token in the x-distci-token header (a positive integer)');
  }
  return Number(raw);
}
