/**
 * What the UI reads from the API. Build, step and console shapes are the server's own
 * types (type-only imports: nothing of the server is bundled); list and queue views are
 * written out here as the routes return them.
 */
import type { BuildRecord, BuildStatus, StepAttempt, StepState, StepStatus } from '../../../src/core/builds/build.js';
import type { ConsoleEvent } from '../../../src/core/builds/console-events.js';
import type { JobConfig } from '../../../src/core/jobs/types.js';
import type { TicketRefs } from '../../../src/core/ticket.js';

export type { BuildRecord, BuildStatus, ConsoleEvent, JobConfig, StepAttempt, StepState, StepStatus, TicketRefs };

export type Build = BuildRecord & { version: number };
export type BuildSummary = Omit<BuildRecord, 'plan'>;

export interface JobSummary {
  id: string;
  version: number;
  description: string;
  steps: number;
  updatedAt: number;
  lastBuild: { number: number; status: BuildStatus; createdAt: number; finishedAt: number | null } | null;
}

export interface JobRecord {
  id: string;
  version: number;
  config: JobConfig;
  createdAt: number;
  updatedAt: number;
}

export interface JobVersion {
  id: string;
  version: number;
  config: JobConfig;
  source: string;
  format: 'yaml' | 'json';
  appliedAt: number;
}

export interface Session {
  name: string;
  role: string;
  authEnabled: boolean;
  /** The job pattern a limited token may see and act on, or null. */
  jobs: string | null;
  can: Partial<Record<'jobs:write' | 'builds:trigger' | 'tickets:post', boolean>>;
}

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

export interface QueueView {
  at: number;
  truncated: boolean;
  routes: { kind: string; labels: string[]; pending: number; leased: number; oldestPendingAt: number | null; oldestLeasedAt: number | null }[];
  pending: QueueTicket[];
  leases: (QueueTicket & { holder: string | null; leasedAt: number; expiresAt: number | null })[];
  frontend: { host: string; pid: number; startedAt: number; parkedClaims: number };
}

export interface WorkersView {
  at: number;
  windowMs: number;
  truncated: boolean;
  workers: {
    id: string;
    kinds: string[] | null;
    labels: string[] | null;
    leases: { ticketId: string; kind: string; refs: TicketRefs; attempt: number; leasedAt: number; expiresAt: number | null }[];
    waiting: number;
    lastSeenAt: number;
  }[];
}

export interface Readiness {
  ready: boolean;
  coordinator: { ok: boolean; backend: string; error?: string };
  store: { ok: boolean; backend: string; error?: string };
}

export interface ConfigProblem {
  path: string;
  message: string;
}
