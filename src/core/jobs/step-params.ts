/** Per-type step params: shape, path rules and defaults. */
import { isLocalRepository } from './git-repository.js';
import { childPath, conforms, type Problems } from './problems.js';
import { PARAMS_SHAPES } from './schema.js';
import type { StepConfig, StepParamsByType, StepType } from './types.js';

export interface ParamsContext {
  path: string;
  /** The step's effective secrets. */
  secrets: readonly string[];
  problems: Problems;
}

export type TypedParams = { [K in StepType]: { type: K; params: StepParamsByType[K] } }[StepType];

/** Params with defaults applied, plus a step timeout given inside params (DESIGN.md's example does). */
export interface NormalizedParams {
  typed: TypedParams;
  timeoutSeconds?: number;
}

/** Returns undefined (with problems added) when the params are invalid. */
export function normalizeParams(type: StepType, raw: unknown, ctx: ParamsContext): NormalizedParams | undefined {
  const before = ctx.problems.count;
  const result = byType(type, raw, ctx);
  return ctx.problems.count === before ? result : undefined;
}

function byType(type: StepType, raw: unknown, ctx: ParamsContext): NormalizedParams | undefined {
  const { path, problems } = ctx;
  switch (type) {
    case 'git-checkout': {
      if (!conforms(PARAMS_SHAPES[type], raw, path, problems)) return undefined;
      optionLike(raw.repository, childPath(path, 'repository'), problems);
      if (raw.ref !== undefined) gitRef(raw.ref, childPath(path, 'ref'), problems);
      const dir = relativePath(raw.dir ?? '.', childPath(path, 'dir'), problems);
      if (raw.credentialsSecret !== undefined && !ctx.secrets.includes(raw.credentialsSecret)) {
        problems.add(childPath(path, 'credentialsSecret'), notListed(raw.credentialsSecret, ctx.secrets));
      }
      // Shallow by default, to fetch less over the network; but a shallow clone cannot reach
      // an arbitrary commit, so a commit ref defaults to full history, and a local path
      // clones fastest in git's local mode (hardlinks, no pack), which ignores depth.
      const shallow = !isLocalRepository(raw.repository) && !(raw.ref !== undefined && looksLikeCommit(raw.ref));
      const depth = raw.depth === undefined ? (shallow ? 1 : null) : raw.depth;
      return {
        typed: {
          type,
          params: {
            repository: raw.repository,
            ...(raw.ref === undefined ? {} : { ref: raw.ref }),
            dir,
            ...(depth === null ? {} : { depth }),
            ...(raw.credentialsSecret === undefined ? {} : { credentialsSecret: raw.credentialsSecret }),
          },
        },
      };
    }
    case 'execute-shell': {
      if (!conforms(PARAMS_SHAPES[type], raw, path, problems)) return undefined;
      const workdir = relativePath(raw.workdir ?? '.', childPath(path, 'workdir'), problems);
      return {
        typed: { type, params: { script: raw.script, workdir, shell: raw.shell ?? 'bash' } },
        ...(raw.timeoutSeconds === undefined ? {} : { timeoutSeconds: raw.timeoutSeconds }),
      };
    }
    case 'publish-artifacts': {
      if (!conforms(PARAMS_SHAPES[type], raw, path, problems)) return undefined;
      raw.paths.forEach((glob, i) => relativePath(glob, childPath(childPath(path, 'paths'), i), problems));
      return {
        typed: { type, params: { paths: raw.paths, ...(raw.maxBytes === undefined ? {} : { maxBytes: raw.maxBytes }) } },
      };
    }
    case 'copy-artifacts': {
      if (!conforms(PARAMS_SHAPES[type], raw, path, problems)) return undefined;
      const paths = raw.paths ?? ['**'];
      paths.forEach((glob, i) => relativePath(glob, childPath(childPath(path, 'paths'), i), problems));
      const dir = relativePath(raw.dir ?? '.', childPath(path, 'dir'), problems);
      return { typed: { type, params: { job: raw.job, build: raw.build ?? 'lastSuccessful', paths, dir } } };
    }
  }
}

/** Narrows a typed params pair into a full step; kept apart so the union stays correlated. */
export function withParams(common: Omit<StepConfig, 'type' | 'params'>, typed: TypedParams): StepConfig {
  const { name, ...rest } = common;
  return { name, ...typed, ...rest };
}

/** Relative paths and globs must stay inside the workspace. Returns the path unchanged. */
export function relativePath(value: string, path: string, problems: Problems): string {
  if (value.startsWith('/') || value.startsWith('\\') || /^[A-Za-z]:/.test(value)) {
    problems.add(path, `'${value}' is absolute; give a path relative to the workspace`);
  } else if (value.split(/[\\/]/).includes('..')) {
    problems.add(path, `'${value}' contains '..'; paths must stay inside the workspace`);
  } else if (hasControlCharacter(value)) {
    problems.add(path, 'must not contain control characters');
  }
  return value;
}

function gitRef(ref: string, path: string, problems: Problems): void {
  if (!optionLike(ref, path, problems) && /\s/.test(ref)) problems.add(path, `'${ref}' is not a git ref: refs have no spaces`);
}

/** git would read a leading '-' as an option: refuse it rather than let a config inject flags. */
function optionLike(value: string, path: string, problems: Problems): boolean {
  if (value.startsWith('-')) {
    problems.add(path, `must not start with '-'`);
    return true;
  }
  if (hasControlCharacter(value)) {
    problems.add(path, 'must not contain control characters');
    return true;
  }
  return false;
}

export function looksLikeCommit(ref: string): boolean {
  return /^[0-9a-f]{7,64}$/i.test(ref);
}

function hasControlCharacter(value: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(value);
}

function notListed(secret: string, secrets: readonly string[]): string {
  const listed = secrets.length > 0 ? `listed: ${secrets.join(', ')}` : 'none are listed';
  return `secret '${secret}' is not among the step's secrets (${listed}); add it to secrets`;
}
