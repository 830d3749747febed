import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { Header } from 'tar';
import { ApiError, type CallOptions } from '../../../src/client/api-client.js';
import type { StepPayload } from '../../../src/core/builds/step-payload.js';
import type { Ticket, TicketResult } from '../../../src/core/ticket.js';
import { builtinKinds, type KindsOptions } from '../../../src/worker/kinds/index.js';
import type { StepIo } from '../../../src/worker/step/step-context.js';
import { packWorkspace } from '../../../src/worker/step/workspace.js';
import { silent, tempDir } from '../../support/embedded.js';

const notFound = (what: string): ApiError => new ApiError('not_found', `${what} does not exist`, 404);

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(parts);
}

interface TicketRefs {
  job: string;
  build: number;
  step: string;
  attempt: number;
}

/** The step I/O routes, in memory: what the frontend will store, observable by tests. */
export class MemoryStepApi implements StepIo {
  /** Console chunks per ticket, by seq. */
  readonly consoles = new Map<string, Map<number, string>>();
  readonly workspaces = new Map<string, Buffer>();
  /** Artifacts per `job/build`, by path. */
  readonly artifacts = new Map<string, Map<string, Buffer>>();
  readonly lastSuccessful = new Map<string, number>();
  readonly tickets = new Map<string, TicketRefs>();
  secretValues: Record<string, string> = {};
  getWorkspaceCalls = 0;
  secretsCalls = 0;
  /** Runs before a console chunk is stored: delays, failures. */
  beforeAppend: (seq: number) => Promise<void> = async () => undefined;

  async appendConsole(ticketId: string, _token: number, seq: number, text: string, opts?: CallOptions): Promise<void> {
    await this.beforeAppend(seq);
    opts?.signal?.throwIfAborted();
    const chunks = this.consoles.get(ticketId) ?? new Map<number, string>();
    this.consoles.set(ticketId, chunks);
    const had = chunks.get(seq);
    if (had !== undefined && had !== text) throw new ApiError('conflict', `chunk ${seq} differs`, 409);
    chunks.set(seq, text);
  }

  async secrets(): Promise<Record<string, string>> {
    this.secretsCalls++;
    return { ...this.secretValues };
  }

  async putWorkspace(ticketId: string, _token: number, body: () => Readable): Promise<{ size: number }> {
    const t = this.ticket(ticketId);
    const data = await readAll(body());
    this.workspaces.set(wsKey(t.job, t.build, t.step, t.attempt), data);
    return { size: data.length };
  }

  async getWorkspace(job: string, build: number, step: string, attempt: number): Promise<Readable> {
    this.getWorkspaceCalls++;
    const data = this.workspaces.get(wsKey(job, build, step, attempt));
    if (!data) throw notFound(`workspace ${step}/${attempt}`);
    return Readable.from(data);
  }

  async putArtifact(ticketId: string, _token: number, path: string, body: () => Readable): Promise<{ size: number }> {
    const t = this.ticket(ticketId);
    const data = await readAll(body());
    const key = `${t.job}/${t.build}`;
    const map = this.artifacts.get(key) ?? new Map<string, Buffer>();
    this.artifacts.set(key, map.set(path, data));
    return { size: data.length };
  }

  async listArtifacts(job: string, build: number | 'lastSuccessful'): Promise<{ number: number; artifacts: { path: string; size: number }[] }> {
    const number = build === 'lastSuccessful' ? this.lastSuccessful.get(job) : build;
    const map = number === undefined ? undefined : this.artifacts.get(`${job}/${number}`);
    if (number === undefined || !map) throw notFound(`build ${job} #${build}`);
    return { number, artifacts: [...map].map(([path, data]) => ({ path, size: data.length })) };
  }

  async getArtifact(job: string, build: number, path: string): Promise<Readable> {
    const data = this.artifacts.get(`${job}/${build}`)?.get(path);
    if (!data) throw notFound(`artifact ${path}`);
    return Readable.from(data);
  }

  /** The console of a ticket as one text, checking that seqs are 0..n-1. */
  consoleText(ticketId: string): string {
    const chunks = this.consoles.get(ticketId) ?? new Map<number, string>();
    const seqs = [...chunks.keys()].sort((a, b) => a - b);
    seqs.forEach((seq, i) => {
      if (seq !== i) throw new Error(`console seqs have a gap: ${seqs.join(',')}`);
    });
    return seqs.map((seq) => chunks.get(seq)).join('');
  }

  private ticket(id: string): TicketRefs {
    const t = this.tickets.get(id);
    if (!t) throw notFound(`ticket ${id}`);
    return t;
  }
}

export const wsKey = (job: string, build: number, step: string, attempt: number): string => `${job}/${build}/${step}/${attempt}`;

let nextId = 1;

export function ticketFor(kind: string, payload: unknown, attempt = 1): Ticket {
  return {
    id: String(nextId++), kind, labels: [], payload, refs: {}, priority: 0, status: 'leased', attempt, maxAttempts: 3,
    lease: null, holder: null, leases: [], result: null, idempotencyKey: null, cancelRequested: false, followUp: null, createdAt: 0, updatedAt: 0,
  };
}

export function stepPayload(type: string, step: string, params: Record<string, unknown>, more: Partial<StepPayload> = {}): StepPayload {
  return { job: 'app', build: 1, step, type, params, env: {}, secrets: [], inputs: [], ...more };
}

export interface StepRun {
  result: TicketResult;
  console: string;
  ticket: Ticket;
}

/** A worker's kinds over a MemoryStepApi, with its own work root. */
export class KindsHarness {
  readonly handlers: ReturnType<typeof builtinKinds>;

  private constructor(
    readonly api: MemoryStepApi,
    readonly workRoot: string,
    private readonly cleanup: () => Promise<void>,
    options: Partial<KindsOptions>,
  ) {
    this.handlers = builtinKinds({ api, workRoot, console: { flushMs: 5 }, log: silent, ...options });
  }

  static async start(api = new MemoryStepApi(), options: Partial<KindsOptions> = {}): Promise<KindsHarness> {
    const dir = await tempDir('distci-kinds-');
    return new KindsHarness(api, dir.path, dir.remove, options);
  }

  /** Another worker (own work root, so its own cache) on the same store. */
  async sibling(options: Partial<KindsOptions> = {}): Promise<KindsHarness> {
    const dir = await tempDir('distci-kinds-');
    return new KindsHarness(this.api, dir.path, dir.remove, options);
  }

  async run(payload: StepPayload | unknown, opts: { attempt?: number; signal?: AbortSignal; kind?: string } = {}): Promise<StepRun> {
    const p = (typeof payload === 'object' && payload !== null ? payload : {}) as Partial<StepPayload>;
    const kind = opts.kind ?? p.type ?? 'execute-shell';
    const ticket = ticketFor(kind, payload, opts.attempt ?? 1);
    if (typeof p.job === 'string' && typeof p.step === 'string') {
      this.api.tickets.set(ticket.id, { job: p.job, build: p.build ?? 1, step: p.step, attempt: ticket.attempt });
    }
    const handler = this.handlers[kind];
    if (!handler) throw new Error(`no handler for ${kind}`);
    const result = await handler({ ticket, token: 1, signal: opts.signal ?? new AbortController().signal, log: silent });
    return { result, console: this.api.consoleText(ticket.id), ticket };
  }

  /** The workspace directory this worker would use for an attempt. */
  dirFor(step: string, attempt = 1, job = 'app', build = 1): string {
    return join(this.workRoot, 'ws', job, String(build), `${step}-${attempt}`);
  }

  close(): Promise<void> {
    return this.cleanup();
  }
}

export type FileSpec = string | { symlink: string };

/** Writes files (and symlinks) under `root`; keys are '/'-separated paths. */
export async function writeTree(root: string, files: Record<string, FileSpec>): Promise<void> {
  for (const [path, spec] of Object.entries(files)) {
    const abs = join(root, ...path.split('/'));
    await mkdir(dirname(abs), { recursive: true });
    if (typeof spec === 'string') await writeFile(abs, spec);
    else await symlink(spec.symlink, abs);
  }
}

/** Stores a workspace made of `files` as the output of `step` attempt 1 of app #1. */
export async function seedWorkspace(api: MemoryStepApi, step: string, files: Record<string, FileSpec>): Promise<void> {
  const dir = await tempDir('distci-seed-');
  try {
    await writeTree(dir.path, files);
    api.workspaces.set(wsKey('app', 1, step, 1), await readAll(packWorkspace(dir.path)));
  } finally {
    await dir.remove();
  }
}

export interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO';
  linkpath?: string;
  body?: string;
}

/** A tar archive made by hand, for entries no honest packer would write. */
export function craftTar(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.body ?? '');
    const type = e.type ?? 'File';
    const header = new Header({
      path: e.path, type, mode: type === 'Directory' ? 0o755 : 0o644, size: type === 'File' ? body.length : 0,
      mtime: new Date(), uid: 0, gid: 0, ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && body.length > 0) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
