/**
 * What `GET /queue` and `GET /workers` return: the frontend builds them, the web UI reads
 * them (type-only import, nothing bundled).
 */
import type { TicketRefs } from './ticket.js';

/** A pending or leased ticket as the queue page shows it. */
export interface QueueTicket {
  id: string;
  kind: string;
  labels: string[];
  refs: TicketRefs;
  priority: number;
  attempt: number;
  maxAttempts: number;
  createdAt: number;
  cancelRequested: boolean;
}

/** Pending and leased tickets of one kind and label set. */
export interface RouteSummary {
  kind: string;
  labels: string[];
  pending: number;
  leased: number;
  oldestPendingAt: number | null;
  oldestLeasedAt: number | null;
}

export interface QueueView {
  at: number;
  truncated: boolean;
  routes: RouteSummary[];
  pending: QueueTicket[];
  leases: (QueueTicket & { holder: string | null; leasedAt: number; expiresAt: number | null })[];
  frontend: { host: string; pid: number; startedAt: number; parkedClaims: number };
}

export interface WorkerView {
  id: string;
  kinds: string[] | null;
  labels: string[] | null;
  leases: { ticketId: string; kind: string; refs: TicketRefs; attempt: number; leasedAt: number; expiresAt: number | null }[];
  waiting: number;
  lastSeenAt: number;
}

export interface WorkersView {
  at: number;
  windowMs: number;
  truncated: boolean;
  workers: WorkerView[];
}
