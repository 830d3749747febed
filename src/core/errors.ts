/**
 * One error hierarchy for the whole system. Every error carries a stable string `code`
 * (part of the public API: clients branch on it) and a message that tells the reader
 * how to fix the problem. The frontend maps codes to HTTP statuses in one place
 * (`src/frontend/errors.ts`); the worker client maps them back.
 */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_name'
  | 'malformed_json'
  | 'body_too_large'
  | 'unsupported_media_type'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'route_not_found'
  | 'conflict'
  | 'lease_lost'
  | 'idempotency_mismatch'
  | 'unavailable'
  | 'internal';

export class DistciError extends Error {
  readonly code: ErrorCode;
  /** Typed context for logs and API clients (ticket id, lease token, ...). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }

  /** Retrying the same request later may succeed. */
  get retryable(): boolean {
    return this.code === 'unavailable' || this.code === 'internal';
  }
}

export class ValidationError extends DistciError {
  constructor(message: string, details: Record<string, unknown> = {}, code: ErrorCode = 'invalid_request') {
    super(code, message, details);
  }
}

export class NotFoundError extends DistciError {
  constructor(what: string, id: string) {
    super('not_found', `${what} '${id}' does not exist; check the id (list them with GET on the collection)`, {
      what,
      id,
    });
  }
}

export class ConflictError extends DistciError {
  constructor(message: string, details: Record<string, unknown> = {}, code: ErrorCode = 'conflict') {
    super(code, message, details);
  }
}

/** A write carried a fencing token that is no longer the ticket's current lease. */
export class LeaseLostError extends ConflictError {
  constructor(ticketId: string, token: number, reason: string) {
    super(
      `lease token ${token} of ticket ${ticketId} is no longer valid (${reason}); ` +
        'stop working on this ticket: another holder may own it now',
      { ticketId, token, reason },
      'lease_lost',
    );
  }
}

/** The backing service cannot be reached right now; the same call may succeed later. */
export class UnavailableError extends DistciError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('unavailable', message, details);
  }
}
