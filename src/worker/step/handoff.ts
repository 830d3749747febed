import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Readable } from 'node:stream';
import type { StepPayload, WorkspaceRef } from '../../core/builds/step-payload.js';
import { isNotFound, type StepApi } from '../../client/step-api.js';
import type { TicketContext } from '../runtime.js';
import type { ConsoleWriter } from './console-writer.js';
import { StepFailure } from './failure.js';
import { gnuTarPack, hasGnuTar } from './gnu-tar.js';
import { sameTree, snapshotTree, type TreeSnapshot } from './tree-snapshot.js';
import type { WorkspaceCache } from './workspace-cache.js';
import { packWorkspace, unpackWorkspace } from './workspace.js';

type HandoffIo = Pick<StepApi, 'putWorkspace' | 'getWorkspace'>;

/**
 * Fills `dir` with the step's inputs: a single input this worker kept is taken over by a
 * rename; otherwise every input is downloaded and extracted, in order, into a fresh dir.
 * Then, when the workspace could be handed on unchanged, returns its snapshot (the
 * cache's, or a fresh one): that is only when it is exactly one stored workspace, i.e.
 * the step has a single input. (Several inputs merge into something no stored archive
 * holds; no input is an empty directory.)
 */
export async function prepareWorkspace(
  payload: StepPayload,
  dir: string,
  cache: WorkspaceCache,
  api: HandoffIo,
  console: ConsoleWriter,
  signal: AbortSignal,
): Promise<TreeSnapshot | null> {
  await rm(dir, { recursive: true, force: true });
  const [only] = payload.inputs;
  const single = payload.inputs.length === 1 ? only : undefined;
  const cached = single ? await cache.takeOver(payload.job, payload.build, single, dir) : null;
  if (single && cached) {
    console.line(`[distci] workspace of '${single.step}' (attempt ${single.attempt}) reused from this worker's cache`);
    return cached.snapshot ?? snapshotTree(dir, dirname(dir));
  }
  await mkdir(dir, { recursive: true });
  for (const ref of payload.inputs) await downloadInput(payload, ref, dir, api, console, signal);
  return single ? snapshotTree(dir, dirname(dir)) : null;
}

/**
 * After a success: when the step left its single input exactly as it found it (see
 * `tree-snapshot.ts` for what "exactly" means), the next steps get that input's stored
 * workspace and nothing is uploaded; otherwise the workspace is packed (by GNU tar from
 * the snapshot's list when the worker has it, else node-tar) and uploaded as this
 * attempt's. Returns the stored workspace `dir` is now an exact copy of, and the snapshot
 * taken of it.
 */
export async function handOnWorkspace(
  payload: StepPayload,
  dir: string,
  before: TreeSnapshot | null,
  tctx: TicketContext,
  api: HandoffIo,
  console: ConsoleWriter,
): Promise<{ workspace: WorkspaceRef; snapshot: TreeSnapshot }> {
  const after = await snapshotTree(dir, dirname(dir), before ? { contentFor: before.racy } : {});
  const [input] = payload.inputs;
  if (before && input && sameTree(before, after)) {
    console.line(`[distci] workspace unchanged: the next steps get '${input.step}' (attempt ${input.attempt}) as it is; nothing uploaded`);
    return { workspace: input, snapshot: after };
  }
  const paths = [...after.entries.keys()];
  const gnu = await hasGnuTar();
  const pack = (): Readable => (gnu ? gnuTarPack(dir, paths) : packWorkspace(dir));
  return { workspace: await uploadWorkspace(payload, pack, tctx, api, console), snapshot: after };
}

async function downloadInput(payload: StepPayload, ref: WorkspaceRef, dir: string, api: HandoffIo, console: ConsoleWriter, signal: AbortSignal): Promise<void> {
  const started = Date.now();
  let archive;
  try {
    archive = await api.getWorkspace(payload.job, payload.build, ref.step, ref.attempt, { signal });
  } catch (err) {
    if (signal.aborted) throw err;
    if (isNotFound(err)) {
      throw new StepFailure('workspace_missing', `the workspace of step '${ref.step}' attempt ${ref.attempt} is not in the store; run that step again`, 'error');
    }
    throw new StepFailure('workspace_unavailable', `could not download the workspace of step '${ref.step}': ${(err as Error).message}`, 'error');
  }
  await unpackWorkspace(archive, dir, signal);
  console.line(`[distci] workspace of '${ref.step}' (attempt ${ref.attempt}) downloaded and extracted in ${Date.now() - started} ms`);
}

async function uploadWorkspace(payload: StepPayload, pack: () => Readable, tctx: TicketContext, api: HandoffIo, console: ConsoleWriter): Promise<WorkspaceRef> {
  const started = Date.now();
  let size: number;
  try {
    ({ size } = await api.putWorkspace(tctx.ticket.id, tctx.token, pack, { signal: tctx.signal }));
  } catch (err) {
    if (tctx.signal.aborted) throw err;
    throw new StepFailure('workspace_upload_failed', `could not upload the workspace: ${(err as Error).message}`, 'error');
  }
  console.line(`[distci] workspace uploaded: ${size} bytes in ${Date.now() - started} ms`);
  return { step: payload.step, attempt: tctx.ticket.attempt };
}
