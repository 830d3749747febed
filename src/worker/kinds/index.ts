import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { TicketHandler } from '../runtime.js';
import { createSandbox, type SandboxConfig } from '../sandbox/index.js';
import { stepHandler, type StepDeps, type StepIo } from '../step/step-context.js';
import { WorkspaceCache } from '../step/workspace-cache.js';
import { adHocShell, isAdHocShell } from './ad-hoc-shell.js';
import { copyArtifacts } from './copy-artifacts.js';
import { shellKind } from './execute-shell.js';
import { gitCheckout } from './git-checkout.js';
import { publishArtifacts } from './publish-artifacts.js';

export interface KindsOptions {
  /** Step I/O: `new StepApi(client)` in a worker, a stand-in in tests. */
  api: StepIo;
  /** Where workspaces live (default `<os tmpdir>/distci-work-<pid>`). */
  workRoot?: string;
  /** How many finished workspaces this worker keeps for the next step (default 256). */
  cacheSize?: number;
  /** How many bytes of files those may hold in all (default 2 GiB). */
  cacheBytes?: number;
  /** Console batching (default 200 ms, 64 KiB). */
  console?: StepDeps['console'];
  /** How execute-shell scripts are confined (default: not at all). */
  sandbox?: SandboxConfig;
  /** Console bytes one execute-shell step may write before it is stopped (default: no limit). */
  maxStepOutputBytes?: number;
  log?: Logger;
}

/**
 * This process's own work root; nobody can use it after the process ends, so it goes
 * with an orderly exit (a killed worker leaves it behind in the temp directory).
 */
function defaultWorkRoot(): string {
  const dir = join(tmpdir(), `distci-work-${process.pid}`);
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return dir;
}

let cleanupRegistered = false;

const refuseAdHoc: TicketHandler = async () => ({
  outcome: 'failure',
  code: 'sandbox_required',
  message: 'this worker sandboxes scripts and does not run ad-hoc execute-shell tickets; run the script as a step of a job',
});

/** Every worker kind this build of distci ships, by name. */
export function builtinKinds(options: KindsOptions): Record<string, TicketHandler> {
  const workRoot = options.workRoot ?? defaultWorkRoot();
  const deps: StepDeps = {
    api: options.api,
    cache: new WorkspaceCache(
      join(workRoot, 'ws'),
      { ...(options.cacheSize !== undefined ? { entries: options.cacheSize } : {}), ...(options.cacheBytes !== undefined ? { bytes: options.cacheBytes } : {}) },
      options.log,
    ),
    ...(options.console ? { console: options.console } : {}),
  };
  const sandbox = createSandbox(options.sandbox ?? { mode: 'off' }, workRoot);
  const shell = stepHandler(shellKind({ sandbox, ...(options.maxStepOutputBytes !== undefined ? { maxOutputBytes: options.maxStepOutputBytes } : {}) }), deps);
  // Ad-hoc scripts run unconfined, so a sandboxing worker refuses them rather than give a
  // ticket poster (any worker-role token) the worker's own rights.
  const adHoc = sandbox.confined ? refuseAdHoc : adHocShell(join(workRoot, 'adhoc'));
  return {
    // 'build-control' is not a step kind: src/cli/commands/worker.ts (allKinds) adds it.
    'git-checkout': stepHandler(gitCheckout, deps),
    'execute-shell': (ctx) => (isAdHocShell(ctx.ticket.payload) ? adHoc(ctx) : shell(ctx)),
    'publish-artifacts': stepHandler(publishArtifacts, deps),
    'copy-artifacts': stepHandler(copyArtifacts, deps),
  };
}
