/**
 * Commit status reports: what a build tells the forge about the commit it built, and the
 * tickets that carry it. Two reports per build, `start` (posted when the build starts
 * running) and `final` (when it reaches a final status); each is one ticket by its
 * idempotency key, so a resumed build-control worker never asks twice. Forge wire formats
 * are the worker's business (`src/worker/kinds/commit-status/`).
 */
import type { NewTicket } from '../ticket.js';
import type { CommitStatusConfig } from '../jobs/types.js';
import { normalizeRepository } from '../webhooks/repository.js';
import { isFinal, type BuildRecord, type Revision } from './build.js';

export const COMMIT_STATUS_KIND = 'commit-status';
export type StatusPhase = 'start' | 'final';
/** What a report says, before it is spelled the forge's way. */
export type ReportState = 'running' | 'success' | 'failure' | 'error' | 'cancelled';

/** Payload of a commit-status ticket; `step` and `secrets` let it read its token like a step reads its secrets. */
export interface CommitStatusPayload {
  job: string;
  build: number;
  step: typeof STATUS_STEP;
  phase: StatusPhase;
  secrets: [string];
}

/** Not a valid step name, so no step of the plan can be mistaken for it. */
export const STATUS_STEP = '@commit-status';
const STATUS_PRIORITY = 50;
const STATUS_ATTEMPTS = 5;

export function commitStatusKey(job: string, number: number, phase: StatusPhase): string {
  return `commit-status/${job}/${number}/${phase}`;
}

/** The ticket of one report, or null when the build has nothing to report on. */
export function commitStatusTicket(build: BuildRecord, phase: StatusPhase): NewTicket | null {
  if (!build.commitStatus || !build.revision) return null;
  const payload: CommitStatusPayload = { job: build.job, build: build.number, step: STATUS_STEP, phase, secrets: [build.commitStatus.tokenSecret] };
  return {
    kind: COMMIT_STATUS_KIND,
    payload,
    refs: { job: build.job, build: build.number },
    priority: STATUS_PRIORITY,
    maxAttempts: STATUS_ATTEMPTS,
    idempotencyKey: commitStatusKey(build.job, build.number, phase),
  };
}

/** The secret a ticket may read when it is this build's own commit-status ticket. */
export function statusTokenSecret(build: BuildRecord, ticketKey: string | null, phase: unknown): string | null {
  if (phase !== 'start' && phase !== 'final') return null;
  if (ticketKey !== commitStatusKey(build.job, build.number, phase)) return null;
  return build.commitStatus?.tokenSecret ?? null;
}

export interface Report {
  state: ReportState;
  description: string;
  /** The build's page in the web UI; with the context, it identifies this build's statuses. */
  targetUrl: string;
}

export function reportFor(build: BuildRecord, phase: StatusPhase, publicUrl: string): Report {
  const targetUrl = `${publicUrl.replace(/\/+$/, '')}${buildPagePath(build.job, build.number)}`;
  const n = `build #${build.number}`;
  if (phase === 'start' || !isFinal(build.status)) return { state: 'running', description: `${n} is running`, targetUrl };
  switch (build.status) {
    case 'success':
      return { state: 'success', description: `${n} succeeded`, targetUrl };
    case 'failure':
      return { state: 'failure', description: `${n} failed`, targetUrl };
    case 'error':
      return { state: 'error', description: `${n} ended in an infrastructure error`, targetUrl };
    case 'cancelled':
    case 'queued':
    case 'running':
      return { state: 'cancelled', description: `${n} was cancelled`, targetUrl };
  }
}

/** The web UI's hash route of a build; statuses are recognised by it whatever the host. */
export function buildPagePath(job: string, number: number): string {
  return `/#/jobs/${encodeURIComponent(job)}/builds/${number}`;
}

/** `owner/name` or `group/project` from the config, else from the revision's repository URL. */
export function repositoryOf(config: CommitStatusConfig, revision: Revision): string | null {
  if (config.repository) return config.repository;
  const normalized = normalizeRepository(revision.repository);
  if (normalized.startsWith('/')) return null; // a local path names no forge project
  const path = normalized.slice(normalized.indexOf('/') + 1);
  const enough = config.provider === 'github' ? /^[^/]+\/[^/]+$/ : /^[^/]+(\/[^/]+)+$/;
  return enough.test(path) ? path : null;
}
