/**
 * The coordinator contract, in CI terms. Every backend (embedded SQLite, ZooKeeper)
 * implements it and must pass `test/coordination/contract-suite.ts` unchanged.
 *
 * Guarantees every backend gives:
 * - claim/renew/complete/release are atomic; a ticket has at most one valid lease;
 *   each new lease of a ticket has a token strictly greater than all earlier ones.
 * - lease expiry is decided by one clock per backend (the backend says which), never by
 *   the clock of whichever frontend happens to ask.
 * - notifications are hints: a listener must re-check with `claim`, and a backend may
 *   merge or repeat them, never drop the last one after a change.
 * - calls fail with `UnavailableError` when the backend cannot be reached; any other
 *   native error is translated into a `DistciError` in the backend, in one place.
 */
import type { NewTicket, Ticket, TicketResult, TicketStatus } from '../core/ticket.js';

export interface ClaimRequest {
  workerId: string;
  kinds: string[];
  labels: string[];
  /** Lease time-to-live; the holder renews before it runs out. */
  ttlMs: number;
  /**
   * Client-chosen id of this claim attempt. A retry with the same id (after a lost
   * connection, on any frontend) returns the lease it already won instead of a second one.
   */
  claimId?: string;
}

export interface Claim {
  ticket: Ticket;
  token: number;
  expiresAt: number;
  /**
   * The ticket as JSON text, when the backend has it at hand without encoding it (the same
   * value as `ticket`): the frontend answers a claim with it instead of serialising again.
   */
  ticketJson?: string;
}

export interface TicketFilter {
  status?: TicketStatus;
  kind?: string;
  job?: string;
  /** Return tickets whose id sorts after this one (pagination cursor). */
  after?: string;
  limit?: number;
}

/** One queue: pending tickets of one kind and label set. */
export interface BackendRequests {
  /** Which connection sent them, e.g. ZooKeeper's `writer` or `reader` session. */
  connection: string;
  request: string;
  count: number;
}

export interface QueueStat {
  kind: string;
  labels: string[];
  pending: number;
  /** When the oldest pending ticket of this queue was posted (ms, coordinator clock). */
  oldestCreatedAt: number | null;
}

export interface PostOutcome {
  ticket: Ticket;
  /** False when an earlier post with the same idempotency key already created it. */
  created: boolean;
}

export interface VersionedRecord<T = unknown> {
  value: T;
  /** Compare-and-set version; starts at 1 and grows by one per write. */
  version: number;
}

/** The lease a write is made under: refused once the token is stale. */
export interface Fence {
  ticketId: string;
  token: number;
}

/** How fresh a read must be. */
export interface ReadFreshness {
  /**
   * The read sees every write acknowledged before this moment (a `performance.now()` of
   * this process, not later than the call); by default, every write acknowledged before the
   * call. A request's reads pass the request's arrival: read-your-writes for the client is
   * kept, and its later rounds of reads may share what the first waited for (on ZooKeeper,
   * one barrier per request instead of one per round). The embedded backend's reads are
   * always current.
   */
  since?: number;
}

export interface RecordPageRequest extends ReadFreshness {
  /** The last key of the previous page. */
  after?: string;
  limit?: number;
  /** Descending key order (`after` then means "before"). */
  reverse?: boolean;
}

export interface RecordPage<T> {
  records: (VersionedRecord<T> & { key: string })[];
  /** Pass as `after` for the next page; null at the end. */
  next: string | null;
}

export interface LockHandle {
  readonly name: string;
  /** Aborted when the backend can no longer guarantee the lock is ours. */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export interface ChangeHint {
  /** Kinds that may have claimable tickets now; undefined means "any". */
  kinds?: string[];
}

export type Unsubscribe = () => void;

export interface Coordinator {
  /** Backend name for logs and /readyz, e.g. `sqlite` or `zookeeper`. */
  readonly backend: string;

  /** Resolves when the backend serves requests; rejects with UnavailableError otherwise. */
  ready(): Promise<void>;
  close(): Promise<void>;

  // --- tickets -------------------------------------------------------------------------
  post(input: NewTicket): Promise<PostOutcome>;
  get(id: string, fresh?: ReadFreshness): Promise<Ticket>;
  list(filter: TicketFilter): Promise<Ticket[]>;
  /** Leases the most urgent claimable ticket (priority, then FIFO), or returns null. */
  claim(request: ClaimRequest): Promise<Claim | null>;
  renew(id: string, token: number, ttlMs: number): Promise<Claim>;
  /**
   * Records the result and ends the ticket, posting its follow-up in the same atomic step.
   * Repeating a successful completion is a no-op.
   */
  complete(id: string, token: number, result: TicketResult): Promise<Ticket>;
  /**
   * A pending ticket ends as `cancelled` (its follow-up posted); a leased one gets
   * `cancelRequested`, which its holder sees on renewal; a done one is left as it is.
   */
  cancel(id: string): Promise<Ticket>;
  /** Gives the ticket back to the queue without counting it as a failed attempt. */
  release(id: string, token: number): Promise<Ticket>;
  /**
   * Returns expired leases to the queue (or ends them as `worker_lost` past max attempts).
   * Idempotent housekeeping that any number of frontends may run at any time.
   * `routine`: the periodic sweep every frontend runs. A backend may then leave a lease to
   * the instance that granted or renewed it and check it itself only as a backup, later
   * (ZooKeeper: a lease it never saw is read once it has been listed for `leaseBackupMs`);
   * without it, every expired lease is returned.
   */
  expireLeases(options?: { routine?: boolean }): Promise<number>;

  /**
   * Removes tickets that have been done for longer than `retainMs` (by the backend's own
   * clock), at most `limit` per call, with their idempotency keys and index entries, and
   * returns how many it removed. Keeps the coordinator's size proportional to the work in
   * flight, not to history (finished builds keep their record in the store). Idempotent
   * housekeeping that any number of frontends may run at any time.
   */
  purgeDone(retainMs: number, limit: number): Promise<number>;

  /** Depth and age of every non-empty queue; cheap (no scan over done tickets). */
  queueStats(): Promise<QueueStat[]>;

  /**
   * Requests this instance sent to its backend since it opened, by connection and kind
   * (metrics only). Backends whose calls are not requests to a service (SQLite) omit it.
   */
  backendRequests?(): BackendRequests[];

  /** Called (as a hint) when tickets may have become claimable. */
  onClaimable(listener: (hint: ChangeHint) => void): Unsubscribe;

  // --- small shared state --------------------------------------------------------------
  /** Next value of a named counter, starting at 1; never repeats, never skips. */
  nextNumber(counter: string): Promise<number>;
  /** The last number a counter handed out (0 before the first); reads, never takes one. */
  currentNumber(counter: string, fresh?: ReadFreshness): Promise<number>;
  /**
   * Takes the counter's next number and creates the record `${prefix}${number padded to
   * 10 digits}` holding `value(number)` in one atomic step: a number exists only with its
   * record, so numbers never skip, even when the caller dies half-way. In the same step:
   * `ticket(number)` is posted, and `uniqueKey` is created holding `{number}` — when that
   * key exists already, nothing happens and ConflictError names the number it holds
   * (`details.number`): an idempotent create.
   */
  createNumbered<T>(
    counter: string,
    prefix: string,
    value: (n: number) => T,
    also?: { ticket?: (n: number) => NewTicket; uniqueKey?: string },
  ): Promise<VersionedRecord<T> & { number: number; key: string }>;
  getRecord<T>(key: string, fresh?: ReadFreshness): Promise<VersionedRecord<T> | null>;
  /**
   * Writes `value` if the record's version is `expectedVersion` (0: must not exist yet).
   * Throws ConflictError otherwise, so a concurrent write is never silently lost. With a
   * `fence`, the write also requires that lease to be current (LeaseLostError otherwise),
   * checked in the same atomic step.
   */
  putRecord<T>(key: string, value: T, expectedVersion: number, fence?: Fence): Promise<VersionedRecord<T>>;
  deleteRecord(key: string, expectedVersion: number): Promise<void>;
  /** Records whose key starts with `prefix`, in key order, paged by `after` (the last key seen). */
  listRecords<T>(prefix: string, page?: RecordPageRequest): Promise<RecordPage<T>>;
  /** Non-blocking named lock held until released or until this process stops renewing. */
  tryLock(name: string, holder: string): Promise<LockHandle | null>;
}
