import type Database from 'better-sqlite3';
import { ConflictError, LeaseLostError, NotFoundError } from '../../core/errors.js';
import {
  normalizeNewTicket,
  routeKey,
  sameRequest,
  ticketShare,
  type NewTicket,
  type NormalizedTicket,
  type Ticket,
  type TicketResult,
} from '../../core/ticket.js';
import type { Claim, ClaimRequest, PostOutcome, QueueStat, TicketFilter } from '../contract.js';
import { parseSeq, ticketJson, toTicket, type TicketRow } from './rows.js';

const CANCELLED: TicketResult = { outcome: 'cancelled', code: 'cancelled', message: 'cancelled before a worker took it' };

const WORKER_LOST: TicketResult = {
  outcome: 'error',
  code: 'worker_lost',
  message: 'worker lost: the lease expired on the last allowed attempt',
};

/** What a claim writes into the ticket it leases. */
const LEASE_SET = `status = 'leased', attempt = attempt + 1, lease_holder = @holder,
        lease_token = lease_token + 1, lease_expires_at = @expiresAt, claim_id = @claimId, updated_at = @now,
        history = json_insert(history, '$[#]', json_object('attempt', attempt + 1, 'holder', @holder, 'at', @now))`;

/** A route (alias r) whose labels are all among the worker's offered ones (@offered, a JSON array). */
const OFFERED_LABELS = `NOT EXISTS (SELECT 1 FROM json_each(r.labels) l WHERE l.value NOT IN (SELECT value FROM json_each(@offered)))`;

/**
 * Claims of one (kinds, labels) signature within one transaction. After the first claim
 * walked the routes and served `route`, a second one asks once whether any other route it
 * could serve has the same or a higher priority. If none does (`sole`), the walk would pick
 * `route` again for every further claim in this transaction — nobody else writes inside
 * BEGIN IMMEDIATE, and this process's own posts and returns end the runs — so they lease
 * its head directly: no walk, no fair-share turn (serving the only candidate again would
 * not change its place against routes that have no work now). With a rival (`sole` false)
 * every claim walks, as fairness needs.
 */
interface ClaimRun {
  route: string;
  priority: number;
  sole: boolean | undefined;
}

/**
 * Ticket operations as SQL. Every mutation runs in `BEGIN IMMEDIATE` (a DEFERRED
 * read-then-write fails with SQLITE_BUSY under concurrency, see the notes), and every
 * read is a single autocommit statement so no transaction outlives a call.
 */
export class TicketQueries {
  private readonly s;
  private readonly runs = new Map<string, ClaimRun>();

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {
    this.s = {
      insert: db.prepare(`INSERT INTO tickets
        (kind, route, share, labels, payload, job, build, step, priority, status, max_attempts, idempotency_key, follow_up, created_at, updated_at)
        VALUES (@kind, @route, @share, @labels, @payload, @job, @build, @step, @priority, 'pending', @maxAttempts, @idempotencyKey, @followUp, @now, @now)
        RETURNING *`),
      byKey: db.prepare('SELECT * FROM tickets WHERE idempotency_key = ?'),
      bySeq: db.prepare('SELECT * FROM tickets WHERE seq = ?'),
      // `+status`: keep the planner on the claim_id index (a status index would scan every lease).
      byClaimId: db.prepare(`SELECT * FROM tickets WHERE claim_id = ? AND +status = 'leased' AND lease_holder = ?`),
      // The head has the lowest seq of its route, so it is also its oldest pending ticket.
      queueStats: db.prepare(`SELECT r.kind, r.labels, SUM(r.pending) AS pending, MIN(t.created_at) AS oldest
        FROM routes r JOIN tickets t ON t.seq = r.head_seq
        WHERE r.pending > 0 GROUP BY r.kind, r.labels ORDER BY r.kind, r.labels`),
      // In claim order (the routes_claim index): priority, least recently served share, oldest head.
      // The first of them whose labels are all among the offered ones (a JSON array).
      firstRouteOfKind: db.prepare(`SELECT route, priority, served, head_seq AS head, share FROM routes r
        WHERE kind = @kind AND pending > 0 AND ${OFFERED_LABELS}
        ORDER BY priority DESC, served, head_seq LIMIT 1`),
      // The most urgent other route of a kind the worker serves: does anything compete with a run?
      rivalPriority: db.prepare(`SELECT priority FROM routes r
        WHERE kind = @kind AND pending > 0 AND route <> @route AND ${OFFERED_LABELS}
        ORDER BY priority DESC LIMIT 1`).pluck(),
      nextTurn: db.prepare(`INSERT INTO counters (name, value) VALUES ('${FAIR_SHARE_TURN}', 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`).pluck(),
      served: db.prepare('UPDATE routes SET served = ? WHERE share = ?'),
      lease: db.prepare(`UPDATE tickets SET ${LEASE_SET}
        WHERE seq = @seq AND status = 'pending' RETURNING *`),
      leaseHead: db.prepare(`UPDATE tickets SET ${LEASE_SET}
        WHERE seq = (SELECT head_seq FROM routes WHERE route = @route AND pending > 0) AND status = 'pending' RETURNING *`),
      renew: db.prepare(`UPDATE tickets SET lease_expires_at = @expiresAt, updated_at = @now
        WHERE seq = @seq AND status = 'leased' AND lease_token = @token RETURNING *`),
      complete: db.prepare(`UPDATE tickets SET status = 'done', result = @result, completed_token = @token,
        lease_expires_at = NULL, claim_id = NULL, updated_at = @now
        WHERE seq = @seq AND status = 'leased' AND lease_token = @token RETURNING *`),
      release: db.prepare(`UPDATE tickets SET status = 'pending', lease_holder = NULL, lease_expires_at = NULL,
        claim_id = NULL, updated_at = @now
        WHERE seq = @seq AND status = 'leased' AND lease_token = @token RETURNING *`),
      expiredFinal: db.prepare(`SELECT seq FROM tickets
        WHERE status = 'leased' AND lease_expires_at < @now AND attempt >= max_attempts`),
      end: db.prepare(`UPDATE tickets SET status = 'done', result = @result, lease_expires_at = NULL,
        claim_id = NULL, updated_at = @now WHERE seq = @seq AND status <> 'done' RETURNING *`),
      purgeDone: db.prepare(`DELETE FROM tickets WHERE seq IN
        (SELECT seq FROM tickets WHERE status = 'done' AND updated_at < @before ORDER BY updated_at LIMIT @limit)`),
      flagCancel: db.prepare(`UPDATE tickets SET cancel_requested = 1, updated_at = @now
        WHERE seq = @seq AND status <> 'done' RETURNING *`),
      expireRetry: db.prepare(`UPDATE tickets SET status = 'pending', lease_holder = NULL, lease_expires_at = NULL,
        claim_id = NULL, updated_at = @now
        WHERE status = 'leased' AND lease_expires_at < @now`),
    };
  }

  post(input: NewTicket): PostOutcome & { claimable: boolean } {
    const t = normalizeNewTicket(input);
    return this.db.transaction(() => this.insert(t)).immediate();
  }

  /** The same post, inside a transaction the caller runs. */
  postInTransaction(input: NewTicket): PostOutcome & { claimable: boolean } {
    return this.insert(normalizeNewTicket(input));
  }

  /** Inside a transaction: the idempotent insert shared by post and follow-ups. */
  private insert(t: NormalizedTicket): PostOutcome & { claimable: boolean } {
    this.endRuns();
    if (t.idempotencyKey !== null) {
      const existing = this.s.byKey.get(t.idempotencyKey) as TicketRow | undefined;
      if (existing) {
        const ticket = toTicket(existing);
        if (!sameRequest(ticket, t)) {
          throw new ConflictError(
            `idempotency key '${t.idempotencyKey}' was already used for a different ticket (${ticket.id}); ` +
              'use a new key for a new request',
            { ticketId: ticket.id },
            'idempotency_mismatch',
          );
        }
        return { ticket, created: false, claimable: false };
      }
    }
    const row = this.s.insert.get({
      kind: t.kind,
      route: queueRoute(t),
      share: ticketShare(t),
      labels: JSON.stringify(t.labels),
      payload: JSON.stringify(t.payload),
      job: t.refs.job ?? null,
      build: t.refs.build ?? null,
      step: t.refs.step ?? null,
      priority: t.priority,
      maxAttempts: t.maxAttempts,
      idempotencyKey: t.idempotencyKey,
      followUp: t.followUp === null ? null : JSON.stringify(t.followUp),
      now: this.now(),
    }) as TicketRow;
    return { ticket: toTicket(row), created: true, claimable: true };
  }

  /** Inside a transaction: a ticket just ended; post its follow-up, if any. */
  private ended(row: TicketRow): boolean {
    if (row.follow_up === null) return false;
    return this.insert(JSON.parse(row.follow_up) as NormalizedTicket).claimable;
  }

  queueStats(): QueueStat[] {
    return (this.s.queueStats.all() as { kind: string; labels: string; pending: number; oldest: number | null }[]).map((r) => ({
      kind: r.kind,
      labels: JSON.parse(r.labels) as string[],
      pending: r.pending,
      oldestCreatedAt: r.oldest,
    }));
  }

  get(id: string): Ticket {
    const seq = parseSeq(id);
    const row = seq === null ? undefined : (this.s.bySeq.get(seq) as TicketRow | undefined);
    if (!row) throw new NotFoundError('ticket', id);
    return toTicket(row);
  }

  list(filter: TicketFilter): Ticket[] {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: Math.min(filter.limit ?? 100, 1000) };
    const add = (clause: string, name: string, value: unknown): void => {
      where.push(clause);
      params[name] = value;
    };
    if (filter.status) add('status = @status', 'status', filter.status);
    if (filter.kind) add('kind = @kind', 'kind', filter.kind);
    if (filter.job) add('job = @job', 'job', filter.job);
    if (filter.after) add('seq > @after', 'after', parseSeq(filter.after) ?? 0);
    const sql = `SELECT * FROM tickets ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq LIMIT @limit`;
    return (this.db.prepare(sql).all(params) as TicketRow[]).map(toTicket);
  }

  /**
   * Reads then writes one statement; runs inside the group commit's BEGIN IMMEDIATE, so no
   * other process can write between the reads and the lease.
   */
  claim(req: ClaimRequest): Claim | null {
    const offered = JSON.stringify(req.labels);
    const kinds = [...new Set(req.kinds)];
    const claimIn = (): Claim | null => {
      if (req.claimId !== undefined) {
        const won = this.s.byClaimId.get(req.claimId, req.workerId) as TicketRow | undefined;
        if (won) return toGrant(won);
      }
      const now = this.now();
      const lease = { holder: req.workerId, expiresAt: now + req.ttlMs, claimId: req.claimId ?? null, now };
      const signature = `${kinds.join(',')}|${offered}`;
      const run = this.runs.get(signature);
      if (run !== undefined) {
        run.sole ??= kinds.every((kind) => {
          const rival = this.s.rivalPriority.get({ kind, offered, route: run.route }) as number | undefined;
          return rival === undefined || rival < run.priority;
        });
        if (run.sole) {
          const row = this.s.leaseHead.get({ route: run.route, ...lease }) as TicketRow | undefined;
          if (row) return toGrant(row);
          this.runs.delete(signature); // the route ran dry: walk again
        }
      }
      let best: Candidate | undefined;
      for (const kind of kinds) {
        const first = this.s.firstRouteOfKind.get({ kind, offered }) as Candidate | undefined;
        if (first && (!best || comesBefore(first, best))) best = first;
      }
      if (!best) return null;
      this.s.served.run(this.s.nextTurn.get(), best.share);
      const row = this.s.lease.get({ seq: best.head, ...lease }) as TicketRow;
      const contested = run?.sole === false;
      this.runs.set(signature, { route: best.route, priority: best.priority, sole: contested ? false : undefined });
      return toGrant(row);
    };
    if (this.db.inTransaction) return claimIn();
    this.endRuns();
    return this.db.transaction(claimIn).immediate();
  }

  /**
   * A new transaction, or a write in this one that may add or return work: claim runs of
   * an earlier state are void. Called by the group commit at the start of each batch.
   */
  endRuns(): void {
    this.runs.clear();
  }

  renew(id: string, token: number, ttlMs: number): Claim {
    const now = this.now();
    const row = this.s.renew.get({ seq: parseSeq(id), token, expiresAt: now + ttlMs, now }) as TicketRow | undefined;
    if (!row) throw this.whyNotHeld(id, token);
    return toClaim(row);
  }

  complete(id: string, token: number, result: TicketResult): { ticket: Ticket; claimable: boolean } {
    return this.db
      .transaction(() => {
        const seq = parseSeq(id);
        const row = this.s.complete.get({ seq, token, result: JSON.stringify(result), now: this.now() }) as
          | TicketRow
          | undefined;
        if (row) return { ticket: toTicket(row), claimable: this.ended(row) };
        const current = seq === null ? undefined : (this.s.bySeq.get(seq) as TicketRow | undefined);
        // A retried completion whose first try committed: same token, already done.
        if (current && current.status === 'done' && current.completed_token === token) {
          return { ticket: toTicket(current), claimable: false };
        }
        throw this.whyNotHeld(id, token);
      })
      .immediate();
  }

  /** Pending: ends now as cancelled. Leased: flagged for its holder. Done: unchanged. */
  cancel(id: string): { ticket: Ticket; claimable: boolean } {
    return this.db
      .transaction(() => {
        const seq = parseSeq(id);
        const current = seq === null ? undefined : (this.s.bySeq.get(seq) as TicketRow | undefined);
        if (!current) throw new NotFoundError('ticket', id);
        const now = this.now();
        if (current.status === 'pending') {
          this.s.flagCancel.run({ seq, now });
          const row = this.s.end.get({ seq, result: JSON.stringify(CANCELLED), now }) as TicketRow;
          return { ticket: toTicket(row), claimable: this.ended(row) };
        }
        if (current.status === 'leased') return { ticket: toTicket(this.s.flagCancel.get({ seq, now }) as TicketRow), claimable: false };
        return { ticket: toTicket(current), claimable: false };
      })
      .immediate();
  }

  release(id: string, token: number): Ticket {
    this.endRuns();
    const row = this.s.release.get({ seq: parseSeq(id), token, now: this.now() }) as TicketRow | undefined;
    if (!row) throw this.whyNotHeld(id, token);
    return toTicket(row);
  }

  /** Ends expired last attempts as worker_lost (posting follow-ups), requeues the others. */
  expireLeases(): { requeued: number; ended: number; claimable: boolean } {
    this.endRuns();
    return this.db
      .transaction(() => {
        const now = this.now();
        let claimable = false;
        const final = this.s.expiredFinal.all({ now }) as { seq: number }[];
        for (const { seq } of final) {
          const row = this.s.end.get({ seq, result: JSON.stringify(WORKER_LOST), now }) as TicketRow;
          claimable = this.ended(row) || claimable;
        }
        const requeued = this.s.expireRetry.run({ now }).changes;
        return { requeued, ended: final.length, claimable: claimable || requeued > 0 };
      })
      .immediate();
  }

  /** Done tickets that ended before `now - retainMs`, oldest first (the tickets_done index). */
  purgeDone(retainMs: number, limit: number): number {
    return this.s.purgeDone.run({ before: this.now() - retainMs, limit }).changes;
  }

  private whyNotHeld(id: string, token: number): Error {
    const seq = parseSeq(id);
    const row = seq === null ? undefined : (this.s.bySeq.get(seq) as TicketRow | undefined);
    if (!row) return new NotFoundError('ticket', id);
    if (row.lease_token !== token) {
      return new LeaseLostError(id, token, `the current lease token is ${row.lease_token}`);
    }
    return new LeaseLostError(id, token, `the ticket is ${row.status} and no longer leased under this token`);
  }
}

/** Counter of fair-share turns: a route's `served` is the turn its share was last served at. */
const FAIR_SHARE_TURN = '#fair-share-turn';

/** A queue as a claim sees it. */
interface Candidate {
  route: string;
  priority: number;
  served: number;
  head: number;
  share: string;
}

/** One queue per kind, label set, priority and share. */
function queueRoute(t: NormalizedTicket): string {
  return `${routeKey(t.kind, t.labels)}|${t.priority}|${ticketShare(t)}`;
}

function comesBefore(a: Candidate, b: Candidate): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  if (a.served !== b.served) return a.served < b.served;
  return a.head < b.head;
}

function toClaim(row: TicketRow): Claim {
  return { ticket: toTicket(row), token: row.lease_token, expiresAt: row.lease_expires_at ?? 0 };
}

/** A claim's answer also carries the ticket's JSON text (renewals do not send the ticket). */
function toGrant(row: TicketRow): Claim {
  return { ...toClaim(row), ticketJson: ticketJson(row) };
}
