import { stat } from 'node:fs/promises';
import { ValidationError } from '../../core/errors.js';
import { StepFailure } from '../step/failure.js';
import { ParamReader } from '../step/params.js';
import { resolveInside, safeRelative } from '../step/paths.js';
import { runProcess } from '../step/process.js';
import type { StepContext, StepKind, StepOutcome } from '../step/step-context.js';

export interface ShellParams {
  script: string;
  /** Directory inside the workspace the script starts in (default: the workspace). */
  workdir: string;
  timeoutSeconds?: number;
}

/** Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN); stay well below. */
const MAX_SCRIPT_BYTES = 100 * 1024;

/**
 * Runs the step's script with `bash -e -o pipefail -c SCRIPT` (the script is an argument,
 * not stdin, so commands in it that read stdin cannot swallow the rest of the script;
 * stdin is closed). The script starts in `<workspace>/<workdir>` with the step env plus
 * the step's secrets as variables; its output streams to the console. The exit code
 * decides the outcome (`exit_<n>`); `timeoutSeconds` (param, or the step's) kills the
 * whole process group, as does losing the lease, a cancel or a worker shutdown.
 */
export const executeShell: StepKind<ShellParams> = {
  type: 'execute-shell',

  parseParams(raw) {
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
    return { script, workdir, ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}) };
  },

  async run(ctx: StepContext, params: ShellParams): Promise<StepOutcome> {
    const cwd = resolveInside(ctx.dir, params.workdir, 'workdir');
    if (!(await stat(cwd).then((s) => s.isDirectory(), () => false))) {
      throw new StepFailure('bad_workdir', `workdir '${params.workdir}' is not a directory in the workspace; check the step's workdir and what earlier steps produced`);
    }
    ctx.console.line(`[distci] running the script with bash -e -o pipefail in ${params.workdir}`);
    let result;
    try {
      result = await runProcess({
        command: 'bash',
        args: ['-e', '-o', 'pipefail', '-c', params.script],
        cwd,
        env: { ...ctx.env, ...ctx.secrets },
        console: ctx.console,
        signal: ctx.signal,
        ...(params.timeoutSeconds !== undefined ? { timeoutMs: params.timeoutSeconds * 1000 } : {}),
      });
    } catch (err) {
      throw new StepFailure('spawn_failed', `cannot start bash: ${(err as Error).message}; install bash on the worker`, 'error');
    }
    const data = { exitCode: result.exitCode, ...(result.signal ? { signal: result.signal } : {}) };
    if (result.stopped === 'timeout') return { outcome: 'failure', code: 'timeout', message: `script timed out after ${params.timeoutSeconds} s`, data };
    if (result.stopped === 'aborted') return { outcome: 'error', code: 'aborted', message: 'script stopped: lease lost, cancelled, timed out or worker shutting down', data };
    if (result.exitCode === 0) return { outcome: 'success', data };
    const status = result.exitCode ?? result.signal;
    return { outcome: 'failure', code: `exit_${status}`, message: `script exited with ${status}`, data };
  },
};
