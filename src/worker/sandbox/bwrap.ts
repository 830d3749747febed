import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { StepFailure } from '../step/failure.js';
import { runProcess, type ProcessResult } from '../step/process.js';
import { bwrapInvocation, INSIDE_ID, insidePath } from './bwrap-args.js';
import { chownTree, makeReachable, type HostUser } from './ownership.js';
import type { Sandbox, SandboxCommand, SandboxLimits, SandboxRunOptions } from './sandbox.js';

export const INSTALL_HINT = 'install bubblewrap (Debian/Ubuntu: apt-get install -y bubblewrap) or start the worker with --sandbox off';

export interface BwrapOptions {
  limits: SandboxLimits;
  /** Worker-wide network policy: false gives no step a network, whatever the step asks. */
  network: boolean;
  /**
   * Host user and group of sandboxed commands when the worker runs as root (default
   * 65534, nobody). A worker that is not root runs them as itself, still nobody inside.
   * Best a uid no other service uses: host processes of the same uid could reach them.
   */
  uid?: number;
  /** The directory holding every workspace (its directories are made traversable). */
  workRoot: string;
  /** The bwrap program (default: found on the worker's PATH). */
  bwrap?: string;
}

function findProgram(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return name;
}

/**
 * Runs step commands in a bubblewrap sandbox (flags: bwrap-args.ts). A root worker runs
 * bwrap as an unprivileged host user, because RLIMIT_NPROC does not apply to uid 0: the
 * workspace is handed to that user for the run and back to the worker afterwards, so
 * the worker's other kinds (git as root) find it as before.
 */
export class BwrapSandbox implements Sandbox {
  readonly mode = 'bwrap' as const;
  readonly confined = true;
  private readonly bwrap: string;
  private readonly sandboxUser: HostUser | null;
  private readonly workerUser: HostUser;

  constructor(private readonly options: BwrapOptions) {
    this.bwrap = options.bwrap ?? findProgram('bwrap');
    const uid = options.uid ?? INSIDE_ID;
    this.sandboxUser = process.getuid?.() === 0 ? { uid, gid: uid } : null;
    this.workerUser = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  }

  pathInside(workspace: string, path: string): string {
    return insidePath(workspace, path);
  }

  describe(network: boolean): string {
    const { limits } = this.options;
    const net = network && this.options.network ? 'network' : 'no network';
    const user = this.sandboxUser ? `host uid ${this.sandboxUser.uid}` : `host uid ${this.workerUser.uid}`;
    return `bwrap sandbox: nobody (${user}), workspace at /workspace, ${net}, ${Math.floor(limits.memoryBytes / 2 ** 20)} MiB per process, ${limits.processes} processes`;
  }

  async run(cmd: SandboxCommand, options: SandboxRunOptions): Promise<ProcessResult> {
    const invocation = bwrapInvocation({ ...cmd, network: cmd.network && this.options.network }, this.options.limits, this.bwrap);
    const user = this.sandboxUser;
    if (user) {
      await makeReachable(this.options.workRoot, cmd.workspace, user);
      await chownTree(cmd.workspace, user);
    }
    try {
      return await runProcess({
        ...invocation,
        cwd: '/',
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
        signal: options.signal,
        ...(options.console ? { console: options.console } : {}),
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        ...(options.maxOutputBytes !== undefined ? { maxOutputBytes: options.maxOutputBytes } : {}),
        ...(options.capture !== undefined ? { capture: options.capture } : {}),
      });
    } catch (err) {
      throw new StepFailure('sandbox_unavailable', `cannot start ${this.bwrap}: ${(err as Error).message}; ${INSTALL_HINT}`, 'error');
    } finally {
      // Every process of the sandbox is gone once bwrap has exited (its PID namespace died with it).
      if (user) await chownTree(cmd.workspace, this.workerUser);
    }
  }
}

/**
 * Runs `true` the way steps will run, once, at worker start-up: null when it works,
 * otherwise one line saying what is wrong and how to fix it.
 */
export async function probeBwrap(options: Omit<BwrapOptions, 'workRoot'>): Promise<string | null> {
  const root = await mkdtemp(join(tmpdir(), 'distci-sandbox-probe-'));
  try {
    const workspace = join(root, 'ws');
    await mkdir(workspace);
    const sandbox = new BwrapSandbox({ ...options, workRoot: root });
    const result = await sandbox.run(
      { command: 'true', args: [], workspace, cwd: workspace, env: {}, network: false },
      { signal: AbortSignal.timeout(30_000), capture: 4096 },
    );
    if (result.exitCode === 0) return null;
    const said = result.stderr.trim().split('\n').slice(-2).join(' | ') || `exit ${result.exitCode ?? result.signal}`;
    const hint = /namespace|uid map|setting up|Operation not permitted|Permission denied/i.test(said)
      ? 'the kernel must allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0; on Ubuntu kernel.apparmor_restrict_unprivileged_userns=0)'
      : INSTALL_HINT;
    return `the bwrap sandbox does not work on this machine: ${said}; ${hint}`;
  } catch (err) {
    return `the bwrap sandbox does not work on this machine: ${(err as Error).message}`;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
