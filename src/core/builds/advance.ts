/**
 * The build state machine, as a pure function: given the persisted build record, the
 * planned steps and the current state of the step tickets, it returns the next record,
 * the steps whose tickets must be posted and the tickets to cancel. The build-control
 * worker calls it, performs the I/O, and writes the record back with compare-and-set;
 * running it twice on the same inputs gives the same answer, which is what makes a
 * resumed build-control worker safe.
 */
import type { Ticket } from '../ticket.js';
import type { BuildRecord, StepAttempt, StepState, StepStatus } from './build.js';
import { FINAL_STEP_STATUSES } from './build.js';
import type { StepResultData } from './step-payload.js';

/** The parts of a planned step (after matrix expansion) the state machine needs. */
export interface PlanStep {
  name: string;
  type: string;
  needs: string[];
}

export interface Advance {
  build: BuildRecord;
  /** Steps that became ready: post their tickets, then record the ticket ids. */
  start: string[];
  /** Tickets of running steps to cancel (build cancelled or timed out). */
  cancel: string[];
  /** The build reached a final status in this advance. */
  finished: boolean;
}

export function initialSteps(plan: readonly PlanStep[]): StepState[] {
  return plan.map((p) => ({
    name: p.name,
    type: p.type,
    status: 'pending',
    ticketId: null,
    needs: [...p.needs],
    attempts: [],
    startedAt: null,
    finishedAt: null,
    workspace: null,
  }));
}

/**
 * The build as its tickets show it right now (attempts, workers, running steps), without
 * deciding anything: what `GET build` shows between two build-control advances.
 */
export function withLiveSteps(record: BuildRecord, tickets: ReadonlyMap<string, Ticket>, now: number): BuildRecord {
  const build: BuildRecord = structuredClone(record);
  for (const step of build.steps) if (step.ticketId) observe(step, tickets.get(step.ticketId), now);
  if (build.status === 'queued' && build.steps.some((s) => s.status === 'running')) {
    build.status = 'running';
    build.startedAt ??= Math.min(...build.steps.flatMap((s) => (s.startedAt === null ? [] : [s.startedAt])));
  }
  return build;
}

export function advance(previous: BuildRecord, tickets: ReadonlyMap<string, Ticket>, now: number): Advance {
  const build: BuildRecord = structuredClone(previous);
  if (FINAL.has(build.status)) return { build, start: [], cancel: [], finished: false };
  for (const step of build.steps) if (step.ticketId) observe(step, tickets.get(step.ticketId), now);

  const timedOut = build.deadline !== null && now >= build.deadline;
  const stopping = build.cancelRequested || timedOut;
  const byName = new Map(build.steps.map((s) => [s.name, s]));
  const start: string[] = [];
  const cancel: string[] = [];
  for (const step of build.steps) {
    if (FINAL_STEP_STATUSES.has(step.status)) continue;
    if (step.ticketId !== null) {
      // Posted and not ended: its ticket's follow-up will bring us back when it ends.
      if (stopping) cancel.push(step.ticketId);
      continue;
    }
    if (stopping) {
      end(step, 'cancelled', now, timedOut ? 'build_timeout' : 'cancelled');
      continue;
    }
    const needs = step.needs.map((n) => byName.get(n)!);
    const blocker = needs.find((n) => FINAL_STEP_STATUSES.has(n.status) && n.status !== 'success');
    if (blocker) end(step, 'skipped', now, 'needs_failed', `needs ${blocker.name}, which ended ${blocker.status}`);
    else if (needs.every((n) => n.status === 'success')) start.push(step.name);
  }

  if (build.status === 'queued' && (start.length > 0 || build.steps.some((s) => s.ticketId))) {
    build.status = 'running';
    build.startedAt ??= now;
  }
  const finished = start.length === 0 && build.steps.every((s) => FINAL_STEP_STATUSES.has(s.status));
  if (finished) {
    build.status = outcomeOf(build, timedOut);
    build.finishedAt = now;
    if (timedOut && !build.cancelRequested) build.message = 'the build ran past its timeout';
  }
  return { build, start, cancel, finished };
}

const FINAL = new Set(['success', 'failure', 'error', 'cancelled']);

function outcomeOf(build: BuildRecord, timedOut: boolean): BuildRecord['status'] {
  const statuses = new Set(build.steps.map((s) => s.status));
  if (build.cancelRequested) return 'cancelled';
  if (timedOut || statuses.has('failure')) return 'failure';
  if (statuses.has('error')) return 'error';
  if (statuses.has('cancelled')) return 'cancelled';
  return 'success';
}

/** Brings a step up to date with its ticket: attempts, holder, and the final result. */
function observe(step: StepState, ticket: Ticket | undefined, now: number): void {
  if (!ticket || FINAL_STEP_STATUSES.has(step.status)) return;
  for (let n = 1; n <= ticket.attempt; n++) {
    let attempt = step.attempts.find((a) => a.attempt === n);
    if (!attempt) {
      attempt = { attempt: n, ticketId: ticket.id, worker: null, startedAt: null, finishedAt: null, outcome: null };
      step.attempts.push(attempt);
    }
    const lease = ticket.leases.find((l) => l.attempt === n);
    if (lease) {
      attempt.worker ??= lease.holder;
      attempt.startedAt ??= lease.at;
    }
    const next = ticket.leases.find((l) => l.attempt === n + 1);
    if (n < ticket.attempt && attempt.outcome === null) lost(attempt, next?.at ?? now);
  }
  const current = step.attempts.find((a) => a.attempt === ticket.attempt);
  if (ticket.status === 'leased' && current) {
    current.worker = ticket.holder ?? current.worker;
    // The ticket changed last when it was leased: that is when this attempt started.
    current.startedAt ??= ticket.updatedAt;
  }
  if (ticket.status === 'pending' && current && current.outcome === null && current.startedAt !== null) lost(current, now);
  if (ticket.status !== 'done') {
    if (ticket.attempt > 0) {
      step.status = 'running';
      step.startedAt ??= current?.startedAt ?? now;
    }
    return;
  }
  const result = ticket.result ?? { outcome: 'error', code: 'no_result' };
  if (current) {
    current.worker ??= ticket.holder;
    current.outcome = result.outcome;
    current.finishedAt = ticket.updatedAt;
    current.startedAt ??= ticket.createdAt;
    if (result.code) current.code = result.code;
    if (result.message) current.message = result.message;
  }
  const data = (result.data ?? {}) as StepResultData;
  if (result.outcome === 'success' && data.workspace) step.workspace = data.workspace;
  step.startedAt ??= current?.startedAt ?? ticket.createdAt;
  end(step, result.outcome, ticket.updatedAt, result.code, result.message);
}

function lost(attempt: StepAttempt, now: number): void {
  attempt.outcome = 'error';
  attempt.code = 'worker_lost';
  attempt.message = 'the worker stopped renewing its lease; the step was given another attempt';
  attempt.finishedAt = now;
}

function end(step: StepState, status: StepStatus, now: number, code?: string, message?: string): void {
  step.status = status;
  step.finishedAt = now;
  if (code) step.code = code;
  if (message) step.message = message;
}
