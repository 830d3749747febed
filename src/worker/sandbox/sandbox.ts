import type { ConsoleWriter } from '../step/console-writer.js';
import type { ProcessResult } from '../step/process.js';

/**
 * Glossary:
 * - sandbox: how a step's command is confined. `off` runs it as the worker runs itself;
 *   `bwrap` runs it in Linux namespaces built by bubblewrap (src/worker/sandbox/bwrap.ts).
 * - workspace: the step's directory on the worker; inside a sandbox it is the only
 *   writable place that outlives the step.
 * - limits: what one step may use; time and output are enforced by the worker for every
 *   mode, memory and processes only by a confining sandbox.
 */
export type SandboxMode = 'off' | 'bwrap';

export interface SandboxLimits {
  /** Address space of each process (RLIMIT_AS), in bytes. */
  memoryBytes: number;
  /** Processes and threads the step may have at once (RLIMIT_NPROC of its own user). */
  processes: number;
  /** Size of each private tmpfs (`/tmp`, `/dev/shm`): memory the address-space limit does not see. */
  tmpBytes: number;
}

/** One command of a step. */
export interface SandboxCommand {
  command: string;
  args: string[];
  /** The step's workspace (host path). */
  workspace: string;
  /** Where the command starts (host path inside `workspace`). */
  cwd: string;
  /**
   * The command's environment. An unconfined run uses it as it is; a sandbox adds only
   * defaults for PATH, HOME, TMPDIR and LANG, so it should hold the step's own variables.
   */
  env: Record<string, string>;
  /** False: no network at all (a confining sandbox gives the step only its own loopback). */
  network: boolean;
}

export interface SandboxRunOptions {
  /** Where stdout and stderr go. */
  console?: ConsoleWriter;
  /** Stops the command (lease lost, cancel, worker shutdown, the step's timeout). */
  signal: AbortSignal;
  timeoutMs?: number;
  /** Output bytes forwarded before the command is stopped with `stopped: 'output_limit'`. */
  maxOutputBytes?: number;
  /** Keep the last this many characters of stdout and of stderr in the result. */
  capture?: number;
}

export interface Sandbox {
  readonly mode: SandboxMode;
  /** Whether commands are confined: their environment and files are the step's only. */
  readonly confined: boolean;
  /** The path the command sees for `path`, a host path inside `workspace`. */
  pathInside(workspace: string, path: string): string;
  /** One line for the step's console: how the command is confined. */
  describe(network: boolean): string;
  /** Runs the command; rejects (StepFailure) only when it cannot be started. */
  run(command: SandboxCommand, options: SandboxRunOptions): Promise<ProcessResult>;
}
