/**
 * The commit-status kind: delivers one report (a build's start or its result) to GitHub
 * or GitLab. Exactly one final status per build, although a POST whose answer was lost
 * (or whose worker died) has an unknown outcome: every try first reads the commit's
 * statuses and posts only when this build's report (same context, target URL of this
 * build) is not there yet. The final report waits until the start report's ticket is
 * done, so a late "running" never lands on top of the result. The token comes from the
 * secrets route under this ticket's lease and goes nowhere but the forge's auth header.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ApiError } from '../../../client/api-client.js';
import type { BuildsApi } from '../../../client/builds-api.js';
import type { TicketsApi } from '../../../client/tickets-api.js';
import { isFinal, type BuildRecord } from '../../../core/builds/build.js';
import { reportFor, repositoryOf, type CommitStatusPayload, type Report, type StatusPhase } from '../../../core/builds/commit-status.js';
import type { TicketResult } from '../../../core/ticket.js';
import type { TicketContext, TicketHandler } from '../../runtime.js';
import { DEFAULT_RETRY, ForgeRejected, send, withBackoff, type RetryPolicy } from './delivery.js';
import { forgeFor, type ExistingStatus, type Forge } from './forges.js';

export interface CommitStatusDeps {
  builds: BuildsApi;
  tickets: TicketsApi;
  /** Reads the ticket's secrets under its lease (`StepApi`). */
  secrets: { secrets(ticketId: string, token: number, opts?: { signal?: AbortSignal }): Promise<Record<string, string>> };
  /** Base of the web UI links the statuses carry (`--public-url`). */
  publicUrl: string;
  retry?: Partial<RetryPolicy>;
}

export function commitStatus(deps: CommitStatusDeps): TicketHandler {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...deps.retry };
  return async (ctx: TicketContext): Promise<TicketResult> => {
    const { job, build: number, phase } = ctx.ticket.payload as CommitStatusPayload;
    const signal = ctx.signal;
    const build = await deps.builds.getBuild(job, number, { signal });
    const { commitStatus: config, revision } = build;
    if (!config || !revision) return { outcome: 'failure', code: 'nothing_to_report', message: `build ${job}#${number} has no status config or no commit` };
    if (phase === 'start' && isFinal(build.status)) return { outcome: 'success', data: { skipped: 'the build already finished; the final report follows' } };
    if (phase === 'final') {
      if (!isFinal(build.status)) return { outcome: 'error', code: 'not_finished', message: `build ${job}#${number} is ${build.status}` };
      await startReportDone(deps.tickets, build, signal);
    }
    const repository = repositoryOf(config, revision);
    if (!repository) {
      return { outcome: 'failure', code: 'no_repository', message: `set status.repository: ${revision.repository} is not a ${config.provider} repository URL` };
    }
    const token = await readToken(deps, ctx, config.tokenSecret);
    if (typeof token !== 'string') return token;
    const forge = forgeFor({ config, repository, commit: revision.commit, branch: revision.branch, token });
    const report = reportFor(build, phase, deps.publicUrl);
    const state = forge.state(report.state);
    try {
      const posted = await withBackoff(() => reconcile(forge, report, phase, config.context, policy, signal), policy, signal, (err, waitMs) =>
        ctx.log.warn({ err: err.message, waitMs: Math.round(waitMs) }, 'forge unavailable; retrying the status report'),
      );
      ctx.log.info({ state, posted, context: config.context }, posted ? 'commit status reported' : 'commit status was already there');
      return { outcome: 'success', data: { state, ...(posted ? {} : { skipped: 'already reported' }) } };
    } catch (err) {
      signal.throwIfAborted();
      if (err instanceof ForgeRejected) return { outcome: 'error', code: 'forge_rejected', message: rejection(err, config.tokenSecret) };
      return { outcome: 'error', code: 'forge_unavailable', message: `gave up after ${policy.giveUpAfterMs} ms: ${(err as Error).message}` };
    }
  };
}

/** One try: read the commit's statuses, post unless this build's report is there. True when posted. */
async function reconcile(forge: Forge, report: Report, phase: StatusPhase, context: string, policy: RetryPolicy, signal: AbortSignal): Promise<boolean> {
  const existing = forge.parseList(await send(forge.list(), policy, signal));
  if (alreadyReported(existing, forge, report, phase, context)) return false;
  await send(forge.post(report), policy, signal);
  return true;
}

function alreadyReported(existing: ExistingStatus[], forge: Forge, report: Report, phase: StatusPhase, context: string): boolean {
  const path = report.targetUrl.slice(report.targetUrl.indexOf('/#/'));
  const mine = existing.filter((s) => s.name === context && s.targetUrl?.endsWith(path));
  // A start report is superseded by anything of this build; a final one only by a final one.
  return phase === 'start' ? mine.length > 0 : mine.some((s) => forge.finalStates.has(s.state));
}

async function startReportDone(tickets: TicketsApi, build: BuildRecord, signal: AbortSignal): Promise<void> {
  const id = build.statusTickets?.start;
  if (!id) return;
  for (let waitMs = 50; (await tickets.get(id, { signal })).status !== 'done'; waitMs = Math.min(waitMs * 2, 2000)) {
    await delay(waitMs, undefined, { signal });
  }
}

/** The token, or the result that ends the ticket when it cannot be had. */
async function readToken(deps: CommitStatusDeps, ctx: TicketContext, name: string): Promise<string | TicketResult> {
  try {
    const value = (await deps.secrets.secrets(ctx.ticket.id, ctx.token, { signal: ctx.signal }))[name];
    if (value) return value;
    return { outcome: 'failure', code: 'no_token', message: `secret ${name} (status.tokenSecret) is empty` };
  } catch (err) {
    if (err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 409) {
      return { outcome: 'failure', code: 'no_token', message: err.message };
    }
    throw err;
  }
}

function rejection(err: ForgeRejected, secret: string): string {
  if (err.status === 401 || err.status === 403) {
    return `${err.message} — check the token in secret ${secret}: GitHub needs commit statuses write access, GitLab the api scope`;
  }
  if (err.status === 404) return `${err.message} — check status.repository and status.apiUrl, and that the token can see the repository`;
  return err.message;
}
