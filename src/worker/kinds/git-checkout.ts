import { mkdir } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError } from '../../core/errors.js';
import { isLocalRepository } from '../../core/jobs/git-repository.js';
import type { GitCheckoutParams } from '../../core/jobs/types.js';
import { StepFailure } from '../step/failure.js';
import { ParamReader } from '../step/params.js';
import { resolveInside, safeRelative } from '../step/paths.js';
import { runProcess } from '../step/process.js';
import { readHead } from './git-head.js';
import type { StepContext, StepKind, StepOutcome } from '../step/step-context.js';

const SHA = /^[0-9a-f]{7,40}$/i;
const STDERR_TAIL = 4096;

/**
 * Clones with the system `git`, spawned with an argument list, never a shell string.
 * Branches and tags: `git clone --branch REF [--depth N]`. A commit: `git init`, fetch of
 * that commit (falling back to a full fetch when the server refuses fetching by sha, as
 * servers do for abbreviated shas), detached checkout. Local paths are cloned in git's
 * local mode (hardlinked objects); with `depth` they are given to git as `file://` URLs,
 * which is the only way git honours it locally (and costs a pack: ~18 ms of CPU per clone
 * of a 2-file repository against ~10 ms locally).
 * Credentials travel as an `http.<origin>.extraHeader` in `GIT_CONFIG_*` environment
 * variables: never in argv, never in `.git/config`, masked in the console.
 */
/**
 * No template directory: a checkout gets no sample hooks, no `info/exclude` and no
 * `description` (18 of a small clone's 45 entries), which every later step on another
 * worker would download and extract again with the workspace.
 */
const NO_TEMPLATES = '--template=';

export const gitCheckout: StepKind<GitCheckoutParams> = {
  type: 'git-checkout',

  parseParams(raw) {
    const p = new ParamReader('git-checkout', raw);
    const repository = p.string('repository');
    if (repository.startsWith('-')) p.fail('repository', 'a URL or path (not starting with "-")');
    const ref = p.optString('ref');
    if (ref !== undefined && (ref.startsWith('-') || /[\s\0]/.test(ref))) p.fail('ref', 'a branch, tag or commit sha');
    const dir = p.optString('dir') ?? '.';
    try {
      safeRelative(dir, 'dir');
    } catch (err) {
      throw new ValidationError(`git-checkout param "dir": ${(err as Error).message}`);
    }
    const depth = p.optInt('depth', 1);
    const credentialsSecret = p.optString('credentialsSecret');
    return { repository, dir, ...(ref ? { ref } : {}), ...(depth ? { depth } : {}), ...(credentialsSecret ? { credentialsSecret } : {}) };
  },

  async run(ctx: StepContext, params: GitCheckoutParams): Promise<StepOutcome> {
    const target = resolveInside(ctx.dir, params.dir, 'dir');
    await mkdir(target, { recursive: true });
    const url = repositoryUrl(params, ctx.dir);
    const git = new Git(ctx, gitEnv(ctx, params, url));
    const { ref, depth } = params;
    const depthArgs = depth ? ['--depth', String(depth)] : [];
    if (ref !== undefined && SHA.test(ref)) {
      await git.run(target, ['init', '-q', NO_TEMPLATES]);
      await git.run(target, ['remote', 'add', 'origin', url]);
      const fetched = ref.length === 40 && (await git.run(target, ['fetch', '-q', ...depthArgs, 'origin', ref], { allowFailure: true }));
      if (!fetched) {
        ctx.console.line(`[distci] fetching ${ref} directly did not work; fetching all branches and tags`);
        await git.run(target, ['fetch', '-q', '--tags', 'origin', '+refs/heads/*:refs/remotes/origin/*']);
      }
      await git.run(target, ['checkout', '-q', '--detach', fetched ? 'FETCH_HEAD' : ref]);
    } else {
      await git.run(target, ['clone', '-q', NO_TEMPLATES, ...depthArgs, ...(ref ? ['--branch', ref] : []), '--', url, '.']);
    }
    const commit = (await readHead(target)) ?? (await git.output(target, ['rev-parse', 'HEAD'])).trim();
    if (ref !== undefined && SHA.test(ref) && !commit.toLowerCase().startsWith(ref.toLowerCase())) {
      throw new StepFailure('ref_mismatch', `checked out ${commit}, which is not the requested commit ${ref}`);
    }
    ctx.console.line(`[distci] checked out ${commit}${ref && ref !== commit ? ` (${ref})` : ''} into ${params.dir}`);
    return { outcome: 'success', data: { commit } };
  },
};

function repositoryUrl(params: GitCheckoutParams, workspace: string): string {
  if (!isLocalRepository(params.repository)) return params.repository;
  const path = isAbsolute(params.repository) ? params.repository : resolve(workspace, params.repository);
  return params.depth ? pathToFileURL(path).href : path;
}

/** The header goes to the repository's origin only, never to a host a redirect leads to. */
function headerScope(url: string): string {
  try {
    const u = new URL(url);
    return /^https?:$/.test(u.protocol) ? `http.${u.protocol}//${u.host}/.extraHeader` : 'http.extraHeader';
  } catch {
    return 'http.extraHeader';
  }
}

function gitEnv(ctx: StepContext, params: GitCheckoutParams, url: string): Record<string, string> {
  const env: Record<string, string> = { ...ctx.env, GIT_TERMINAL_PROMPT: '0' };
  if (params.credentialsSecret) {
    const value = ctx.secrets[params.credentialsSecret];
    if (value === undefined) {
      throw new StepFailure('bad_params', `credentialsSecret '${params.credentialsSecret}' is not among the step's secrets; add it to the step's secrets`);
    }
    const basic = Buffer.from(value.includes(':') ? value : `x-access-token:${value}`, 'utf8').toString('base64');
    ctx.console.masker.add(basic);
    Object.assign(env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: headerScope(url), GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` });
  }
  return env;
}

/** git invocations echoed to the console; a failure ends the step with git's own words. */
class Git {
  constructor(
    private readonly ctx: StepContext,
    private readonly env: Record<string, string>,
  ) {}

  /** Runs git; false when it failed and `allowFailure` was given, else failing throws. */
  async run(cwd: string, args: string[], opts: { allowFailure?: boolean } = {}): Promise<boolean> {
    const r = await this.spawn(cwd, args, true);
    if (r.exitCode === 0) return true;
    if (opts.allowFailure && !r.stopped) return false;
    throw this.failure(args, r);
  }

  async output(cwd: string, args: string[]): Promise<string> {
    const r = await this.spawn(cwd, args, false);
    if (r.exitCode !== 0) throw this.failure(args, r);
    return r.stdout;
  }

  private async spawn(cwd: string, args: string[], echo: boolean) {
    if (echo) this.ctx.console.line(`+ git ${args.join(' ')}`);
    try {
      return await runProcess({
        command: 'git',
        args,
        cwd,
        env: this.env,
        ...(echo ? { console: this.ctx.console } : {}),
        capture: STDERR_TAIL,
        signal: this.ctx.signal,
      });
    } catch (err) {
      throw new StepFailure('spawn_failed', `cannot start git: ${(err as Error).message}; install git on the worker`, 'error');
    }
  }

  private failure(args: string[], r: { exitCode: number | null; signal: string | null; stopped: string | null; stderr: string }): Error {
    if (r.stopped) return new StepFailure('aborted', `git ${args[0]} stopped`, 'error');
    const said = r.stderr.trim().split('\n').slice(-3).join(' | ');
    return new StepFailure('git_failed', `git ${args[0]} failed (${r.exitCode ?? r.signal})${said ? `: ${said}` : ''}`);
  }
}
