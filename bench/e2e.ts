/**
 * e2e — end-to-end build latency and throughput on an idle `distci up`.
 *
 * `distci up --data <tmp> --port 0 --no-example --concurrency 8 --log-level warn` runs as a
 * child process: one Node process holding the frontend, the embedded SQLite coordinator,
 * the file store and 8 worker slots of every kind, which talk HTTP to that frontend as
 * remote workers would. Measured:
 *  1. a trivial 3-step build (git-checkout of a local repository, execute-shell `true`,
 *     publish-artifacts of one small file): trigger request sent → a poll of
 *     `GET /builds/N` (every 2 ms) shows success; 20 builds one after another after 2
 *     warm-up builds. For comparison: the SSE console (`?follow=1`, `end` event) on a few
 *     builds, and builds nobody polls while they run;
 *  2. 100 builds of that job triggered at once: first trigger sent → the last build final;
 *  3. handing a 100 MB, 10,000-file workspace from one step to the next: (a) the same
 *     worker takes it over from its local cache, (b) a second worker process (`distci
 *     worker --labels second`) downloads and extracts it;
 *  4. where the time of a trivial build goes, on a second `distci up` whose process is
 *     traced: this module, loaded into it with `NODE_OPTIONS=--import` and
 *     `DISTCI_BENCH_E2E_TRACE=FILE`, records its HTTP requests (client and server side),
 *     child processes and fsyncs, and writes them to FILE on SIGUSR2. Together with the
 *     tickets' own timestamps that gives the critical path of each build.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { subscribe } from 'node:diagnostics_channel';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { workspaceKey, type BuildRecord, type StepState } from '../src/core/builds/build.js';
import type { Ticket } from '../src/core/ticket.js';
import type { Proc } from '../src/harness/processes.js';
import { FsStore } from '../src/storage/fs/fs-store.js';
import { runProcess } from '../src/worker/step/process.js';
import { objectPath } from '../src/storage/fs/layout.js';
import { gnuTarPack } from '../src/worker/step/gnu-tar.js';
import { snapshotTree } from '../src/worker/step/tree-snapshot.js';
import { packWorkspace, unpackWorkspace } from '../src/worker/step/workspace.js';
import {
  childrenOf,
  cpuMeter,
  epochMs,
  expectStatus,
  intOption,
  OTHER_PROCESSES,
  requestJson,
  sleep,
  startDistci,
  summarize,
  UsageError,
  type BenchArgs,
  type BenchModule,
  type BenchResult,
  type ResultRow,
  type Summary,
} from './common.js';

const TARGET = { medianMs: 120, buildsPerSecond: 25 };
const TRACE_ENV = 'DISTCI_BENCH_E2E_TRACE';
const FINAL = new Set(['success', 'failure', 'error', 'cancelled']);
const TRIVIAL_JOB = 'e2e-trivial';

// --- tracer: runs inside the traced `distci up` process, not in the bench ---------------

type ReqEvent = { type: 'req'; method: string; path: string; start: number; end: number | null; status: number | null };
type SrvEvent = { type: 'srv'; method: string; url: string; start: number; end: number | null };
/** `returned`: when spawn() gave the event loop back (it forks synchronously). */
type SpawnEvent = { type: 'spawn'; command: string; arg0: string; cwd: string; start: number; returned: number; exit: number | null; close: number | null };
type FsyncEvent = { type: 'fsync'; start: number; end: number };
type TraceEvent = ReqEvent | SrvEvent | SpawnEvent | FsyncEvent;

/**
 * Records, with wall-clock times in ms: every HTTP request the process makes through
 * undici (the worker's calls; diagnostics channels), every request its HTTP server serves,
 * every `child_process.spawn` (patched, and the ESM bindings synced), and every
 * `FileHandle.sync` (the store's fsyncs). SIGUSR2 writes them all to `file` as JSON.
 */
async function installTracer(file: string): Promise<void> {
  const events: TraceEvent[] = [];
  const requests = new WeakMap<object, ReqEvent>();
  subscribe('undici:request:create', (m) => {
    const { request } = m as { request: { method: string; path: string } };
    requests.set(request, { type: 'req', method: request.method, path: request.path, start: epochMs(), end: null, status: null });
  });
  subscribe('undici:request:headers', (m) => {
    const { request, response } = m as { request: object; response: { statusCode: number } };
    const e = requests.get(request);
    if (!e) return;
    e.status = response.statusCode;
    events.push(e);
  });
  subscribe('undici:request:trailers', (m) => {
    const e = requests.get((m as { request: object }).request);
    if (e) e.end = epochMs();
  });
  const served = new WeakMap<object, SrvEvent>();
  subscribe('http.server.request.start', (m) => {
    const { request } = m as { request: IncomingMessage };
    const e: SrvEvent = { type: 'srv', method: request.method ?? '', url: request.url ?? '', start: epochMs(), end: null };
    served.set(request, e);
    events.push(e);
  });
  subscribe('http.server.response.finish', (m) => {
    const e = served.get((m as { request: object }).request);
    if (e) e.end = epochMs();
  });

  const cp = createRequire(import.meta.url)('node:child_process') as { spawn: (...args: unknown[]) => ChildProcess };
  const spawn = cp.spawn;
  cp.spawn = function traced(this: unknown, ...args: unknown[]): ChildProcess {
    const start = epochMs();
    const child = spawn.apply(this, args);
    const [command, second, third] = args;
    const argv = Array.isArray(second) ? (second as unknown[]) : [];
    const options = (Array.isArray(second) ? third : second) as { cwd?: unknown } | undefined;
    const e: SpawnEvent = { type: 'spawn', command: String(command), arg0: String(argv[0] ?? ''), cwd: String(options?.cwd ?? ''), start, returned: epochMs(), exit: null, close: null };
    events.push(e);
    child.once('exit', () => (e.exit = epochMs()));
    child.once('close', () => (e.close = epochMs()));
    return child;
  };
  syncBuiltinESMExports();

  const handle = await open(fileURLToPath(import.meta.url), 'r');
  const proto = Object.getPrototypeOf(handle) as { sync: (this: unknown) => Promise<void> };
  await handle.close();
  const sync = proto.sync;
  proto.sync = async function tracedSync(this: unknown): Promise<void> {
    const start = epochMs();
    try {
      await sync.call(this);
    } finally {
      events.push({ type: 'fsync', start, end: epochMs() });
    }
  };

  process.on('SIGUSR2', () => {
    writeFileSync(`${file}.tmp`, JSON.stringify(events));
    renameSync(`${file}.tmp`, file);
  });
}

if (process.env[TRACE_ENV]) await installTracer(process.env[TRACE_ENV]);

// --- settings ----------------------------------------------------------------------------

interface Settings {
  builds: number;
  warmup: number;
  pollMs: number;
  sseBuilds: number;
  unobservedBuilds: number;
  burst: number;
  concurrency: number;
  traceBuilds: number;
  workspaceFiles: number;
  workspaceMb: number;
  phases: Set<number>;
  /** Phases 1–3 on `distci frontend` + `distci worker` instead of one `distci up`. */
  split: boolean;
  profileDir: string | undefined;
}

function settingsFrom(o: BenchArgs['options']): Settings {
  const phases = new Set(String(o.phases ?? '1,2,3,4').split(',').map((p) => Number(p.trim())));
  if ([...phases].some((p) => ![1, 2, 3, 4].includes(p))) throw new UsageError(`--phases is a list of 1, 2, 3, 4; got '${String(o.phases)}'`);
  const workspaceFiles = intOption(o['workspace-files'], 10_000, 'workspace-files', 100);
  if (workspaceFiles % 100 !== 0) throw new UsageError('--workspace-files must be a multiple of 100 (100 files per directory)');
  return {
    builds: intOption(o.builds, 20, 'builds', 1),
    warmup: intOption(o.warmup, 2, 'warmup', 0),
    pollMs: intOption(o['poll-ms'], 2, 'poll-ms', 0),
    sseBuilds: intOption(o['sse-builds'], 3, 'sse-builds', 0),
    unobservedBuilds: intOption(o['unobserved-builds'], 8, 'unobserved-builds', 0),
    burst: intOption(o.burst, 100, 'burst', 1),
    concurrency: intOption(o.concurrency, 8, 'concurrency', 1),
    traceBuilds: intOption(o['trace-builds'], 10, 'trace-builds', 1),
    workspaceFiles,
    workspaceMb: intOption(o['workspace-mb'], 100, 'workspace-mb', 1),
    phases,
    split: o.split === true,
    profileDir: typeof o.profile === 'string' ? resolve(o.profile) : undefined,
  };
}

// --- deployment --------------------------------------------------------------------------

interface Deployment {
  name: string;
  url: string;
  /** The distci processes: `up`, or `frontend` and `worker`. */
  procs: Record<string, Proc>;
  /** Sequential requests (triggers, polls). */
  pool: Pool;
}

const pidsOf = (d: Deployment): Record<string, number> => Object.fromEntries(Object.entries(d.procs).map(([name, p]) => [name, p.pid]));

/** CPU of the deployment's processes, their children (git, bash) and the bench, from now on. */
const meterOf = (d: Deployment): (() => Record<string, number>) => cpuMeter({ ...pidsOf(d), bench: process.pid }, Object.keys(d.procs));

async function stopDeployment(d: Deployment, graceMs: number): Promise<void> {
  await Promise.all(Object.values(d.procs).map((p) => p.stop(graceMs)));
}

function poolTo(args: BenchArgs, url: string): Pool {
  const pool = new Pool(url, { connections: 8, pipelining: 1, keepAliveTimeout: 60_000 });
  args.cleanup.defer(`close the client pool to ${url}`, () => pool.close());
  return pool;
}

/** Settings from the caller's environment must not change what is measured. */
function childEnv(tmp: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { TMPDIR: tmp, ...extra };
  for (const name of Object.keys(process.env)) if (name.startsWith('DISTCI_') && !(name in env)) env[name] = '';
  return env;
}

function withPreload(env: NodeJS.ProcessEnv, file: string): NodeJS.ProcessEnv {
  const preload = new URL(file, import.meta.url).href;
  return { ...env, NODE_OPTIONS: `${env.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? ''} --import ${preload}`.trim() };
}

function profiled(env: NodeJS.ProcessEnv, s: Settings): NodeJS.ProcessEnv {
  if (!s.profileDir) return env;
  mkdirSync(s.profileDir, { recursive: true });
  return { ...withPreload(env, './profile-preload.js'), DISTCI_BENCH_PROFILE_DIR: s.profileDir };
}

/**
 * `distci up` in `dir` (data, and TMPDIR for the workers' work root, so nothing is left
 * in /tmp). Its worker offers the label `first`, so that the steps of job 3 that must run
 * there can say so; unlabelled tickets go to it as to any worker.
 */
async function startUp(args: BenchArgs, s: Settings, name: string, dir: string, env: NodeJS.ProcessEnv): Promise<Deployment> {
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const argv = ['up', '--data', join(dir, 'data'), '--port', '0', '--no-example', '--concurrency', String(s.concurrency), '--log-level', 'warn'];
  if (args.coordinator !== undefined) argv.push('--coordinator', args.coordinator);
  const { proc, match } = await startDistci(args, `distci up (${name})`, argv, childEnv(tmp, { DISTCI_LABELS: 'first', ...env }), /distci is up: (http:\/\/\S+)/);
  const url = match![1]!;
  args.log(`distci up (${name}): ${url}, pid ${proc.pid}, ${s.concurrency} worker slots`);
  return { name, url, procs: { up: proc }, pool: poolTo(args, url) };
}

/** The same as `startUp`, but as one `distci frontend` and one `distci worker` process. */
async function startSplit(args: BenchArgs, s: Settings, name: string, dir: string, env: NodeJS.ProcessEnv): Promise<Deployment> {
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const argv = ['frontend', '--data', join(dir, 'data'), '--port', '0', '--log-level', 'warn'];
  if (args.coordinator !== undefined) argv.push('--coordinator', args.coordinator);
  const frontend = await startDistci(args, `distci frontend (${name})`, argv, childEnv(tmp, env), /listening on (http:\/\/\S+)/);
  const url = frontend.match![1]!;
  const d: Deployment = { name, url, procs: { frontend: frontend.proc }, pool: poolTo(args, url) };
  const workerArgv = ['worker', '--server', url, '--concurrency', String(s.concurrency), '--labels', 'first', '--log-level', 'warn'];
  const { proc } = await startDistci(args, `distci worker (${name})`, workerArgv, childEnv(tmp, env));
  d.procs.worker = proc;
  await waitParked(d, s.concurrency);
  args.log(`distci frontend (${name}) ${url}, pid ${frontend.proc.pid}; distci worker pid ${proc.pid}, ${s.concurrency} slots`);
  return d;
}

/** A git repository with a README and the file the publish step publishes. */
function makeRepository(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'README.md'), '# e2e benchmark project\n');
  writeFileSync(join(dir, 'artifact.txt'), 'x'.repeat(1024));
  const env = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@localhost', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@localhost' };
  for (const argv of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'bench project']]) execFileSync('git', argv, { cwd: dir, env, stdio: 'ignore' });
  return dir;
}

const trivialJob = (repo: string): Record<string, unknown> => ({
  id: TRIVIAL_JOB,
  steps: [
    { name: 'checkout', type: 'git-checkout', params: { repository: repo, dir: 'src' } },
    { name: 'test', type: 'execute-shell', params: { script: 'true' } },
    { name: 'publish', type: 'publish-artifacts', params: { paths: ['src/artifact.txt'] } },
  ],
});

async function applyJob(d: Deployment, config: Record<string, unknown>): Promise<void> {
  expectStatus(`apply job ${String(config.id)}`, await requestJson(d.pool, 'PUT', `/api/v1/jobs/${String(config.id)}`, config), 200, 201);
}

// --- builds ------------------------------------------------------------------------------

interface Sample {
  number: number;
  /** When the trigger request was sent (epoch ms). */
  t0: number;
  /** Trigger request sent → its answer. */
  triggerMs: number;
  /** Trigger request sent → the client saw the final status. */
  seenMs: number;
  /** finishedAt − createdAt of the record (the frontend's clock, whole ms). */
  serverMs: number;
  polls: number;
  build: BuildRecord;
}

async function trigger(pool: Pool, job: string): Promise<{ number: number; t0: number; answered: number }> {
  const t0 = epochMs();
  const answer = await requestJson(pool, 'POST', `/api/v1/jobs/${job}/builds`, {});
  expectStatus(`trigger ${job}`, answer, 201);
  return { number: (answer.body as BuildRecord).number, t0, answered: epochMs() };
}

async function getBuild(pool: Pool, job: string, n: number): Promise<BuildRecord> {
  const answer = await requestJson(pool, 'GET', `/api/v1/jobs/${job}/builds/${n}`);
  expectStatus(`GET build ${job}#${n}`, answer, 200);
  return answer.body as BuildRecord;
}

/** Polls the build every `pollMs` (after each answer) until its status is final. */
async function pollUntilFinal(pool: Pool, job: string, n: number, pollMs: number, limitMs: number): Promise<{ build: BuildRecord; seen: number; polls: number }> {
  const deadline = epochMs() + limitMs;
  for (let polls = 1; ; polls++) {
    const build = await getBuild(pool, job, n);
    if (FINAL.has(build.status)) return { build, seen: epochMs(), polls };
    if (epochMs() > deadline) throw new Error(`build ${job}#${n} still ${build.status} after ${limitMs / 1000} s`);
    await sleep(pollMs);
  }
}

async function expectSuccess(pool: Pool, build: BuildRecord): Promise<void> {
  if (build.status === 'success') return;
  const consoleText = await requestJson(pool, 'GET', `/api/v1/jobs/${build.job}/builds/${build.number}/console`);
  throw new Error(`build ${build.job}#${build.number} ended ${build.status}; console:\n${String(consoleText.body).slice(-3000)}`);
}

async function runPolled(d: Deployment, job: string, pollMs: number): Promise<Sample> {
  const { number, t0, answered } = await trigger(d.pool, job);
  const { build, seen, polls } = await pollUntilFinal(d.pool, job, number, pollMs, 30_000);
  await expectSuccess(d.pool, build);
  return { number, t0, triggerMs: answered - t0, seenMs: seen - t0, serverMs: build.finishedAt! - build.createdAt, polls, build };
}

/** Trigger, then follow the console as Server-Sent Events until the `end` event. */
async function runFollowed(d: Deployment, job: string): Promise<Sample> {
  const { number, t0, answered } = await trigger(d.pool, job);
  const res = await d.pool.request({ method: 'GET', path: `/api/v1/jobs/${job}/builds/${number}/console?follow=1`, headers: { accept: 'text/event-stream' } });
  if (res.statusCode !== 200) throw new Error(`console follow: HTTP ${res.statusCode}`);
  let text = '';
  let seen = Number.NaN;
  for await (const chunk of res.body) {
    text += (chunk as Buffer).toString('utf8');
    if (/^event: end$/m.test(text)) {
      seen = epochMs();
      break;
    }
  }
  res.body.destroy();
  if (Number.isNaN(seen)) throw new Error(`the console stream of ${job}#${number} closed without an end event`);
  const build = await getBuild(d.pool, job, number);
  await expectSuccess(d.pool, build);
  return { number, t0, triggerMs: answered - t0, seenMs: seen - t0, serverMs: build.finishedAt! - build.createdAt, polls: 0, build };
}

/** Trigger, leave the deployment alone for `waitMs`, then read the record. */
async function runUnobserved(d: Deployment, job: string, waitMs: number): Promise<Sample> {
  const { number, t0, answered } = await trigger(d.pool, job);
  await sleep(waitMs);
  const { build, seen, polls } = await pollUntilFinal(d.pool, job, number, 20, 30_000);
  await expectSuccess(d.pool, build);
  return { number, t0, triggerMs: answered - t0, seenMs: seen - t0, serverMs: build.finishedAt! - build.createdAt, polls, build };
}

async function listTickets(pool: Pool, job: string): Promise<Ticket[]> {
  const out: Ticket[] = [];
  for (let after: string | null = null; ; ) {
    const answer = await requestJson(pool, 'GET', `/api/v1/tickets?job=${encodeURIComponent(job)}&limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`);
    expectStatus('list tickets', answer, 200);
    const page = answer.body as { tickets: Ticket[]; next: string | null };
    out.push(...page.tickets);
    if (!page.next) return out;
    after = page.next;
  }
}

// --- 1. sequential builds ----------------------------------------------------------------

interface Sequential {
  samples: Sample[];
  /** Wall time of the measured builds, for the share of a CPU other processes took. */
  wallMs: number;
  sse: Sample[];
  unobserved: Sample[];
  unobservedWaitMs: number;
  /** CPU ms per build over the measured builds: distci processes, their children, the bench, others. */
  cpuPerBuild: Record<string, number>;
  /** The same over the builds nobody polled (idle time between them included). */
  unobservedCpuPerBuild: Record<string, number>;
  unobservedWallMs: number;
}

async function sequential(args: BenchArgs, s: Settings, d: Deployment): Promise<Sequential> {
  args.log(`1. ${s.warmup} warm-up + ${s.builds} trivial builds one after another, polling every ${s.pollMs} ms`);
  for (let i = 0; i < s.warmup; i++) await runPolled(d, TRIVIAL_JOB, s.pollMs);
  const meter = meterOf(d);
  const started = epochMs();
  const samples: Sample[] = [];
  for (let i = 0; i < s.builds; i++) samples.push(await runPolled(d, TRIVIAL_JOB, s.pollMs));
  const cpu = meter();
  const wallMs = epochMs() - started;
  const cpuPerBuild = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / s.builds]));
  const seen = summarize(samples.map((x) => x.seenMs));
  args.log(`   median ${seen.p50.toFixed(1)} ms, p90 ${seen.p90.toFixed(1)} ms`);

  const sse: Sample[] = [];
  if (s.sseBuilds > 0) args.log(`   ${s.sseBuilds} builds followed through the SSE console instead`);
  for (let i = 0; i < s.sseBuilds; i++) sse.push(await runFollowed(d, TRIVIAL_JOB));
  const unobservedWaitMs = Math.max(400, Math.ceil(3 * seen.p90));
  if (s.unobservedBuilds > 0) args.log(`   ${s.unobservedBuilds} builds nobody polls while they run (record read after ${unobservedWaitMs} ms)`);
  const unobserved: Sample[] = [];
  const quiet = meterOf(d);
  const quietStart = epochMs();
  for (let i = 0; i < s.unobservedBuilds; i++) unobserved.push(await runUnobserved(d, TRIVIAL_JOB, unobservedWaitMs));
  const quietCpu = quiet();
  const unobservedWallMs = epochMs() - quietStart;
  const unobservedCpuPerBuild = Object.fromEntries(Object.entries(quietCpu).map(([k, v]) => [k, v / Math.max(1, s.unobservedBuilds)]));
  return { samples, wallMs, sse, unobserved, unobservedWaitMs, cpuPerBuild, unobservedCpuPerBuild, unobservedWallMs };
}

// --- 2. burst ----------------------------------------------------------------------------

interface KindStats {
  n: number;
  waitMs: Summary;
  holdMs: Summary;
}

interface Burst {
  n: number;
  succeeded: number;
  failures: string[];
  /** First trigger sent → the last build's finishedAt. */
  wallMs: number;
  /** First trigger sent → the client saw the last build final. */
  seenMs: number;
  /** First trigger sent → the last trigger answered. */
  triggersMs: number;
  latencyMs: Summary;
  cpuMs: Record<string, number>;
  kinds: Record<string, KindStats>;
  /** Share of the worker slots' time spent holding a ticket between the first claim and the last completion. */
  slotBusy: number;
  /** How steps 2 and 3 got their input workspace, from the consoles: local cache or download. */
  inputs: { cache: number; download: number; downloadMs: Summary };
}

async function burst(args: BenchArgs, s: Settings, d: Deployment): Promise<Burst> {
  args.log(`2. ${s.burst} builds of ${TRIVIAL_JOB} triggered at once`);
  const pool = new Pool(d.url, { connections: s.burst, pipelining: 1, keepAliveTimeout: 60_000 });
  args.cleanup.defer('close the burst pool', () => pool.close());
  // Open the connections first, so that the burst does not measure TCP handshakes.
  await Promise.all(Array.from({ length: s.burst }, () => requestJson(pool, 'GET', '/healthz')));
  const meter = meterOf(d);
  const t0 = epochMs();
  const triggered = await Promise.all(Array.from({ length: s.burst }, () => trigger(pool, TRIVIAL_JOB)));
  const triggersMs = Math.max(...triggered.map((t) => t.answered)) - t0;
  const numbers = triggered.map((t) => t.number).sort((a, b) => a - b);
  const builds: BuildRecord[] = [];
  const deadline = t0 + 90_000;
  // Builds end roughly in order: wait for the oldest unfinished one, then move on.
  for (let i = 0; i < numbers.length; ) {
    const build = await getBuild(d.pool, TRIVIAL_JOB, numbers[i]!);
    if (FINAL.has(build.status)) {
      builds.push(build);
      i++;
      continue;
    }
    if (epochMs() > deadline) throw new Error(`burst: build #${build.number} still ${build.status} after 90 s`);
    await sleep(10);
  }
  const seenMs = epochMs() - t0;
  const cpuMs = meter();
  const wallMs = Math.max(...builds.map((b) => b.finishedAt!)) - t0;
  const failures = builds.filter((b) => b.status !== 'success').map((b) => `#${b.number} ${b.status}${b.message ? `: ${b.message}` : ''}`);

  const wanted = new Set(numbers);
  const tickets = (await listTickets(d.pool, TRIVIAL_JOB)).filter((t) => wanted.has(t.refs.build ?? -1));
  const kinds: Record<string, KindStats> = {};
  for (const kind of new Set(tickets.map((t) => t.kind))) {
    const of = tickets.filter((t) => t.kind === kind && t.leases.length > 0);
    kinds[kind] = {
      n: of.length,
      waitMs: summarize(of.map((t) => t.leases[0]!.at - t.createdAt)),
      holdMs: summarize(of.filter((t) => t.status === 'done').map((t) => t.updatedAt - t.leases.at(-1)!.at)),
    };
  }
  const held = tickets.filter((t) => t.status === 'done' && t.leases.length > 0);
  const from = Math.min(...held.map((t) => t.leases[0]!.at));
  const to = Math.max(...held.map((t) => t.updatedAt));
  const slotBusy = held.reduce((sum, t) => sum + (t.updatedAt - t.leases.at(-1)!.at), 0) / (s.concurrency * (to - from));
  // After the measurement: how the steps' input workspaces arrived, from their consoles.
  const inputs = { cache: 0, download: 0, downloadMs: summarize([]) };
  const downloads: number[] = [];
  for (const n of numbers) {
    const text = String((await requestJson(d.pool, 'GET', `/api/v1/jobs/${TRIVIAL_JOB}/builds/${n}/console`)).body);
    inputs.cache += (text.match(/reused from this worker's cache/g) ?? []).length;
    for (const m of text.matchAll(/downloaded and extracted in (\d+) ms/g)) downloads.push(Number(m[1]));
  }
  inputs.download = downloads.length;
  inputs.downloadMs = summarize(downloads);
  return {
    inputs,
    n: s.burst,
    succeeded: builds.length - failures.length,
    failures,
    wallMs,
    seenMs,
    triggersMs,
    latencyMs: summarize(builds.map((b) => b.finishedAt! - b.createdAt)),
    cpuMs,
    kinds,
    slotBusy,
  };
}

// --- 3. workspace hand-off ---------------------------------------------------------------

interface StepTimes {
  name: string;
  startedAt: number;
  finishedAt: number;
  attempts: { attempt: number; worker: string | null; startedAt: number | null; finishedAt: number | null; outcome: string | null }[];
  scriptStart: number;
  scriptEnd: number;
  /** "[distci] workspace uploaded: N bytes in X ms" */
  uploadBytes: number;
  uploadMs: number;
  /** How the input workspace arrived: the local cache, or a download + extraction (ms). */
  input: 'none' | 'cache' | 'download';
  inputMs: number;
  /** "[distci] workspace unchanged: …": the step handed its input on without uploading. */
  unchanged: boolean;
}

interface HandOff {
  mode: 'local cache' | 'cold download';
  number: number;
  buildMs: number;
  steps: StepTimes[];
  /** Step 1 finished (ticket completed) → step 2's script started. */
  finishedToScriptMs: number;
  /** Step 1's script ended → step 2's script started: upload, hop, take-over or download. */
  scriptToScriptMs: number;
  /** Step 1 finished → step 2 claimed: the build-control hop. */
  hopMs: number;
  /** Step 2 claimed → its script started: take-over or download + extraction, spawn. */
  prepMs: number;
  /** Share of a CPU the rest of the machine used during the build. */
  otherShare: number;
}

function workspaceJob(id: string, s: Settings, secondLabel: string): Record<string, unknown> {
  const dirs = s.workspaceFiles / 100;
  const fileBytes = Math.floor((s.workspaceMb * 1_000_000) / s.workspaceFiles);
  const make = [
    'echo "@@start $EPOCHREALTIME"',
    `for d in $(seq -w 0 ${dirs - 1}); do mkdir "d$d"; head -c ${fileBytes * 100} /dev/urandom | split -b ${fileBytes} -a 2 -d - "d$d/f"; done`,
    'echo "@@end $EPOCHREALTIME"',
  ].join('\n');
  const count = [
    'echo "@@start $EPOCHREALTIME"',
    "set -- $(find . -type f -printf '%s\\n' | awk '{n++; s+=$1} END {print n+0, s+0}')",
    'echo "files: $1, bytes: $2"',
    `test "$1" -eq ${s.workspaceFiles} && test "$2" -eq ${fileBytes * s.workspaceFiles}`,
    'echo "@@end $EPOCHREALTIME"',
  ].join('\n');
  return {
    id,
    steps: [
      { name: 'make', type: 'execute-shell', labels: ['first'], params: { script: make } },
      { name: 'count', type: 'execute-shell', labels: [secondLabel], params: { script: count } },
    ],
  };
}

/** The console text split by step: `── step · attempt n ──` starts a section. */
function consoleSections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let step = '';
  for (const line of text.split('\n')) {
    const header = /^── (\S+) · attempt \d+ ──$/.exec(line);
    if (header) step = header[1]!;
    else if (step) out.set(step, `${out.get(step) ?? ''}${line}\n`);
  }
  return out;
}

function stepTimes(step: StepState, section: string): StepTimes {
  const num = (re: RegExp): number => {
    const m = re.exec(section);
    return m ? Number(m[1]) : Number.NaN;
  };
  const upload = /workspace uploaded: (\d+) bytes in (\d+) ms/.exec(section);
  const download = /downloaded and extracted in (\d+) ms/.exec(section);
  return {
    name: step.name,
    startedAt: step.startedAt!,
    finishedAt: step.finishedAt!,
    attempts: step.attempts.map(({ attempt, worker, startedAt, finishedAt, outcome }) => ({ attempt, worker, startedAt, finishedAt, outcome })),
    scriptStart: num(/@@start (\d+\.\d+)/) * 1000,
    scriptEnd: num(/@@end (\d+\.\d+)/) * 1000,
    uploadBytes: upload ? Number(upload[1]) : Number.NaN,
    uploadMs: upload ? Number(upload[2]) : Number.NaN,
    input: download ? 'download' : /reused from this worker's cache/.test(section) ? 'cache' : 'none',
    inputMs: download ? Number(download[1]) : Number.NaN,
    unchanged: /workspace unchanged: the next steps get/.test(section),
  };
}

async function handOff(args: BenchArgs, d: Deployment, job: string, mode: HandOff['mode'], extra: Record<string, number> = {}): Promise<HandOff> {
  const meter = cpuMeter({ ...pidsOf(d), ...extra, bench: process.pid }, [...Object.keys(d.procs), ...Object.keys(extra)]);
  const started = epochMs();
  const { number } = await trigger(d.pool, job);
  const { build } = await pollUntilFinal(d.pool, job, number, 50, 100_000);
  const otherShare = meter()[OTHER_PROCESSES]! / (epochMs() - started);
  await expectSuccess(d.pool, build);
  const text = await requestJson(d.pool, 'GET', `/api/v1/jobs/${job}/builds/${number}/console`);
  const sections = consoleSections(String(text.body));
  const steps = build.steps.map((step) => stepTimes(step, sections.get(step.name) ?? ''));
  const [one, two] = steps as [StepTimes, StepTimes];
  const result: HandOff = {
    mode,
    number,
    buildMs: build.finishedAt! - build.createdAt,
    steps,
    finishedToScriptMs: two.scriptStart - one.finishedAt,
    scriptToScriptMs: two.scriptStart - one.scriptEnd,
    hopMs: two.startedAt - one.finishedAt,
    prepMs: two.scriptStart - two.startedAt,
    otherShare,
  };
  args.log(
    `   ${mode}: step 1 finished → step 2 script ${result.finishedToScriptMs.toFixed(0)} ms; step 1 script end → step 2 script ${result.scriptToScriptMs.toFixed(0)} ms` +
      ` (upload ${one.uploadMs} ms, hop ${result.hopMs} ms, ${two.input}${two.input === 'download' ? ` ${two.inputMs} ms` : ''})`,
  );
  return result;
}

interface ArchiveFloors {
  bytes: number;
  unpackMs: number;
  gnuUntarMs: number;
  packMs: number;
  /** What the worker does now: a tree snapshot, then GNU tar fed its entry list. */
  snapshotMs: number;
  gnuPackMs: number;
  gnuTarMs: number;
  otherShare: number;
}

/**
 * The stored 100 MB workspace archive handled in the bench process with nothing else
 * running: unpackWorkspace (node-tar, as the workers extract), the workers' packing (tree
 * snapshot + GNU tar of its entries) and packWorkspace (node-tar, their fallback), against
 * plain GNU tar.
 */
async function archiveFloors(dataDir: string, dir: string, job: string, number: number): Promise<ArchiveFloors> {
  const meter = cpuMeter({ bench: process.pid }, ['bench']);
  const started = epochMs();
  const store = new FsStore({ root: join(dataDir, 'store') });
  const key = workspaceKey(job, number, 'make', 1);
  const file = objectPath(store.root, key).file;
  const signal = new AbortController().signal;
  const env = process.env as Record<string, string>;
  const into = (name: string): string => {
    const target = join(dir, name);
    mkdirSync(target, { recursive: true });
    return target;
  };
  execFileSync('sync');
  let t = epochMs();
  const object = await store.get(key);
  const ours = into('unpacked');
  await unpackWorkspace(object.body as Readable, ours, signal);
  const unpackMs = epochMs() - t;
  execFileSync('sync');
  t = epochMs();
  await runProcess({ command: 'tar', args: ['xf', file, '-C', into('gnu')], cwd: dir, env, signal });
  const gnuUntarMs = epochMs() - t;
  t = epochMs();
  for await (const chunk of packWorkspace(ours)) void chunk;
  const packMs = epochMs() - t;
  t = epochMs();
  const snap = await snapshotTree(ours, dir);
  const snapshotMs = epochMs() - t;
  for await (const chunk of gnuTarPack(ours, [...snap.entries.keys()])) void chunk;
  const gnuPackMs = epochMs() - t - snapshotMs;
  t = epochMs();
  await runProcess({ command: 'tar', args: ['cf', '-', '.'], cwd: ours, env, signal });
  const gnuTarMs = epochMs() - t;
  return { bytes: object.size, unpackMs, gnuUntarMs, packMs, snapshotMs, gnuPackMs, gnuTarMs, otherShare: meter()[OTHER_PROCESSES]! / (epochMs() - started) };
}

async function parkedClaims(d: Deployment): Promise<number> {
  const answer = await requestJson(d.pool, 'GET', '/metrics');
  const m = /^distci_claims_parked (\d+)/m.exec(String(answer.body));
  return m ? Number(m[1]) : Number.NaN;
}

/** Waits until the frontend holds at least `n` parked claims (workers ready to take tickets). */
async function waitParked(d: Deployment, n: number): Promise<void> {
  for (const deadline = epochMs() + 15_000; (await parkedClaims(d)) < n; await sleep(20)) {
    if (epochMs() > deadline) throw new Error(`fewer than ${n} claims parked on ${d.url} after 15 s`);
  }
}

async function workspaces(args: BenchArgs, s: Settings, d: Deployment, dir: string): Promise<HandOff[]> {
  args.log(`3. ${s.workspaceFiles.toLocaleString('en-US')}-file, ${s.workspaceMb} MB workspace handed from step to step`);
  await applyJob(d, workspaceJob('e2e-ws-local', s, 'first'));
  await applyJob(d, workspaceJob('e2e-ws-cold', s, 'second'));
  const out: HandOff[] = [await handOff(args, d, 'e2e-ws-local', 'local cache')];

  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const before = await parkedClaims(d);
  const argv = ['worker', '--server', d.url, '--kinds', 'execute-shell', '--labels', 'second', '--concurrency', '1', '--worker-id', 'second-worker', '--log-level', 'warn'];
  const { proc } = await startDistci(args, 'distci worker --labels second', argv, profiled(childEnv(tmp), s));
  await waitParked(d, before + 1);
  args.log(`   second worker (pid ${proc.pid}) is claiming`);
  out.push(await handOff(args, d, 'e2e-ws-cold', 'cold download', { second: proc.pid }));
  await proc.stop(5_000);
  return out;
}

// --- 4. where the time goes --------------------------------------------------------------

type Category = 'trigger' | 'dispatch' | 'build-control' | 'step prep' | 'processes' | 'artifact upload' | 'workspace pack + upload' | 'console + complete' | 'poll';

interface Segment {
  label: string;
  category: Category;
  ms: number;
}

interface RouteCost {
  route: string;
  n: number;
  clientMs: number;
  serverMs: number;
  fsyncs: number;
  fsyncMs: number;
}

interface TracedBuild {
  number: number;
  seenMs: number;
  segments: Segment[];
  routes: RouteCost[];
  processes: { command: string; ms: number; syncMs: number }[];
  fsyncs: { n: number; ms: number };
  workerRequests: number;
}

function routeOf(method: string, path: string): string {
  if (path === '/api/v1/tickets/claim') return 'POST claim';
  if (method === 'POST' && path === '/api/v1/tickets') return 'POST ticket (build-control)';
  if (/^\/api\/v1\/tickets\/[^/]+\/console$/.test(path)) return 'POST console chunk';
  if (/^\/api\/v1\/tickets\/[^/]+\/workspace$/.test(path)) return 'PUT workspace';
  if (/^\/api\/v1\/tickets\/[^/]+\/artifacts\//.test(path)) return 'PUT artifact';
  if (/^\/api\/v1\/tickets\/[^/]+\/complete$/.test(path)) return 'POST complete';
  if (/^\/api\/v1\/tickets\/[^/]+\/renew$/.test(path)) return 'POST renew';
  if (method === 'GET' && /^\/api\/v1\/tickets\/[^/]+$/.test(path)) return 'GET ticket (build-control)';
  if (method === 'PUT' && /\/builds\/\d+\/state$/.test(path)) return 'PUT build state (build-control)';
  if (method === 'GET' && /\/builds\/\d+$/.test(path)) return 'GET build (build-control)';
  if (/\/workspaces\//.test(path)) return 'GET workspace';
  return `${method} ${path}`;
}

const within = (t: number, from: number, to: number): boolean => t >= from && t <= to;

/**
 * The critical path of one traced build: trigger → build-control → step 1 → build-control
 * → … → final record → the poll that saw it, each link from the tickets' timestamps (the
 * coordinator's clock, whole ms) and the trace (sub-ms).
 */
function analyseBuild(job: string, sample: Sample, tickets: Ticket[], events: TraceEvent[]): TracedBuild | string {
  const n = sample.number;
  const seen = sample.t0 + sample.seenMs;
  const byKey = new Map(tickets.map((t) => [t.idempotencyKey ?? '', t]));
  const steps = sample.build.steps.map((st) => st.name);
  const bcKeys = [`build-control/${job}/${n}/start`, ...steps.map((st) => `build-control/${job}/${n}/after/${st}`)];
  const bcs = bcKeys.map((k) => byKey.get(k));
  const sts = steps.map((st) => byKey.get(`step/${job}/${n}/${st}`));
  if (bcs.some((t) => !t) || sts.some((t) => !t)) return `build #${n}: not all of its tickets were found`;
  const chain = [...(bcs as Ticket[]), ...(sts as Ticket[])].sort((a, b) => a.leases[0]!.at - b.leases[0]!.at);
  if (chain.some((t) => t.leases.length !== 1 || t.status !== 'done')) return `build #${n}: a ticket took more than one attempt`;

  const inWindow = events.filter((e) => within(e.start, sample.t0 - 1, seen + 1) || (e.type === 'req' && e.end !== null && within(e.end, sample.t0, seen + 1)));
  const reqs = inWindow.filter((e): e is ReqEvent => e.type === 'req' && e.end !== null);
  const grants = reqs.filter((e) => routeOf(e.method, e.path) === 'POST claim' && e.status === 200 && within(e.end!, sample.t0, seen)).sort((a, b) => a.end! - b.end!);
  if (grants.length !== chain.length) return `build #${n}: ${grants.length} claim answers traced for ${chain.length} tickets`;
  const grantOf = new Map(chain.map((t, i) => [t.id, grants[i]!.end!]));
  const spawns = inWindow.filter((e): e is SpawnEvent => e.type === 'spawn' && e.close !== null);
  const ownReq = (t: Ticket, route: string): ReqEvent[] => reqs.filter((e) => e.path.startsWith(`/api/v1/tickets/${t.id}/`) && routeOf(e.method, e.path) === route);

  const segments: Segment[] = [];
  const add = (label: string, category: Category, from: number, to: number): void => void segments.push({ label, category, ms: to - from });
  const firstBc = bcs[0]!;
  add('trigger request → build-control ticket posted', 'trigger', sample.t0, firstBc.createdAt);
  for (let k = 0; k < bcs.length; k++) {
    const bc = bcs[k]!;
    const tag = k === 0 ? 'build-control (start)' : `build-control (after ${steps[k - 1]})`;
    add(`${tag}: posted → claimed`, 'dispatch', bc.createdAt, bc.leases[0]!.at);
    add(`${tag}: claimed → claim answer at the worker`, 'dispatch', bc.leases[0]!.at, grantOf.get(bc.id)!);
    const st = sts[k];
    if (st) {
      add(`${tag}: read build + tickets, advance, post next step`, 'build-control', grantOf.get(bc.id)!, st.createdAt);
      const name = steps[k]!;
      const grant = grantOf.get(st.id)!;
      add(`${name}: posted → claimed`, 'dispatch', st.createdAt, st.leases[0]!.at);
      add(`${name}: claimed → claim answer at the worker`, 'dispatch', st.leases[0]!.at, grant);
      // tar packs the workspace: that is hand-off, not the step's own work.
      const procs = spawns.filter((e) => e.command !== 'tar' && within(e.start, grant, st.updatedAt)).sort((a, b) => a.start - b.start);
      const artifacts = ownReq(st, 'PUT artifact').sort((a, b) => a.start - b.start);
      const work = procs.length > 0 ? { start: procs[0]!.start, end: Math.max(...procs.map((p) => p.close!)) } : artifacts.length > 0 ? { start: artifacts[0]!.start, end: Math.max(...artifacts.map((a) => a.end!)) } : null;
      const upload = ownReq(st, 'PUT workspace')[0];
      const consoles = ownReq(st, 'POST console chunk').sort((a, b) => a.start - b.start);
      const complete = ownReq(st, 'POST complete')[0];
      // Without an upload (workspace unchanged), the hand-off ends when the last console chunk is sent.
      const handedOn = upload?.end ?? consoles.at(-1)?.start;
      if (!work || handedOn === undefined || !complete) return `build #${n}: step ${name} is missing its process, upload or console, or completion in the trace`;
      const what = procs.length > 0 ? `processes (${procs.map((p) => `${p.command} ${p.arg0}`).join(', ')})` : `artifact upload (${artifacts.length} PUT)`;
      add(`${name}: claim answer → ${procs.length > 0 ? 'first process spawned' : 'first artifact PUT'} (console, workspace take-over)`, 'step prep', grant, work.start);
      add(`${name}: ${what}`, procs.length > 0 ? 'processes' : 'artifact upload', work.start, work.end);
      add(`${name}: ${upload ? 'workspace snapshot + pack + PUT' : 'workspace snapshots (unchanged: no upload)'}`, 'workspace pack + upload', work.end, handedOn);
      add(`${name}: console flush → complete sent`, 'console + complete', handedOn, complete.start);
      add(`${name}: complete request → ticket done (+ follow-up posted)`, 'console + complete', complete.start, st.updatedAt);
    } else {
      const write = reqs.find((e) => routeOf(e.method, e.path) === 'PUT build state (build-control)' && e.start >= grantOf.get(bc.id)!);
      if (!write) return `build #${n}: the final build-state write is missing from the trace`;
      add(`${tag}: read build + tickets, advance, write the final record`, 'build-control', grantOf.get(bc.id)!, write.end!);
      add('final record written → the poll sees success', 'poll', write.end!, seen);
    }
  }

  // Off the critical path: what each kind of request cost, client and server side.
  const srvs = inWindow.filter((e): e is SrvEvent => e.type === 'srv' && e.end !== null);
  const fsyncs = inWindow.filter((e): e is FsyncEvent => e.type === 'fsync');
  const routes = new Map<string, RouteCost>();
  const workerReqs = reqs.filter((e) => !(routeOf(e.method, e.path) === 'POST claim' && !grants.includes(e)));
  for (const e of workerReqs) {
    const route = routeOf(e.method, e.path);
    const srv = srvs.find((x) => x.method === e.method && x.url === e.path && x.start >= e.start - 0.05 && x.end! <= e.end! + 0.05);
    const own = srv ? fsyncs.filter((f) => f.start >= srv.start && f.end <= srv.end!) : [];
    const r = routes.get(route) ?? { route, n: 0, clientMs: 0, serverMs: 0, fsyncs: 0, fsyncMs: 0 };
    r.n++;
    // A claim's client time is its long-poll wait; what matters is the server's answer.
    r.clientMs += route === 'POST claim' ? 0 : e.end! - e.start;
    r.serverMs += srv && route !== 'POST claim' ? srv.end! - srv.start : 0;
    r.fsyncs += own.length;
    r.fsyncMs += own.reduce((sum, f) => sum + f.end - f.start, 0);
    routes.set(route, r);
  }
  return {
    number: n,
    seenMs: sample.seenMs,
    segments,
    routes: [...routes.values()],
    processes: spawns.map((p) => ({ command: `${p.command} ${p.arg0}`, ms: p.close! - p.start, syncMs: p.returned - p.start })),
    fsyncs: { n: fsyncs.length, ms: fsyncs.reduce((sum, f) => sum + f.end - f.start, 0) },
    workerRequests: workerReqs.length,
  };
}

interface Floors {
  entries: number;
  bytes: number;
  /** packWorkspace() of a fresh checkout workspace, read to the end. */
  packMs: Summary;
  /** Tree snapshot + gnuTarPack of its entries (the worker's packing), read to the end. */
  workerPackMs: Summary;
  /** GNU `tar cf -` of the same directory, spawn included. */
  gnuTarMs: Summary;
  /** FsStore.put of a 100-byte console chunk (create-only), as the console route does. */
  storePutMs: Summary;
  /** runProcess of `bash -e -o pipefail -c true`, spawn → close. */
  bashMs: Summary;
  /** runProcess of `git clone -q REPO .`, spawn → close. */
  gitCloneMs: Summary;
  /** Share of a CPU the rest of the machine used meanwhile. */
  otherShare: number;
}

interface Breakdown {
  samples: Sample[];
  builds: TracedBuild[];
  skipped: string[];
  floors: Floors;
  /** Share of a CPU the rest of the machine used during the traced builds. */
  otherShare: number;
}

async function timed(n: number, fn: () => Promise<unknown>): Promise<Summary> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = epochMs();
    await fn();
    out.push(epochMs() - t);
  }
  return summarize(out);
}

/**
 * The same operations in the bench process, one at a time, with no deployment running:
 * what the pieces of a step cost on this machine without contention.
 */
async function floors(dir: string, repo: string): Promise<Floors> {
  const meter = cpuMeter({ bench: process.pid }, ['bench']);
  const started = epochMs();
  const ws = join(dir, 'floors', 'ws');
  mkdirSync(join(ws, 'src'), { recursive: true });
  execFileSync('git', ['clone', '-q', repo, join(ws, 'src')], { stdio: 'ignore' });
  let entries = 0;
  let bytes = 0;
  for await (const chunk of packWorkspace(ws)) bytes += (chunk as Buffer).length;
  entries = Number(execFileSync('sh', ['-c', 'find . | wc -l'], { cwd: ws, encoding: 'utf8' }).trim());
  const packMs = await timed(30, async () => {
    for await (const chunk of packWorkspace(ws)) void chunk;
  });
  const workerPackMs = await timed(30, async () => {
    const snap = await snapshotTree(ws, dirname(ws));
    for await (const chunk of gnuTarPack(ws, [...snap.entries.keys()])) void chunk;
  });
  // Read through a pipe: GNU tar skips reading the files when the archive is /dev/null.
  const gnuTarMs = await timed(15, () => runProcess({ command: 'tar', args: ['cf', '-', '.'], cwd: ws, env: process.env as Record<string, string>, signal: new AbortController().signal }));
  const store = new FsStore({ root: join(dir, 'floors', 'store') });
  await store.ready();
  let seq = 0;
  const storePutMs = await timed(30, () => store.put(`builds/j/1/console/s/0001/${String(seq++).padStart(8, '0')}`, 'x'.repeat(100), { ifNoneMatch: true }));
  const run = (command: string, args: string[], cwd: string): Promise<unknown> =>
    runProcess({ command, args, cwd, env: process.env as Record<string, string>, signal: new AbortController().signal });
  const bashMs = await timed(15, () => run('bash', ['-e', '-o', 'pipefail', '-c', 'true'], ws));
  let clone = 0;
  const gitCloneMs = await timed(10, () => {
    const target = join(dir, 'floors', `clone-${clone++}`);
    mkdirSync(target, { recursive: true });
    return run('git', ['clone', '-q', '--', repo, '.'], target);
  });
  const otherShare = meter()[OTHER_PROCESSES]! / (epochMs() - started);
  return { entries, bytes, packMs, workerPackMs, gnuTarMs, storePutMs, bashMs, gitCloneMs, otherShare };
}

async function whereTimeGoes(args: BenchArgs, s: Settings, dir: string, repo: string): Promise<Breakdown> {
  args.log(`4. a traced distci up: ${s.warmup} warm-up + ${s.traceBuilds} trivial builds`);
  const traceFile = join(dir, 'trace.json');
  const env = { ...withPreload({}, './e2e.js'), [TRACE_ENV]: traceFile };
  const d = await startUp(args, s, 'traced', dir, env);
  await applyJob(d, trivialJob(repo));
  for (let i = 0; i < s.warmup; i++) await runPolled(d, TRIVIAL_JOB, s.pollMs);
  const samples: Sample[] = [];
  const meter = meterOf(d);
  const started = epochMs();
  for (let i = 0; i < s.traceBuilds; i++) samples.push(await runPolled(d, TRIVIAL_JOB, s.pollMs));
  const otherShare = meter()[OTHER_PROCESSES]! / (epochMs() - started);
  process.kill(d.procs.up!.pid, 'SIGUSR2');
  for (const deadline = epochMs() + 10_000; !existsSync(traceFile); await sleep(20)) {
    if (epochMs() > deadline) throw new Error('the traced distci up did not write its trace');
  }
  const events = JSON.parse(readFileSync(traceFile, 'utf8')) as TraceEvent[];
  const tickets = await listTickets(d.pool, TRIVIAL_JOB);
  await stopDeployment(d, 5_000);
  const builds: TracedBuild[] = [];
  const skipped: string[] = [];
  for (const sample of samples) {
    const result = analyseBuild(TRIVIAL_JOB, sample, tickets.filter((t) => t.refs.build === sample.number), events);
    if (typeof result === 'string') skipped.push(result);
    else builds.push(result);
  }
  args.log(`   ${builds.length} builds analysed${skipped.length ? `; skipped: ${skipped.join('; ')}` : ''}; floors in the bench process`);
  return { samples, builds, skipped, floors: await floors(dir, repo), otherShare };
}

// --- the benchmark ----------------------------------------------------------------------

interface Measured {
  sequential?: Sequential;
  burst?: Burst;
  handOffs?: HandOff[];
  archive?: ArchiveFloors;
  breakdown?: Breakdown;
}

async function run(args: BenchArgs): Promise<BenchResult> {
  const s = settingsFrom(args.options);
  if (args.coordinator !== undefined && !args.coordinator.startsWith('sqlite:')) {
    throw new UsageError(`e2e runs distci up on the embedded backend; --coordinator must be a sqlite: URL, got '${args.coordinator}'`);
  }
  const tmp = await args.cleanup.tempDir('distci-bench-e2e-');
  const repo = makeRepository(join(tmp, 'repo'));
  const m: Measured = {};

  // The traced deployment first, alone on the machine; then the one measured untouched.
  if (s.phases.has(4)) m.breakdown = await whereTimeGoes(args, s, join(tmp, 'traced'), repo);
  if (s.phases.has(1) || s.phases.has(2) || s.phases.has(3)) {
    const d = await (s.split ? startSplit : startUp)(args, s, 'measured', join(tmp, 'up'), profiled({}, s));
    await applyJob(d, trivialJob(repo));
    if (s.phases.has(1)) m.sequential = await sequential(args, s, d);
    if (s.phases.has(2)) {
      if (!s.phases.has(1)) for (let i = 0; i < s.warmup; i++) await runPolled(d, TRIVIAL_JOB, s.pollMs);
      m.burst = await burst(args, s, d);
    }
    if (s.phases.has(3)) m.handOffs = await workspaces(args, s, d, join(tmp, 'second'));
    await stopDeployment(d, 15_000);
    const cold = m.handOffs?.find((h) => h.mode === 'cold download');
    if (cold) {
      args.log('   the stored workspace archive through node-tar and GNU tar in the bench process');
      m.archive = await archiveFloors(join(tmp, 'up', 'data'), join(tmp, 'archive'), 'e2e-ws-cold', cold.number);
    }
  }
  return report(s, m);
}

// --- report ------------------------------------------------------------------------------

const ms = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
const sec = (v: number): string => `${(v / 1000).toFixed(2)} s`;
const median = (values: number[]): number => summarize(values).p50;

/** The distci processes in a CPU reading: every key but the bench, children and others. */
const distciNames = (cpu: Record<string, number>): string[] =>
  Object.keys(cpu).filter((k) => k !== 'bench' && k !== OTHER_PROCESSES && !k.endsWith(childrenOf('')));

const ourCpu = (cpu: Record<string, number>): number =>
  Object.entries(cpu).reduce((sum, [k, v]) => (k === OTHER_PROCESSES ? sum : sum + v), 0);

function cpuDetail(cpu: Record<string, number>, per: string): string {
  const names = distciNames(cpu);
  const kids = names.reduce((sum, n) => sum + cpu[childrenOf(n)]!, 0);
  return `CPU${per}: ${names.map((n) => `${n} ${ms(cpu[n]!)}`).join(', ')}, their git/bash children ${ms(kids)}, bench client ${ms(cpu.bench!)}, other processes ${ms(cpu[OTHER_PROCESSES]!)}`;
}

function sequentialRows(s: Settings, q: Sequential): ResultRow[] {
  const group = `1. trivial 3-step build (checkout, shell \`true\`, publish 1 file), one at a time, ${s.concurrency} worker slots`;
  const seen = summarize(q.samples.map((x) => x.seenMs));
  const server = summarize(q.samples.map((x) => x.serverMs));
  const trig = summarize(q.samples.map((x) => x.triggerMs));
  const polls = summarize(q.samples.map((x) => x.polls));
  const rows: ResultRow[] = [
    {
      group,
      metric: 'trigger sent → poll sees success, median',
      value: seen.p50,
      unit: 'ms',
      target: `≤ ${TARGET.medianMs} ms`,
      met: seen.p50 <= TARGET.medianMs,
      detail:
        `n=${seen.n} after ${s.warmup} warm-up; min ${ms(Math.min(...q.samples.map((x) => x.seenMs)))}; polled every ${s.pollMs} ms (${polls.p50} polls per build at p50); ` +
        `other processes ${((100 * q.cpuPerBuild[OTHER_PROCESSES]! * s.builds) / q.wallMs).toFixed(0)}% of a CPU`,
    },
    { group, metric: 'trigger sent → poll sees success, p90', value: seen.p90, unit: 'ms', detail: `max ${ms(seen.max)}` },
    { group, metric: 'record createdAt → finishedAt, median', value: server.p50, unit: 'ms', detail: `p90 ${ms(server.p90)}; the trigger's own answer p50 ${ms(trig.p50)}` },
    { group, metric: 'CPU per build, our processes', value: ourCpu(q.cpuPerBuild), unit: 'ms', detail: cpuDetail(q.cpuPerBuild, ' per build') },
  ];
  if (q.sse.length > 0) {
    const sse = summarize(q.sse.map((x) => x.seenMs));
    rows.push({ group, metric: 'SSE console instead: trigger sent → `end` event, median', value: sse.p50, unit: 'ms', detail: `n=${sse.n}, max ${ms(sse.max)}; the frontend re-reads the build every 250 ms (followPollMs)` });
  }
  if (q.unobserved.length > 0) {
    const un = summarize(q.unobserved.map((x) => x.serverMs));
    rows.push({
      group,
      metric: 'nobody polling: createdAt → finishedAt, median',
      value: un.p50,
      unit: 'ms',
      detail:
        `n=${un.n}, max ${ms(un.max)}; against ${ms(server.p50)} while polled every ${s.pollMs} ms; trigger sent → finishedAt p50 ${ms(median(q.unobserved.map((x) => x.build.finishedAt! - x.t0)))}; ` +
        `${cpuDetail(q.unobservedCpuPerBuild, ' per build')} (idle waits included); other processes ${((100 * q.unobservedCpuPerBuild[OTHER_PROCESSES]! * q.unobserved.length) / q.unobservedWallMs).toFixed(0)}% of a CPU`,
    });
  }
  return rows;
}

function burstRows(s: Settings, b: Burst): ResultRow[] {
  const group = `2. ${b.n} builds of the same job triggered at once, ${s.concurrency} worker slots`;
  const rate = (1000 * b.n) / b.wallMs;
  const kind = (k: string): string => {
    const x = b.kinds[k];
    return x ? `${k}: wait p50 ${ms(x.waitMs.p50)} / max ${ms(x.waitMs.max)}, held p50 ${ms(x.holdMs.p50)}` : `${k}: none`;
  };
  return [
    {
      group,
      metric: 'builds/s (first trigger sent → last build final)',
      value: rate,
      unit: '/s',
      target: `≥ ${TARGET.buildsPerSecond} /s, all succeed`,
      met: rate >= TARGET.buildsPerSecond && b.failures.length === 0,
      detail:
        `${b.succeeded}/${b.n} succeeded in ${sec(b.wallMs)} (client saw the last one after ${sec(b.seenMs)}); all ${b.n} triggers answered after ${ms(b.triggersMs)}; ` +
        `other processes ${((100 * b.cpuMs[OTHER_PROCESSES]!) / b.seenMs).toFixed(0)}% of a CPU${b.failures.length ? `; FAILED: ${b.failures.slice(0, 3).join('; ')}` : ''}`,
    },
    { group, metric: 'build latency createdAt → finishedAt, median', value: b.latencyMs.p50, unit: 'ms', detail: `p90 ${ms(b.latencyMs.p90)}, max ${ms(b.latencyMs.max)}` },
    {
      group,
      metric: 'worker slots busy (held ÷ slots × span)',
      value: 100 * b.slotBusy,
      unit: '%',
      detail: `${s.concurrency} slots; tickets posted → claimed / claimed → completed: ${kind('build-control')}; ${kind('git-checkout')}; ${kind('execute-shell')}; ${kind('publish-artifacts')}`,
    },
    {
      group,
      metric: 'CPU used, our processes',
      value: (100 * ourCpu(b.cpuMs)) / b.seenMs,
      unit: '% of a CPU',
      detail:
        `${cpuDetail(Object.fromEntries(Object.entries(b.cpuMs).map(([k, v]) => [k, v / b.n])), ' per build')}; ` +
        `${distciNames(b.cpuMs).map((n) => `${n} alone ${((100 * b.cpuMs[n]!) / b.seenMs).toFixed(0)}%`).join(', ')} of a CPU over the run (2 CPUs in all)`,
    },
    {
      group,
      metric: 'steps 2–3 that took their input from the local cache',
      value: b.inputs.cache,
      unit: `of ${b.inputs.cache + b.inputs.download}`,
      detail: `the others downloaded and extracted it: p50 ${ms(b.inputs.downloadMs.p50)}, max ${ms(b.inputs.downloadMs.max)} (the worker keeps 256 workspaces or 2 GiB)`,
    },
  ];
}

function handOffRows(s: Settings, runs: HandOff[]): ResultRow[] {
  const group = `3. ${s.workspaceMb} MB, ${s.workspaceFiles.toLocaleString('en-US')}-file workspace handed from step 1 to step 2`;
  const rows: ResultRow[] = [];
  for (const r of runs) {
    const [one, two] = r.steps as [StepTimes, StepTimes];
    const attempts = (st: StepTimes): string => st.attempts.map((a) => `attempt ${a.attempt} on ${a.worker} ${a.outcome}`).join(', ');
    rows.push(
      {
        group,
        metric: `${r.mode}: step 1 finished → step 2 script started`,
        value: r.finishedToScriptMs,
        unit: 'ms',
        detail: `other processes ${(100 * r.otherShare).toFixed(0)}% of a CPU during the build; hop (step 1 completed → step 2 claimed) ${ms(r.hopMs)}; step 2 claimed → script ${ms(r.prepMs)}, ${two.input === 'download' ? `download + extraction ${two.inputMs} ms` : two.input === 'cache' ? 'taken over from the local cache' : 'no input'}`,
      },
      {
        group,
        metric: `${r.mode}: step 1 script ended → step 2 script started`,
        value: r.scriptToScriptMs,
        unit: 'ms',
        detail: `includes step 1's workspace upload: ${(one.uploadBytes / 1e6).toFixed(1)} MB in ${one.uploadMs} ms (pack + PUT + fsync)`,
      },
      {
        group,
        metric: `${r.mode}: step 1 'make' startedAt → finishedAt`,
        value: one.finishedAt - one.startedAt,
        unit: 'ms',
        detail: `script ${ms(one.scriptEnd - one.scriptStart)}; ${attempts(one)}`,
      },
      {
        group,
        metric: `${r.mode}: step 2 'count' startedAt → finishedAt`,
        value: two.finishedAt - two.startedAt,
        unit: 'ms',
        detail: `script ${ms(two.scriptEnd - two.scriptStart)}; then ${Number.isNaN(two.uploadMs) ? (two.unchanged ? 'no upload (workspace unchanged)' : 'no upload line') : `its own workspace upload ${two.uploadMs} ms`}; ${attempts(two)}; build #${r.number} took ${sec(r.buildMs)}`,
      },
    );
  }
  return rows;
}

function archiveRows(a: ArchiveFloors): ResultRow[] {
  const group = `3b. the stored ${(a.bytes / 1e6).toFixed(0)} MB workspace archive in the bench process, deployment stopped (other processes ${(100 * a.otherShare).toFixed(0)}% of a CPU)`;
  return [
    { group, metric: 'unpackWorkspace (node-tar, as the worker extracts)', value: a.unpackMs, unit: 'ms', detail: `GNU tar xf of the same file: ${ms(a.gnuUntarMs)}` },
    { group, metric: 'tree snapshot + GNU tar of its entries (as the worker packs), read to the end', value: a.snapshotMs + a.gnuPackMs, unit: 'ms', detail: `snapshot ${ms(a.snapshotMs)} (taken before and after a step with one input), tar ${ms(a.gnuPackMs)}; GNU tar cf - of the same directory: ${ms(a.gnuTarMs)}` },
    { group, metric: 'packWorkspace (node-tar, the fallback without GNU tar), read to the end', value: a.packMs, unit: 'ms', detail: '' },
  ];
}

function breakdownRows(b: Breakdown): ResultRow[] {
  const rows: ResultRow[] = [];
  if (b.builds.length === 0) return rows;
  const group = `4. where the time of a trivial build goes: critical path, median of ${b.builds.length} traced builds`;
  const total = median(b.builds.map((x) => x.seenMs));
  const labels = b.builds[0]!.segments.map((seg) => seg.label);
  for (const label of labels) {
    const values = b.builds.map((x) => x.segments.find((seg) => seg.label === label)?.ms ?? Number.NaN);
    const sum = summarize(values);
    rows.push({ group, metric: label, value: sum.p50, unit: 'ms', detail: `p90 ${ms(sum.p90)}` });
  }
  const byCat = `4b. the same, by kind of cost (median per build of the summed segments; traced build total ${ms(total)})`;
  const categories = [...new Set(b.builds[0]!.segments.map((seg) => seg.category))];
  for (const category of categories) {
    const per = b.builds.map((x) => x.segments.filter((seg) => seg.category === category).reduce((a, seg) => a + seg.ms, 0));
    const v = median(per);
    rows.push({ group: byCat, metric: category, value: v, unit: 'ms', detail: `${((100 * v) / total).toFixed(0)}% of the build` });
  }
  const reqGroup = '4c. requests the worker makes per trivial build (median per build; server time measured inside the up process)';
  const routes = [...new Set(b.builds.flatMap((x) => x.routes.map((r) => r.route)))];
  for (const route of routes) {
    const get = (f: (r: RouteCost) => number): number => median(b.builds.map((x) => {
      const r = x.routes.find((y) => y.route === route);
      return r ? f(r) : 0;
    }));
    const n = get((r) => r.n);
    const detail = route === 'POST claim'
      ? 'long polls answered with a ticket'
      : `client round trips ${ms(get((r) => r.clientMs))} in all; server ${ms(get((r) => r.serverMs))}, of which ${get((r) => r.fsyncs)} fsyncs ${ms(get((r) => r.fsyncMs))}`;
    rows.push({ group: reqGroup, metric: route, value: n, unit: '×', detail });
  }
  const procs = b.builds.map((x) => x.processes);
  const procMs = median(procs.map((p) => p.reduce((a, c) => a + c.ms, 0)));
  const kinds = [...new Set(procs.flat().map((p) => p.command))];
  rows.push({
    group: reqGroup,
    metric: 'child processes',
    value: median(procs.map((p) => p.length)),
    unit: '×',
    detail:
      `${ms(procMs)} spawn → close in all: ${kinds.map((k) => `${k} ${ms(median(procs.map((p) => p.filter((c) => c.command === k).reduce((a, c) => a + c.ms, 0))))}`).join(', ')}; ` +
      `spawn() itself blocked the event loop ${ms(median(procs.map((p) => p.reduce((a, c) => a + c.syncMs, 0))))} per build`,
  });
  rows.push({
    group: reqGroup,
    metric: 'fsyncs (store writes)',
    value: median(b.builds.map((x) => x.fsyncs.n)),
    unit: '×',
    detail: `${ms(median(b.builds.map((x) => x.fsyncs.ms)))} in all; worker HTTP requests per build ${median(b.builds.map((x) => x.workerRequests))}`,
  });
  const f = b.floors;
  const floorGroup = `4d. floors: the same operations in the bench process, one at a time, no deployment running (median; other processes ${(100 * f.otherShare).toFixed(0)}% of a CPU)`;
  rows.push(
    { group: floorGroup, metric: 'tree snapshot + GNU tar of a checkout workspace (as the worker packs), read to the end', value: f.workerPackMs.p50, unit: 'ms', detail: `p90 ${ms(f.workerPackMs.p90)}; n=${f.workerPackMs.n}` },
    { group: floorGroup, metric: 'packWorkspace() (node-tar, the fallback) of the same, read to the end', value: f.packMs.p50, unit: 'ms', detail: `${f.entries} entries, ${(f.bytes / 1024).toFixed(0)} KiB of tar; p90 ${ms(f.packMs.p90)}; n=${f.packMs.n}` },
    { group: floorGroup, metric: 'GNU tar cf - of the same directory, read to the end', value: f.gnuTarMs.p50, unit: 'ms', detail: `spawn included; p90 ${ms(f.gnuTarMs.p90)}` },
    { group: floorGroup, metric: 'FsStore.put of a 100-byte console chunk', value: f.storePutMs.p50, unit: 'ms', detail: `create-only: temp file, write, fsync, link, dir fsync; p90 ${ms(f.storePutMs.p90)}` },
    { group: floorGroup, metric: 'runProcess: bash -e -o pipefail -c true', value: f.bashMs.p50, unit: 'ms', detail: `spawn → close; p90 ${ms(f.bashMs.p90)}` },
    { group: floorGroup, metric: 'runProcess: git clone -q of the local repository', value: f.gitCloneMs.p50, unit: 'ms', detail: `spawn → close; p90 ${ms(f.gitCloneMs.p90)}` },
  );
  return rows;
}

function report(s: Settings, m: Measured): BenchResult {
  const rows: ResultRow[] = [];
  if (m.sequential) rows.push(...sequentialRows(s, m.sequential));
  if (m.burst) rows.push(...burstRows(s, m.burst));
  if (m.handOffs) rows.push(...handOffRows(s, m.handOffs));
  if (m.archive) rows.push(...archiveRows(m.archive));
  if (m.breakdown) rows.push(...breakdownRows(m.breakdown));
  const traced = m.breakdown ? summarize(m.breakdown.samples.map((x) => x.seenMs)) : null;
  return {
    benchmark: 'e2e',
    title: s.split
      ? `e2e (split): one \`distci frontend\` + one \`distci worker --concurrency ${s.concurrency}\` process for 1–3; client = raw undici Pool in the bench process`
      : `e2e (distci up): one \`distci up\` process (frontend + SQLite coordinator + file store + ${s.concurrency} worker slots), client = raw undici Pool in the bench process`,
    rows,
    notes: [
      s.split
        ? `deployment for 1–3: \`distci frontend --data <tmp> --port 0 --log-level warn\` + \`distci worker --concurrency ${s.concurrency} --labels first --log-level warn\`; TMPDIR points into the run's temp dir`
        : `deployment: \`distci up --data <tmp> --port 0 --no-example --concurrency ${s.concurrency} --log-level warn\` with DISTCI_LABELS=first (only job 3's steps use labels); TMPDIR points into the run's temp dir`,
      '1: a build is done when a `GET /builds/N` poll shows a final status; the SSE console is slower by design (its frontend re-reads the build every 250 ms)',
      `2: all ${s.burst} triggers are sent at once over ${s.burst} open connections; the end is the latest finishedAt (the frontend's clock); the client scans the builds oldest first every 10 ms`,
      '3: step timings are the build record\'s (startedAt = lease granted, finishedAt = ticket completed); script start and end come from `echo $EPOCHREALTIME` in the scripts (a bash builtin); upload and download times are the worker\'s own console lines',
      ...(traced
        ? [`4: a separate \`distci up\` with this module preloaded to trace it (HTTP client and server, spawns, fsyncs); its builds took ${ms(traced.p50)} at p50 (p90 ${ms(traced.p90)}), the same polling as 1; other processes ${(100 * m.breakdown!.otherShare).toFixed(0)}% of a CPU meanwhile${m.breakdown!.skipped.length ? `; not analysed: ${m.breakdown!.skipped.join('; ')}` : ''}`]
        : []),
      ...(s.profileDir ? [`PROFILED RUN (--profile ${s.profileDir}): the measured up process and the second worker ran under the CPU profiler; do not quote these numbers`] : []),
    ],
    details: { settings: { ...s, phases: [...s.phases] }, target: TARGET, ...m },
  };
}

export const e2e: BenchModule = {
  summary: 'end-to-end build latency, builds/s, workspace hand-off and a traced breakdown on an idle `distci up`',
  timeLimitMs: 230_000,
  options: {
    builds: { type: 'string', arg: 'n', help: 'measured sequential builds (default 20)' },
    warmup: { type: 'string', arg: 'n', help: 'warm-up builds before them (default 2)' },
    'poll-ms': { type: 'string', arg: 'ms', help: 'pause between two polls of a build (default 2)' },
    'sse-builds': { type: 'string', arg: 'n', help: 'builds followed through the SSE console, for comparison (default 3)' },
    'unobserved-builds': { type: 'string', arg: 'n', help: 'builds nobody polls while they run, for comparison (default 5)' },
    burst: { type: 'string', arg: 'n', help: 'builds triggered at once (default 100)' },
    concurrency: { type: 'string', arg: 'n', help: 'worker slots of distci up (default 8)' },
    'trace-builds': { type: 'string', arg: 'n', help: 'builds analysed on the traced deployment (default 10)' },
    'workspace-files': { type: 'string', arg: 'n', help: 'files in the hand-off workspace, a multiple of 100 (default 10000)' },
    'workspace-mb': { type: 'string', arg: 'mb', help: 'size of the hand-off workspace in MB (default 100)' },
    phases: { type: 'string', arg: 'list', help: 'which parts to run, e.g. 1,2 (default 1,2,3,4)' },
    split: { type: 'boolean', help: 'run 1–3 on a distci frontend + a distci worker process instead of distci up' },
    profile: { type: 'string', arg: 'dir', help: 'CPU-profile the measured up process (and the second worker) into DIR/<pid>.cpuprofile' },
  },
  run,
};
