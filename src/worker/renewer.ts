/**
 * Keeps a worker's leases alive with one request per round for all of them
 * (`POST /tickets/renew`) instead of one request per lease: at 1,000 builds in flight that
 * was ~270 requests/s, each a quorum write on ZooKeeper. A round runs every third of the
 * shortest TTL held; a lease taken in between joins the next round, so it is renewed
 * earlier than its own third of the TTL would ask, never later. Each lease is told on its
 * own: renewed (and whether its ticket was cancelled), or lost — its token is stale
 * (`lease_lost`, `not_found`), or no round renewed it before it would have run out.
 */
import type { Logger } from 'pino';
import { ApiError } from '../client/api-client.js';
import type { Renewal, RenewAnswer, TicketsApi } from '../client/tickets-api.js';
import { MAX_RENEWALS } from '../core/ticket.js';

export interface HeldLease {
  id: string;
  token: number;
  ttlMs: number;
  renewed(answer: RenewAnswer): void;
  lost(err: Error): void;
}

interface Entry {
  lease: HeldLease;
  /** Local estimate; the coordinator's clock decides, this only stops us early. */
  expiresAt: number;
}

/** Leases per request: half of what the API takes, so one request stays small. */
const PER_REQUEST = MAX_RENEWALS / 2;
const LOST_CODES = new Set(['lease_lost', 'not_found']);

export class Renewer {
  private readonly held = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private round: AbortController | null = null;

  constructor(
    private readonly api: TicketsApi,
    private readonly log: Logger,
  ) {}

  /** Renews `lease` from the next round on, until the returned function is called. */
  hold(lease: HeldLease): () => void {
    const key = `${lease.id}#${lease.token}`;
    const entry: Entry = { lease, expiresAt: Date.now() + lease.ttlMs };
    this.held.set(key, entry);
    this.timer ??= setTimeout(() => void this.renewAll(), this.every());
    return () => {
      if (this.held.get(key) === entry) this.held.delete(key);
      if (this.held.size > 0) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.round?.abort();
    };
  }

  private every(): number {
    let shortest = Infinity;
    for (const { lease } of this.held.values()) shortest = Math.min(shortest, lease.ttlMs);
    return Math.max(50, Math.floor(shortest / 3));
  }

  private async renewAll(): Promise<void> {
    const fired = this.timer;
    const round = (this.round = new AbortController());
    const entries = [...this.held.values()];
    try {
      await Promise.all(chunks(entries, PER_REQUEST).map((chunk) => this.renewChunk(chunk, round.signal)));
    } finally {
      if (this.round === round) this.round = null;
      // Unless the last lease went meanwhile (and perhaps a new one started its own timer):
      // then this round's chain ends here, so there is never more than one.
      if (this.timer === fired) this.timer = this.held.size > 0 ? setTimeout(() => void this.renewAll(), this.every()) : null;
    }
  }

  private async renewChunk(chunk: Entry[], signal: AbortSignal): Promise<void> {
    const retryUntil = Math.min(...chunk.map((e) => e.expiresAt));
    let answers: Renewal[];
    try {
      answers = await this.api.renewMany(
        chunk.map((e) => ({ id: e.lease.id, token: e.lease.token })),
        { retryUntil, signal },
      );
    } catch (err) {
      // A frontend older than POST /tickets/renew (a rolling upgrade): one request per lease.
      if (err instanceof ApiError && err.status === 404) answers = await this.oneByOne(chunk, retryUntil, signal);
      else answers = this.failed(chunk, err, signal);
    }
    const now = Date.now();
    for (const [i, answer] of answers.entries()) {
      const entry = chunk[i]!;
      if (!this.isHeld(entry) || signal.aborted) continue;
      if (answer.ok) {
        entry.expiresAt = now + answer.ttlMs;
        entry.lease.renewed(answer);
      } else if (LOST_CODES.has(answer.error.code)) {
        this.forget(entry);
        entry.lease.lost(Object.assign(new Error(answer.error.message), { code: answer.error.code }));
      } else {
        this.dropExpired([entry], new Error(`${answer.error.code}: ${answer.error.message}`));
      }
    }
  }

  private oneByOne(chunk: Entry[], retryUntil: number, signal: AbortSignal): Promise<Renewal[]> {
    return Promise.all(
      chunk.map(async (entry): Promise<Renewal> => {
        const { lease } = entry;
        try {
          return { id: lease.id, ok: true, ...(await this.api.renew(lease.id, lease.token, { retryUntil, signal })) };
        } catch (err) {
          return this.failed([entry], err, signal)[0]!;
        }
      }),
    );
  }

  /** The answer for leases whose request failed: their own error code when the API gave one. */
  private failed(entries: readonly Entry[], err: unknown, signal: AbortSignal): Renewal[] {
    if (!signal.aborted && !(err instanceof ApiError && LOST_CODES.has(err.code))) {
      this.log.warn({ err, leases: entries.length }, 'could not renew leases; trying again next round');
    }
    const code = err instanceof ApiError ? err.code : 'unavailable';
    const message = err instanceof Error ? err.message : String(err);
    return entries.map(({ lease }) => ({ id: lease.id, ok: false, error: { code, message } }));
  }

  /** Leases that ran out unrenewed are lost; the others are tried again next round. */
  private dropExpired(entries: Entry[], err: Error): void {
    const now = Date.now();
    for (const entry of entries) {
      if (!this.isHeld(entry) || now < entry.expiresAt) continue;
      this.forget(entry);
      entry.lease.lost(err);
    }
  }

  private isHeld(entry: Entry): boolean {
    return this.held.get(`${entry.lease.id}#${entry.lease.token}`) === entry;
  }

  private forget(entry: Entry): void {
    this.held.delete(`${entry.lease.id}#${entry.lease.token}`);
  }
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
