import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../../core/errors.js';
import { StepFailure } from '../step/failure.js';
import { PathMatcher } from '../step/glob.js';
import { ParamReader } from '../step/params.js';
import { isInside } from '../step/paths.js';
import type { StepContext, StepKind, StepOutcome } from '../step/step-context.js';

export interface PublishParams {
  matcher: PathMatcher;
  /** Limit for each file and for all of them together (default 1 GiB). */
  maxBytes: number;
}

interface Artifact {
  path: string;
  /** The file to read (a symlink's target, checked to be inside the workspace). */
  file: string;
  size: number;
}

const DEFAULT_MAX_BYTES = 1024 ** 3;
const PARALLEL_UPLOADS = 4;

/**
 * Publishes the workspace files matching `paths` as artifacts of the build, under their
 * workspace-relative paths. Symlinks are published as the file they point to, and only
 * when that file is inside the workspace; symlinked directories are not descended into.
 * Sizes are checked before anything is uploaded.
 */
export const publishArtifacts: StepKind<PublishParams> = {
  type: 'publish-artifacts',

  parseParams(raw) {
    const p = new ParamReader('publish-artifacts', raw);
    const paths = p.strings('paths');
    const maxBytes = p.optInt('maxBytes', 1) ?? DEFAULT_MAX_BYTES;
    try {
      return { matcher: new PathMatcher(paths, 'publish-artifacts paths'), maxBytes };
    } catch (err) {
      throw new ValidationError(`publish-artifacts param "paths": ${(err as Error).message}`);
    }
  },

  async run(ctx: StepContext, params: PublishParams): Promise<StepOutcome> {
    const root = await realpath(ctx.dir);
    const found = new Map<string, Artifact>();
    await walk(root, '', false, params.matcher, found);
    const artifacts = [...found.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
    if (artifacts.length === 0) {
      return { outcome: 'failure', code: 'no_artifacts', message: `no file in the workspace matches ${params.matcher.patterns.map((p) => `'${p}'`).join(', ')}` };
    }
    checkSizes(artifacts, params.maxBytes);
    const queue = [...artifacts];
    const upload = async (): Promise<void> => {
      for (let a = queue.shift(); a; a = queue.shift()) {
        const file = a.file;
        try {
          await ctx.api.putArtifact(ctx.ticket.id, ctx.token, a.path, () => createReadStream(file), { signal: ctx.signal });
        } catch (err) {
          queue.length = 0;
          if (ctx.signal.aborted) throw err;
          throw new StepFailure('artifact_upload_failed', `could not upload artifact ${a.path}: ${(err as Error).message}`, 'error');
        }
        ctx.console.line(`[distci] published ${a.path} (${a.size} bytes)`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, artifacts.length) }, upload));
    return { outcome: 'success', data: { artifacts: artifacts.map(({ path, size }) => ({ path, size })) } };
  },
};

function checkSizes(artifacts: Artifact[], maxBytes: number): void {
  const big = artifacts.find((a) => a.size > maxBytes);
  if (big) throw new StepFailure('artifact_too_large', `artifact ${big.path} has ${big.size} bytes, over the limit of ${maxBytes}; raise maxBytes or publish less`);
  const total = artifacts.reduce((sum, a) => sum + a.size, 0);
  if (total > maxBytes) {
    throw new StepFailure('artifact_too_large', `the ${artifacts.length} artifacts have ${total} bytes together, over the limit of ${maxBytes}; raise maxBytes or publish less`);
  }
}

async function walk(root: string, dir: string, selected: boolean, matcher: PathMatcher, found: Map<string, Artifact>): Promise<void> {
  const entries = await readdir(dir ? join(root, dir) : root, { withFileTypes: true });
  for (const entry of entries) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    const abs = join(root, path);
    if (entry.isDirectory()) {
      const all = selected || matcher.matches(path);
      if (all || matcher.mayContain(path)) await walk(root, path, all, matcher, found);
    } else if ((entry.isFile() || entry.isSymbolicLink()) && (selected || matcher.matches(path))) {
      const file = entry.isSymbolicLink() ? await symlinkTarget(root, path) : abs;
      const info = await stat(file);
      if (info.isFile()) found.set(path, { path, file, size: info.size });
    }
  }
}

async function symlinkTarget(root: string, path: string): Promise<string> {
  let target: string;
  try {
    target = await realpath(join(root, path));
  } catch {
    throw new StepFailure('broken_symlink', `artifact ${path} is a symlink to nothing; fix the link or narrow the paths`);
  }
  if (!isInside(root, target)) {
    throw new StepFailure('unsafe_path', `artifact ${path} is a symlink leading out of the workspace (to ${target}); publish files inside the workspace only`);
  }
  return target;
}
