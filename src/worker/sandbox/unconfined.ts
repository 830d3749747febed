import { runProcess, type ProcessResult } from '../step/process.js';
import type { Sandbox, SandboxCommand, SandboxRunOptions } from './sandbox.js';

/** `--sandbox off`: commands run as the worker runs, in its file system and network. */
export const unconfined: Sandbox = {
  mode: 'off',
  confined: false,
  pathInside: (_workspace, path) => path,
  describe: () => 'no sandbox: the script runs as the worker user',
  run(cmd: SandboxCommand, options: SandboxRunOptions): Promise<ProcessResult> {
    return runProcess({
      command: cmd.command,
      args: cmd.args,
      cwd: cmd.cwd,
      env: cmd.env,
      signal: options.signal,
      ...(options.console ? { console: options.console } : {}),
      ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
      ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
      ...(options.capture !== undefined ? { capture: options.capture } : {}),
    });
  },
};
