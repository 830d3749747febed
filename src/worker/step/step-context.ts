import type { Logger } from 'pino';
import type { StepPayload, StepResultData } from '../../core/builds/step-payload.js';
import { ValidationError } from '../../core/errors.js';
import type { Outcome, Ticket, TicketResult } from '../../core/ticket.js';
import type { StepApi } from '../../client/step-api.js';
import type { TicketContext, TicketHandler } from '../runtime.js';
import { ConsoleWriter } from './console-writer.js';
import { StepFailure } from './failure.js';
import { SecretMasker } from './mask.js';
import { parseStepPayload } from './payload.js';
import type { WorkspaceCache } from './workspace-cache.js';
import { handOnWorkspace, prepareWorkspace } from './handoff.js';

/** The step I/O calls a step worker makes (StepApi, or a stand-in in tests). */
export type StepIo = Pick<StepApi, 'appendConsole' | 'secrets' | 'putWorkspace' | 'getWorkspace' | 'putArtifact' | 'listArtifacts' | 'getArtifact'>;

/** What a step kind works with. */
export interface StepContext {
  ticket: Ticket;
  /** The lease's fencing token, for StepApi writes (artifacts). */
  token: number;
  payload: StepPayload;
  /** This attempt's workspace: its inputs' files, in place before `run` starts. */
  dir: string;
  /**
   * Environment for programs the step starts: the worker's own minus every `DISTCI_*`
   * setting (its token above all), `CI=true` and the step's `DISTCI_JOB`, `DISTCI_BUILD`,
   * `DISTCI_STEP`, `DISTCI_ATTEMPT`, `DISTCI_TICKET_ID`, `DISTCI_WORKSPACE`, then the
   * payload's env. Secrets are not in it.
   */
  env: Record<string, string>;
  /** Values of the secrets the payload names (fetched only when it names any). */
  secrets: Record<string, string>;
  /** The step's console; masks every secret value. */
  console: ConsoleWriter;
  api: StepIo;
  /** Aborted on lease loss, cancel, worker shutdown or the step's `timeoutSeconds`. */
  signal: AbortSignal;
  log: Logger;
}

export interface StepOutcome {
  outcome: Outcome;
  code?: string;
  message?: string;
  data?: Omit<StepResultData, 'workspace'> & Record<string, unknown>;
}

/** One step type: params checked before anything else happens, then the work. */
export interface StepKind<P> {
  readonly type: string;
  /** Throws ValidationError for bad params (the step fails with `bad_params`). */
  parseParams(params: Record<string, unknown>): P;
  run(ctx: StepContext, params: P): Promise<StepOutcome>;
}

export interface StepDeps {
  api: StepIo;
  cache: WorkspaceCache;
  /** Console batching; defaults 200 ms and 64 KiB. */
  console?: { flushMs?: number; maxChunkBytes?: number };
}

export function stepEnv(payload: StepPayload, ticket: Ticket, dir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('DISTCI_')) env[name] = value;
  }
  return {
    ...env,
    CI: 'true',
    DISTCI_JOB: payload.job,
    DISTCI_BUILD: String(payload.build),
    DISTCI_STEP: payload.step,
    DISTCI_ATTEMPT: String(ticket.attempt),
    DISTCI_TICKET_ID: ticket.id,
    DISTCI_WORKSPACE: dir,
    ...payload.env,
  };
}

/**
 * Wraps a step kind into a ticket handler: checks the payload and params, fetches the
 * secrets, opens the console, prepares the workspace (local cache or download), runs
 * the kind, hands the workspace on after a success (uploaded, or its input's when the
 * step changed nothing), and ends the console with the outcome.
 */
export function stepHandler<P>(kind: StepKind<P>, deps: StepDeps): TicketHandler {
  return async (tctx: TicketContext): Promise<TicketResult> => {
    let payload: StepPayload;
    let params: P;
    try {
      payload = parseStepPayload(tctx.ticket.payload);
      if (payload.type !== kind.type) {
        throw new ValidationError(`step type '${payload.type}' was sent to a ${kind.type} worker; the ticket kind and payload type must agree`);
      }
      params = kind.parseParams(payload.params);
    } catch (err) {
      return { outcome: 'failure', code: 'bad_params', message: (err as Error).message };
    }
    return runStep(kind, params, payload, tctx, deps);
  };
}

async function fetchSecrets(payload: StepPayload, tctx: TicketContext, api: StepIo): Promise<Record<string, string>> {
  if (payload.secrets.length === 0) return {};
  let values: Record<string, string>;
  try {
    values = await api.secrets(tctx.ticket.id, tctx.token, { signal: tctx.signal });
  } catch (err) {
    if (tctx.signal.aborted) throw err;
    throw new StepFailure('secrets_unavailable', `could not fetch the step's secrets: ${(err as Error).message}`, 'error');
  }
  const missing = payload.secrets.filter((name) => typeof values[name] !== 'string');
  if (missing.length > 0) {
    throw new StepFailure('secret_missing', `secret(s) ${missing.join(', ')} are not defined; create them or remove them from the step's secrets`);
  }
  return Object.fromEntries(payload.secrets.map((name) => [name, values[name]!]));
}

async function runStep<P>(kind: StepKind<P>, params: P, payload: StepPayload, tctx: TicketContext, deps: StepDeps): Promise<TicketResult> {
  const { ticket, token, log } = tctx;
  const timeout = stepTimeout(payload);
  const signal = timeout ? AbortSignal.any([tctx.signal, timeout]) : tctx.signal;
  const dir = deps.cache.dirFor(payload.job, payload.build, payload.step, ticket.attempt);
  const masker = new SecretMasker();
  const console = new ConsoleWriter({
    send: (seq, text) => deps.api.appendConsole(ticket.id, token, seq, text, { signal: tctx.signal }),
    masker,
    log,
    ...deps.console,
  });
  const started = Date.now();
  let result: StepOutcome & { data?: StepResultData };
  let kept = false;
  try {
    const secrets = await fetchSecrets(payload, tctx, deps.api);
    for (const value of Object.values(secrets)) masker.add(value);
    console.line(`[distci] ${payload.type} '${payload.step}' of ${payload.job} #${payload.build}, attempt ${ticket.attempt}`);
    const before = await prepareWorkspace(payload, dir, deps.cache, deps.api, console, signal);
    const ctx: StepContext = { ticket, token, payload, dir, env: stepEnv(payload, ticket, dir), secrets, console, api: deps.api, signal, log };
    result = await kind.run(ctx, params);
    if (timeout?.aborted && !tctx.signal.aborted) throw timeout.reason;
    if (result.outcome === 'success') {
      const { workspace, snapshot } = await handOnWorkspace(payload, dir, before, tctx, deps.api, console);
      await deps.cache.keep(payload.job, payload.build, workspace, dir, snapshot);
      kept = true;
      result = { ...result, data: { ...result.data, workspace } };
    }
  } catch (err) {
    result = fromError(err, tctx.signal, timeout, payload);
  } finally {
    if (!kept) await deps.cache.discard(dir);
  }
  const message = result.message === undefined ? undefined : masker.mask(result.message);
  if (!tctx.signal.aborted) {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.line(`[distci] ${result.outcome}${result.code ? ` (${result.code})` : ''} after ${seconds} s${message ? `: ${message}` : ''}`);
  }
  await console.close();
  log.debug({ outcome: result.outcome, code: result.code, chunks: console.chunks }, 'step finished');
  return { outcome: result.outcome, ...(result.code ? { code: result.code } : {}), ...(message ? { message } : {}), data: result.data ?? {} };
}

/** The step's own timeout, cut short by what remains of the build's deadline. */
function stepTimeout(payload: StepPayload): AbortSignal | null {
  const limits = [
    ...(payload.timeoutSeconds ? [payload.timeoutSeconds * 1000] : []),
    ...(payload.deadline !== undefined ? [Math.max(1, payload.deadline - Date.now())] : []),
  ];
  return limits.length > 0 ? AbortSignal.timeout(Math.min(...limits)) : null;
}

function fromError(err: unknown, ticketSignal: AbortSignal, timeout: AbortSignal | null, payload: StepPayload): StepOutcome {
  if (ticketSignal.aborted) return { outcome: 'error', code: 'aborted', message: 'stopped: lease lost, cancelled or worker shutting down' };
  if (timeout?.aborted) return { outcome: 'failure', code: 'timeout', message: `step timed out (step limit ${payload.timeoutSeconds ?? '-'} s, or the build's deadline)` };
  if (err instanceof StepFailure) return { outcome: err.outcome, code: err.code, message: err.message };
  return { outcome: 'error', code: 'worker_error', message: (err as Error).message };
}
