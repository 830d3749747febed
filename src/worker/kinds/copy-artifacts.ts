import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, realpath, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isNotFound } from '../../client/step-api.js';
import { ValidationError } from '../../core/errors.js';
import { StepFailure } from '../step/failure.js';
import { PathMatcher } from '../step/glob.js';
import { ParamReader } from '../step/params.js';
import { isInside, safeRelative } from '../step/paths.js';
import type { StepContext, StepKind, StepOutcome } from '../step/step-context.js';

export interface CopyParams {
  job: string;
  build: number | 'lastSuccessful';
  /** null: every artifact. */
  matcher: PathMatcher | null;
  /** Directory inside the workspace to copy into (default: the workspace). */
  dir: string;
}

const PARALLEL_DOWNLOADS = 4;

/**
 * Copies artifacts of another build (of this or another job) into the workspace, at
 * `<dir>/<artifact path>`. Artifact paths are checked like archive entries, and no
 * directory is created or written through a symlink that leads out of the workspace.
 * Each file is written under a temporary name and renamed into place.
 */
export const copyArtifacts: StepKind<CopyParams> = {
  type: 'copy-artifacts',

  parseParams(raw) {
    const p = new ParamReader('copy-artifacts', raw);
    const job = p.string('job');
    const b = p.value('build');
    if (b !== undefined && b !== 'lastSuccessful' && !(typeof b === 'number' && Number.isInteger(b) && b >= 1)) {
      p.fail('build', 'a build number or "lastSuccessful"');
    }
    const paths = p.optStrings('paths');
    const dir = p.optString('dir') ?? '.';
    try {
      safeRelative(dir, 'dir');
      return { job, build: (b as number | 'lastSuccessful' | undefined) ?? 'lastSuccessful', dir, matcher: paths ? new PathMatcher(paths, 'paths') : null };
    } catch (err) {
      throw new ValidationError(`copy-artifacts params: ${(err as Error).message}`);
    }
  },

  async run(ctx: StepContext, params: CopyParams): Promise<StepOutcome> {
    let listing: Awaited<ReturnType<StepContext['api']['listArtifacts']>>;
    try {
      listing = await ctx.api.listArtifacts(params.job, params.build, { signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      if (isNotFound(err)) {
        return { outcome: 'failure', code: 'artifacts_not_found', message: `job '${params.job}' has no build ${params.build}; check the job name and build` };
      }
      throw new StepFailure('artifacts_unavailable', `could not list the artifacts of ${params.job} #${params.build}: ${(err as Error).message}`, 'error');
    }
    const chosen = listing.artifacts.filter((a) => params.matcher?.matches(a.path) ?? true);
    if (chosen.length === 0) {
      const which = params.matcher ? `matching ${params.matcher.patterns.map((p) => `'${p}'`).join(', ')}` : 'at all';
      return { outcome: 'failure', code: 'no_artifacts', message: `${params.job} #${listing.number} has no artifacts ${which}` };
    }
    const root = await realpath(ctx.dir);
    const dirRel = safeRelative(params.dir, 'dir');
    const dirParts = dirRel === '.' ? [] : dirRel.split('/');
    const queue = [...chosen];
    const copied: { path: string; size: number }[] = [];
    const worker = async (): Promise<void> => {
      for (let a = queue.shift(); a; a = queue.shift()) {
        const size = await copyOne(ctx, root, dirParts, params.job, listing.number, a.path).catch((err: unknown) => {
          queue.length = 0;
          throw err;
        });
        copied.push({ path: a.path, size });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_DOWNLOADS, chosen.length) }, worker));
    ctx.console.line(`[distci] copied ${copied.length} artifact(s) of ${params.job} #${listing.number} into ${params.dir}`);
    copied.sort((a, b) => (a.path < b.path ? -1 : 1));
    return { outcome: 'success', data: { artifacts: copied, fromJob: params.job, fromBuild: listing.number } };
  },
};

/** Creates `rel` below `root` one directory at a time, refusing symlinks that leave `root`. */
async function mkdirInside(root: string, rel: string[]): Promise<void> {
  let dir = root;
  for (const part of rel) {
    dir = join(dir, part);
    const info = await lstat(dir).catch(() => null);
    if (!info) {
      // Parallel copies may race to create the same directory.
      await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    } else if (info.isSymbolicLink()) {
      const real = await realpath(dir).catch(() => '');
      if (!real || !isInside(root, real)) throw new StepFailure('unsafe_path', `${dir} is a symlink leading out of the workspace; artifacts are not copied through it`);
    } else if (!info.isDirectory()) {
      throw new StepFailure('path_conflict', `${dir} is a file, but an artifact needs it to be a directory`);
    }
  }
}

async function copyOne(ctx: StepContext, root: string, dirParts: string[], job: string, build: number, path: string): Promise<number> {
  let rel: string;
  try {
    rel = safeRelative(path, 'artifact path');
  } catch (err) {
    throw new StepFailure('unsafe_path', (err as Error).message);
  }
  const parts = [...dirParts, ...rel.split('/')];
  await mkdirInside(root, parts.slice(0, -1));
  const dest = join(root, ...parts);
  if (!isInside(root, await realpath(dirname(dest)))) throw new StepFailure('unsafe_path', `artifact ${path} would land outside the workspace`);
  const tmp = `${dest}.distci-${randomUUID().slice(0, 8)}`;
  let size = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    const body = await ctx.api.getArtifact(job, build, path, { signal: ctx.signal });
    await pipeline(body, count, createWriteStream(tmp, { flags: 'wx' }), { signal: ctx.signal });
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    if (ctx.signal.aborted || err instanceof StepFailure) throw err;
    throw new StepFailure('artifact_download_failed', `could not copy artifact ${path} of ${job} #${build}: ${(err as Error).message}`, 'error');
  }
  return size;
}
