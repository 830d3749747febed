import { isDeepStrictEqual } from 'node:util';
import { ApiError } from '../../client/api-client.js';
import type { BuildsApi } from '../../client/builds-api.js';
import type { TicketsApi } from '../../client/tickets-api.js';
import { advance } from '../../core/builds/advance.js';
import { FINAL_STEP_STATUSES, isFinal, type BuildRecord } from '../../core/builds/build.js';
import { commitStatusTicket, type StatusPhase } from '../../core/builds/commit-status.js';
import { buildControlTicket, downstreamKey, stepTicket } from '../../core/builds/tickets.js';
import type { Ticket, TicketResult } from '../../core/ticket.js';
import type { TicketContext, TicketHandler } from '../runtime.js';

const MAX_ROUNDS = 50;

/**
 * The build-control kind: one short ticket per event of a build (start, a step ended,
 * cancel). It reads the build record, lets the pure state machine decide, posts the
 * tickets of steps that became ready (idempotently), triggers downstream jobs when the
 * build succeeded, and writes the record back with compare-and-set under its lease. A
 * conflict means another build-control worker moved the build meanwhile: read and retry.
 * Any step of this can be repeated by a worker that takes over the ticket, because every
 * post and trigger carries an idempotency key and the state machine is deterministic.
 * When the job reports commit statuses, it also posts the start report when the build
 * starts running and the final report once the final state is written.
 */
export function buildControl(deps: { builds: BuildsApi; tickets: TicketsApi }): TicketHandler {
  return async (ctx: TicketContext): Promise<TicketResult> => {
    const { job, number } = ctx.ticket.payload as { job: string; number: number };
    for (let round = 0; round < MAX_ROUNDS; round++) {
      ctx.signal.throwIfAborted();
      const { version, archived, ...build } = await deps.builds.getBuild(job, number, { signal: ctx.signal });
      if (isFinal(build.status)) {
        // Also when this ticket's previous holder wrote the final state and died before posting.
        await postStatusTicket(deps, build, 'final', ctx.signal);
        // Normally done by the final write; here when the frontend making it died half-way.
        if (!archived) await deps.builds.archiveBuild(job, number, { signal: ctx.signal });
        return { outcome: 'success', data: { status: build.status } };
      }
      const next = await step(deps, ctx, build);
      if (isDeepStrictEqual(next, build)) return { outcome: 'success', data: { status: build.status, changed: false } };
      try {
        await deps.builds.writeState(next, version, { ticketId: ctx.ticket.id, token: ctx.token }, { signal: ctx.signal });
        ctx.log.info({ job, number, status: next.status }, 'build advanced');
        if (isFinal(next.status)) await postStatusTicket(deps, next, 'final', ctx.signal);
        return { outcome: 'success', data: { status: next.status } };
      } catch (err) {
        if (err instanceof ApiError && err.code === 'conflict') continue;
        throw err;
      }
    }
    return { outcome: 'error', code: 'contention', message: `build ${job}#${number} kept changing under ${MAX_ROUNDS} attempts to advance it` };
  };
}

/** Builds of the job not finished yet (running or queued), other than `build`. */
async function unfinished(deps: Deps, build: BuildRecord, opts: { signal: AbortSignal }): Promise<BuildRecord[]> {
  const { builds } = await deps.builds.listBuilds(build.job, { status: 'unfinished' }, opts);
  return builds.filter((b) => b.number !== build.number && (b.status === 'running' || b.status === 'queued'));
}

/**
 * The job's concurrency limit, race-free without a lock: a queued build starts only when
 * fewer than `concurrency` older builds of the job are unfinished (running or queued).
 * Builds leave that count only by finishing, and an older build is counted whatever state
 * it is in, so two builds deciding at the same instant can never both overrun the limit,
 * and builds start in number order. A finishing build wakes the oldest queued ones.
 */
async function mayStart(deps: Deps, build: BuildRecord, opts: { signal: AbortSignal }): Promise<boolean> {
  if (build.status !== 'queued' || build.concurrency === null || build.cancelRequested) return true;
  const older = (await unfinished(deps, build, opts)).filter((b) => b.number < build.number);
  return older.length < build.concurrency;
}

async function wakeNextQueued(deps: Deps, build: BuildRecord, opts: { signal: AbortSignal }): Promise<void> {
  if (build.concurrency === null) return;
  // The oldest queued builds, as many as may run at once; each checks the limit again.
  const queued = (await unfinished(deps, build, opts)).filter((b) => b.status === 'queued').reverse().slice(0, build.concurrency);
  for (const next of queued) await deps.tickets.post(buildControlTicket(build.job, next.number, `wake-after/${build.number}`), opts);
}

type Deps = { builds: BuildsApi; tickets: TicketsApi };

/** Posts a commit-status report (idempotent by its key); null when the build reports nothing. */
async function postStatusTicket(deps: Deps, build: BuildRecord, phase: StatusPhase, signal: AbortSignal): Promise<Ticket | null> {
  const ticket = commitStatusTicket(build, phase);
  return ticket ? (await deps.tickets.post(ticket, { signal })).ticket : null;
}

/** One advance with its I/O: read step tickets, post ready ones, cancel, trigger downstream. */
async function step(deps: Deps, ctx: TicketContext, build: BuildRecord): Promise<BuildRecord> {
  const opts = { signal: ctx.signal };
  if (!(await mayStart(deps, build, opts))) return build;
  const tickets = new Map<string, Ticket>();
  for (const s of build.steps) {
    if (s.ticketId && !FINAL_STEP_STATUSES.has(s.status)) tickets.set(s.ticketId, await deps.tickets.get(s.ticketId, opts));
  }
  const now = Date.now();
  const out = advance(build, tickets, now);
  for (const name of out.start) {
    const plan = out.build.plan.find((p) => p.name === name)!;
    const { ticket } = await deps.tickets.post(stepTicket(out.build, plan), opts);
    out.build.steps.find((s) => s.name === name)!.ticketId = ticket.id;
  }
  for (const id of out.cancel) await deps.tickets.cancel(id, opts);
  if (out.build.startedAt !== null && !out.build.statusTickets?.start) {
    // Recorded with the state, so the final report can wait for it; a repeat gets the same ticket.
    const ticket = await postStatusTicket(deps, out.build, 'start', ctx.signal);
    if (ticket) out.build.statusTickets = { ...out.build.statusTickets, start: ticket.id };
  }
  if (out.finished) await wakeNextQueued(deps, out.build, opts);
  if (out.finished && out.build.status === 'success') {
    for (const trigger of out.build.downstreamJobs) {
      try {
        const { build: triggered } = await deps.builds.trigger(
          trigger.job,
          { parameters: trigger.parameters, idempotencyKey: downstreamKey(out.build, trigger), cause: { kind: 'upstream', job: build.job, number: build.number } },
          opts,
        );
        out.build.downstream.push(`${trigger.job}#${triggered.number}`);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status >= 500) throw err;
        out.build.downstream.push(`${trigger.job}: not triggered (${err.code}: ${err.message})`);
      }
    }
  }
  return out.build;
}
