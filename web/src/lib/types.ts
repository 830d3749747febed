/**
 * What the UI reads from the API. Build, step and console shapes are the server's own
 * types (type-only imports: nothing of the server is bundled); list and queue views are
 * shared with the routes through type-only modules in src/core.
 */
import type { BuildRecord, BuildStatus, StepAttempt, StepState, StepStatus } from '../../../src/core/builds/build.js';
import type { ConsoleEvent } from '../../../src/core/builds/console-events.js';
import type { JobRecord, JobVersion } from '../../../src/core/jobs/records.js';
import type { JobConfig } from '../../../src/core/jobs/types.js';
import type { QueueTicket, QueueView, WorkersView } from '../../../src/core/queue-views.js';
import type { TicketRefs } from '../../../src/core/ticket.js';

export type { BuildRecord, BuildStatus, ConsoleEvent, JobConfig, JobRecord, JobVersion, QueueTicket, QueueView, StepAttempt, StepState, StepStatus, TicketRefs, WorkersView };

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

export interface Session {
  name: string;
  role: string;
  authEnabled: boolean;
  /** The job pattern a limited token may see and act on, or null. */
  jobs: string | null;
  can: Partial<Record<'jobs:write' | 'builds:trigger' | 'tickets:post', boolean>>;
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
