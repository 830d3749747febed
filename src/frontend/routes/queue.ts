/**
 * Read-only views of the ticket queue and of the workers serving it, for the web UI's
 * queue page. Nothing here is registered: workers are whoever holds leases (from the
 * coordinator, so every frontend sees all of them) plus whoever long-polled a claim on
 * this frontend lately (so idle workers show up too, as this frontend saw them).
 *
 * Cost: the coordinator contract lists tickets in id order, so a status filter alone may
 * walk every done ticket. A snapshot therefore starts from a low-water mark — the oldest
 * ticket that was pending or leased last time (done is final, so nothing older can be
 * pending) — and reads from the beginning only once a minute, which also heals the one
 * race the mark has (a ticket that went leased → pending between the two status reads).
 * Snapshots are cached for a second and shared by every request meanwhile.
 *
 * A token limited to a job pattern sees only the tickets of its jobs, and no idle workers.
 */
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Coordinator } from '../../coordination/contract.js';
import type { QueueTicket, QueueView, RouteSummary, WorkersView, WorkerView } from '../../core/queue-views.js';
import type { Ticket, TicketStatus } from '../../core/ticket.js';
import { allowsJob, type Identity } from '../auth.js';
import type { ClaimDispatcher } from '../claim-dispatcher.js';

export interface QueueRoutesOptions {
  coordinator: Coordinator;
  dispatcher: ClaimDispatcher;
  sightings: WorkerSightings;
  leaseTtlMs: number;
  /** Injectable for tests. */
  now?: () => number;
}

/** Most pending or leased tickets one snapshot reads per status. */
const MAX_TICKETS = 5000;
const PAGE = 1000;
const SNAPSHOT_TTL_MS = 1000;
const FULL_READ_EVERY_MS = 60_000;
/** How long a claim sighting counts as "recently seen". */
const SEEN_WINDOW_MS = 10 * 60_000;
const MAX_SIGHTINGS = 10_000;
const SHOWN = 200;

interface Sighting {
  workerId: string;
  kinds: string[];
  labels: string[];
  lastClaimAt: number;
  /** Claims of this worker parked on this frontend right now. */
  waiting: number;
}

/** Claims seen by this frontend, by worker id: the only trace an idle worker leaves. */
export class WorkerSightings {
  private readonly byWorker = new Map<string, Sighting>();

  constructor(private readonly now: () => number = Date.now) {}

  claimStarted(claim: { workerId: string; kinds: string[]; labels?: string[] }): void {
    const seen = this.byWorker.get(claim.workerId);
    this.byWorker.delete(claim.workerId); // re-insert: the map stays in last-seen order
    this.byWorker.set(claim.workerId, {
      workerId: claim.workerId,
      kinds: [...claim.kinds].sort(),
      labels: [...(claim.labels ?? [])].sort(),
      lastClaimAt: this.now(),
      waiting: (seen?.waiting ?? 0) + 1,
    });
    this.prune();
  }

  claimEnded(workerId: string): void {
    const seen = this.byWorker.get(workerId);
    if (seen) seen.waiting = Math.max(0, seen.waiting - 1);
  }

  recent(): Sighting[] {
    this.prune();
    return [...this.byWorker.values()].map((s) => ({ ...s }));
  }

  private prune(): void {
    const oldest = this.now() - SEEN_WINDOW_MS;
    for (const [id, s] of this.byWorker) {
      if (this.byWorker.size <= MAX_SIGHTINGS && (s.lastClaimAt >= oldest || s.waiting > 0)) break;
      this.byWorker.delete(id);
    }
  }
}

/** Records who claims through this frontend. Call on the `/api/v1` scope before the ticket routes. */
export function watchClaims(api: FastifyInstance, sightings: WorkerSightings): void {
  const isClaim = (url: string | undefined, method: string): boolean => method === 'POST' && url?.endsWith('/tickets/claim') === true;
  const parked = new WeakSet<object>();
  api.addHook('preHandler', async (request) => {
    if (!isClaim(request.routeOptions.url, request.method)) return;
    sightings.claimStarted(request.body as { workerId: string; kinds: string[]; labels?: string[] });
    parked.add(request);
  });
  // A claim ends with a response or with its client going away; count it once either way.
  const ended = async (request: { body: unknown }): Promise<void> => {
    if (parked.delete(request)) sightings.claimEnded((request.body as { workerId: string }).workerId);
  };
  api.addHook('onResponse', ended);
  api.addHook('onRequestAbort', ended);
}

/** Ticket ids sort by length, then text: numbers without leading zeros and zero-padded ids alike. */
function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

interface Snapshot {
  at: number;
  pending: Ticket[];
  leased: Ticket[];
  truncated: boolean;
}

class QueueSnapshots {
  private mark: string | null = null;
  private lastFullRead = 0;
  private current: { startedAt: number; snapshot: Promise<Snapshot> } | null = null;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly now: () => number,
  ) {}

  /** The snapshot taken (or being taken) within the last second, or a new one. */
  get(): Promise<Snapshot> {
    const at = this.now();
    if (this.current && at - this.current.startedAt < SNAPSHOT_TTL_MS) return this.current.snapshot;
    const taking = { startedAt: at, snapshot: this.read() };
    taking.snapshot.catch(() => {
      if (this.current === taking) this.current = null;
    });
    this.current = taking;
    return taking.snapshot;
  }

  private async read(): Promise<Snapshot> {
    const at = this.now();
    const full = this.mark === null || at - this.lastFullRead > FULL_READ_EVERY_MS;
    const from = full ? null : this.mark;
    if (full) this.lastFullRead = at;
    const first = from ? await this.coordinator.get(from).catch(() => null) : null;
    const [pending, leased] = [await this.readStatus('pending', from), await this.readStatus('leased', from)];
    for (const ticket of first && first.status !== 'done' ? [first] : []) (ticket.status === 'pending' ? pending : leased).tickets.unshift(ticket);
    const heads = [pending.tickets[0]?.id, leased.tickets[0]?.id].filter((id): id is string => id !== undefined).sort(compareIds);
    // With nothing pending or leased, keep the mark: the tickets after it may all be done, but we did not see them.
    if (heads[0] !== undefined) this.mark = heads[0];
    return { at, pending: pending.tickets, leased: leased.tickets, truncated: pending.truncated || leased.truncated };
  }

  private async readStatus(status: TicketStatus, from: string | null): Promise<{ tickets: Ticket[]; truncated: boolean }> {
    const tickets: Ticket[] = [];
    let after = from ?? undefined;
    while (tickets.length < MAX_TICKETS) {
      const page = await this.coordinator.list({ status, limit: PAGE, ...(after ? { after } : {}) });
      tickets.push(...page);
      if (page.length < PAGE) return { tickets, truncated: false };
      after = page.at(-1)?.id;
    }
    return { tickets, truncated: true };
  }
}

function routesOf(snapshot: Snapshot): RouteSummary[] {
  const routes = new Map<string, RouteSummary>();
  const route = (t: Ticket): RouteSummary => {
    const key = `${t.kind}|${t.labels.join(',')}`;
    let r = routes.get(key);
    if (!r) routes.set(key, (r = { kind: t.kind, labels: t.labels, pending: 0, leased: 0, oldestPendingAt: null, oldestLeasedAt: null }));
    return r;
  };
  for (const t of snapshot.pending) {
    const r = route(t);
    r.pending++;
    r.oldestPendingAt = Math.min(r.oldestPendingAt ?? t.createdAt, t.createdAt);
  }
  for (const t of snapshot.leased) {
    const r = route(t);
    r.leased++;
    const since = leasedAt(t);
    r.oldestLeasedAt = Math.min(r.oldestLeasedAt ?? since, since);
  }
  return [...routes.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.labels.join(',').localeCompare(b.labels.join(',')));
}

/** When the current lease was granted. */
function leasedAt(t: Ticket): number {
  return t.leases.at(-1)?.at ?? t.updatedAt;
}

const view = (t: Ticket): QueueTicket => ({
  id: t.id,
  kind: t.kind,
  labels: t.labels,
  refs: t.refs,
  priority: t.priority,
  attempt: t.attempt,
  maxAttempts: t.maxAttempts,
  createdAt: t.createdAt,
  cancelRequested: t.cancelRequested,
});

const Response = { 200: Type.Unknown() };

/** What a caller may see: everything, or for a job-scoped token only its jobs' tickets. */
function visible(snapshot: Snapshot, identity: Identity | undefined): Snapshot {
  if (identity?.jobs === undefined) return snapshot;
  const mine = (t: Ticket): boolean => t.refs.job !== undefined && allowsJob(identity, t.refs.job);
  return { ...snapshot, pending: snapshot.pending.filter(mine), leased: snapshot.leased.filter(mine) };
}

export const queueRoutes: FastifyPluginAsyncTypebox<QueueRoutesOptions> = async (app, options) => {
  const now = options.now ?? Date.now;
  const snapshots = new QueueSnapshots(options.coordinator, now);
  const startedAt = now();

  app.get(
    '/queue',
    {
      config: { permission: 'read', jobScope: 'filters' },
      schema: {
        summary: 'Pending and leased tickets per kind and label set with their ages, the oldest pending tickets, the leases and their holders',
        tags: ['queue'],
        response: Response,
      },
    },
    async (request): Promise<QueueView> => {
      const snapshot = visible(await snapshots.get(), request.identity);
      return {
        at: snapshot.at,
        truncated: snapshot.truncated,
        routes: routesOf(snapshot),
        pending: snapshot.pending.slice(0, SHOWN).map(view),
        leases: snapshot.leased.slice(0, SHOWN).map((t) => ({
          ...view(t),
          holder: t.lease?.holder ?? t.holder,
          leasedAt: leasedAt(t),
          expiresAt: t.lease?.expiresAt ?? null,
        })),
        frontend: { host: hostname(), pid: process.pid, startedAt, parkedClaims: options.dispatcher.parked },
      };
    },
  );

  app.get(
    '/workers',
    {
      config: { permission: 'read', jobScope: 'filters' },
      schema: {
        summary: 'Workers seen lately: lease holders (any frontend) and workers whose claims this frontend saw; no registration',
        tags: ['queue'],
        response: Response,
      },
    },
    async (request): Promise<WorkersView> => {
      const snapshot = visible(await snapshots.get(), request.identity);
      const workers = new Map<string, WorkerView>();
      const worker = (id: string): WorkerView => {
        let w = workers.get(id);
        if (!w) workers.set(id, (w = { id, kinds: null, labels: null, leases: [], waiting: 0, lastSeenAt: 0 }));
        return w;
      };
      for (const t of snapshot.leased) {
        const holder = t.lease?.holder ?? t.holder;
        if (!holder) continue;
        const w = worker(holder);
        const expiresAt = t.lease?.expiresAt ?? null;
        w.leases.push({ ticketId: t.id, kind: t.kind, refs: t.refs, attempt: t.attempt, leasedAt: leasedAt(t), expiresAt });
        // A lease is renewed to a full TTL, so its expiry tells when its holder last renewed.
        w.lastSeenAt = Math.max(w.lastSeenAt, leasedAt(t), expiresAt === null ? 0 : expiresAt - options.leaseTtlMs);
      }
      for (const s of request.identity?.jobs === undefined ? options.sightings.recent() : []) {
        const w = worker(s.workerId);
        w.kinds = s.kinds;
        w.labels = s.labels;
        w.waiting = s.waiting;
        // A parked claim is a worker connected right now.
        w.lastSeenAt = Math.max(w.lastSeenAt, s.waiting > 0 ? now() : s.lastClaimAt);
      }
      const list = [...workers.values()].sort((a, b) => b.lastSeenAt - a.lastSeenAt || a.id.localeCompare(b.id));
      return { at: snapshot.at, windowMs: SEEN_WINDOW_MS, truncated: snapshot.truncated, workers: list.slice(0, SHOWN) };
    },
  );
};
