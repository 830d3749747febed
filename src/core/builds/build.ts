/**
 * Glossary
 * - build: one run of a job's pipeline at one config version, numbered per job from 1.
 * - step: one node of the pipeline (matrix steps are expanded into one step each).
 * - step attempt: one ticket lease working on a step; infrastructure failures (worker lost)
 *   give a step another attempt, build failures do not.
 * - build record: the build's persisted state machine, written only by build-control
 *   workers (compare-and-set, fenced by their lease) and by cancel requests.
 */
import type { Outcome } from '../ticket.js';
import type { PlannedStep } from '../jobs/matrix.js';
import type { CommitStatusConfig, DownstreamTrigger } from '../jobs/types.js';
import type { WorkspaceRef } from './step-payload.js';

export type BuildStatus = 'queued' | 'running' | 'success' | 'failure' | 'error' | 'cancelled';
export const BUILD_STATUSES: readonly BuildStatus[] = ['queued', 'running', 'success', 'failure', 'error', 'cancelled'];
export const FINAL_BUILD_STATUSES: ReadonlySet<BuildStatus> = new Set(['success', 'failure', 'error', 'cancelled']);

export type StepStatus = 'pending' | 'running' | 'success' | 'failure' | 'error' | 'cancelled' | 'skipped';
export const FINAL_STEP_STATUSES: ReadonlySet<StepStatus> = new Set(['success', 'failure', 'error', 'cancelled', 'skipped']);

export type TriggerKind = 'api' | 'cli' | 'upstream' | 'cron' | 'webhook' | 'ui';

export interface BuildTrigger {
  kind: TriggerKind;
  /** Who or what: a token name, `upstream-job#12`, a cron tick time. */
  by: string;
}

export interface StepAttempt {
  attempt: number;
  ticketId: string;
  worker: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  outcome: Outcome | null;
  code?: string;
  message?: string;
}

export interface StepState {
  name: string;
  type: string;
  status: StepStatus;
  /** The step's ticket (one ticket per step; its attempts are the ticket's leases). */
  ticketId: string | null;
  needs: string[];
  attempts: StepAttempt[];
  startedAt: number | null;
  finishedAt: number | null;
  /**
   * The stored workspace holding what this step left: its own upload, or, when it left its
   * single input unchanged, that input's. Null when it produced none.
   */
  workspace: WorkspaceRef | null;
  code?: string;
  message?: string;
}

/** The commit a forge event asked to build. */
export interface Revision {
  repository: string;
  branch: string;
  commit: string;
  pr?: number;
}

export interface BuildRecord {
  job: string;
  number: number;
  status: BuildStatus;
  configVersion: number;
  trigger: BuildTrigger;
  parameters: Record<string, string>;
  /** Set for webhook builds: git-checkout steps of that repository check out this commit. */
  revision?: Revision;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** The build must end by this time (ms since epoch), when the job has a timeout. */
  deadline: number | null;
  cancelRequested: boolean;
  /** The planned steps at `configVersion`, as the build runs them (the build's own snapshot). */
  plan: PlannedStep[];
  steps: StepState[];
  /** Most builds of this job running at once (the config's `concurrency`), or null. */
  concurrency: number | null;
  /** Jobs to trigger when this build succeeds (the config's `downstream`, snapshotted). */
  downstreamJobs: DownstreamTrigger[];
  /** Downstream builds this build triggered, `job#number`. */
  downstream: string[];
  /** The config's `status` section, snapshotted: report on the revision's commit. */
  commitStatus?: CommitStatusConfig;
  /** The commit-status ticket reporting the start, once posted (the final report waits for it). */
  statusTickets?: { start?: string };
  message?: string;
}

export function isFinal(status: BuildStatus): boolean {
  return FINAL_BUILD_STATUSES.has(status);
}

/** Coordinator record key of a build; numbers are zero-padded so keys sort by number. */
export function buildKey(job: string, number: number): string {
  return `builds/${job}/${String(number).padStart(10, '0')}`;
}

export function buildCounter(job: string): string {
  return `build-numbers/${job}`;
}

export function jobKey(job: string): string {
  return `jobs/${job}`;
}

/** Store prefix of everything a build writes: consoles, workspaces, artifacts. */
export function buildPrefix(job: string, number: number): string {
  return `builds/${job}/${number}/`;
}

export function consoleChunkKey(job: string, number: number, step: string, attempt: number, seq: number): string {
  return `${consoleStepPrefix(job, number, step)}${String(attempt).padStart(4, '0')}/${String(seq).padStart(8, '0')}`;
}

export function workspaceKey(job: string, number: number, step: string, attempt: number): string {
  return `${buildPrefix(job, number)}workspaces/${encodeStep(step)}/${attempt}.tar`;
}

export function artifactKey(job: string, number: number, path: string): string {
  return `${buildPrefix(job, number)}artifacts/${path}`;
}

/** Step names may hold matrix brackets and commas; keep store keys plain. */
export function encodeStep(step: string): string {
  return encodeURIComponent(step).replace(/%/g, '~');
}

/** Store prefix of one step's console chunks: `<prefix><attempt:4>/<seq:8>`. */
export function consoleStepPrefix(job: string, number: number, step: string): string {
  return `${buildPrefix(job, number)}console/${encodeStep(step)}/`;
}
