import { stat } from 'node:fs/promises';
import { ValidationError } from '../../core/errors.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import { unconfined } from '../sandbox/unconfined.js';
import { StepFailure } from '../step/failure.js';
import { ParamReader } from '../step/params.js';
import { resolveInside, safeRelative } from '../step/paths.js';
import type { StepContext, StepKind, StepOutcome } from '../step/step-context.js';

export interface ShellParams {
  script: string;
  /** Directory inside the workspace the script starts in (default: the workspace). */
  workdir: string;
  timeoutSeconds?: number;
  /** False: the script gets no network (needs a sandboxing worker). */
  network: boolean;
}

export interface ShellOptions {
  /** How scripts are confined (default: not at all). */
  sandbox?: Sandbox;
  /** Console bytes a script may write; past it the rest is dropped and the step fails. */
  maxOutputBytes?: number;
}

/** Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN); stay well below. */
const MAX_SCRIPT_BYTES = 100 * 1024;

/**
 * The step's own variables: CI, DISTCI_* and the payload's env, nothing the worker
 * inherited from its own environment; secrets on top.
 */
function ownEnv(ctx: StepContext): Record<string, string> {
  const own = Object.entries(ctx.env).filter(([name]) => name === 'CI' || name.startsWith('DISTCI_'));
  return { ...Object.fromEntries(own), ...ctx.payload.env, ...ctx.secrets };
}

/**
 * Runs the step's script with `bash -e -o pipefail -c SCRIPT` (the script is an argument,
 * not stdin, so commands in it that read stdin cannot swallow the rest of the script;
 * stdin is closed). The script starts in `<workspace>/<workdir>` with the step env plus
 * the step's secrets as variables; its output streams to the console. The exit code
 * decides the outcome (`exit_<n>`); `timeoutSeconds` (param, or the step's) kills the
 * whole process group, as does losing the lease, a cancel or a worker shutdown.
 * With a confining sandbox the script sees only the workspace (at /workspace) and the
 * step's own variables, within the sandbox's limits; more output than `maxOutputBytes`
 * stops it and fails the step (`output_limit`).
 */
export function shellKind(options: ShellOptions = {}): StepKind<ShellParams> {
  const sandbox = options.sandbox ?? unconfined;
  return {
    type: 'execute-shell',
    parseParams,
    run: (ctx, params) => runShell(ctx, params, sandbox, options.maxOutputBytes),
  };
}

/** execute-shell unconfined, without an output limit. */
export const executeShell: StepKind<ShellParams> = shellKind();

function parseParams(raw: Record<string, unknown>): ShellParams {
  const p = new ParamReader('execute-shell', raw);
  const script = p.string('script');
  if (Buffer.byteLength(script, 'utf8') > MAX_SCRIPT_BYTES) {
    p.fail('script', `at most ${MAX_SCRIPT_BYTES} bytes; put long scripts in a file in the repository and run that`);
  }
  const workdir = p.optString('workdir') ?? '.';
  try {
    safeRelative(workdir, 'workdir');
  } catch (err) {
    throw new ValidationError(`execute-shell param "workdir": ${(err as Error).message}`);
  }
  const timeoutSeconds = p.optInt('timeoutSeconds', 1);
  const network = p.value('network') ?? true;
  if (typeof network !== 'boolean') return p.fail('network', 'true or false');
  return { script, workdir, network, ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}) };
}

async function runShell(ctx: StepContext, params: ShellParams, sandbox: Sandbox, maxOutputBytes: number | undefined): Promise<StepOutcome> {
  const cwd = resolveInside(ctx.dir, params.workdir, 'workdir');
  if (!(await stat(cwd).then((s) => s.isDirectory(), () => false))) {
    throw new StepFailure('bad_workdir', `workdir '${params.workdir}' is not a directory in the workspace; check the step's workdir and what earlier steps produced`);
  }
  if (!params.network && !sandbox.confined) {
    throw new StepFailure('sandbox_required', 'network: false needs a worker that sandboxes scripts (distci worker --sandbox bwrap); give the step a label only such workers offer');
  }
  ctx.console.line(`[distci] running the script with bash -e -o pipefail in ${params.workdir}`);
  if (sandbox.confined) ctx.console.line(`[distci] ${sandbox.describe(params.network)}`);
  const env = sandbox.confined ? { ...ownEnv(ctx), DISTCI_WORKSPACE: sandbox.pathInside(ctx.dir, ctx.dir) } : { ...ctx.env, ...ctx.secrets };
  let result;
  try {
    result = await sandbox.run(
      { command: 'bash', args: ['-e', '-o', 'pipefail', '-c', params.script], workspace: ctx.dir, cwd, env, network: params.network },
      {
        console: ctx.console,
        signal: ctx.signal,
        ...(params.timeoutSeconds !== undefined ? { timeoutMs: params.timeoutSeconds * 1000 } : {}),
        ...(maxOutputBytes !== undefined ? { maxOutputBytes } : {}),
      },
    );
  } catch (err) {
    if (err instanceof StepFailure) throw err;
    throw new StepFailure('spawn_failed', `cannot start bash: ${(err as Error).message}; install bash on the worker`, 'error');
  }
  const data = { exitCode: result.exitCode, ...(result.signal ? { signal: result.signal } : {}) };
  switch (result.stopped) {
    case 'timeout':
      return { outcome: 'failure', code: 'timeout', message: `script timed out after ${params.timeoutSeconds} s`, data };
    case 'aborted':
      return { outcome: 'error', code: 'aborted', message: 'script stopped: lease lost, cancelled, timed out or worker shutting down', data };
    case 'output_limit':
      ctx.console.line(`\n[distci] output limit of ${maxOutputBytes} bytes reached: the rest was dropped and the script stopped`);
      return { outcome: 'failure', code: 'output_limit', message: `script wrote more than ${maxOutputBytes} bytes of output`, data };
    case null:
      break;
  }
  if (result.exitCode === 0) return { outcome: 'success', data };
  const status = result.exitCode ?? result.signal;
  return { outcome: 'failure', code: `exit_${status}`, message: `script exited with ${status}`, data };
}
