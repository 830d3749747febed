/**
 * dispatch — how fast tickets reach workers through the embedded (SQLite) coordinator.
 *
 * Two `distci frontend` child processes share one SQLite file (`--data <tmp>`); the client
 * runs in this process. Measured:
 *  1. long-poll wake-up latency: a claim parked on frontend A, then a matching post to A
 *     (same frontend) or to B (across processes: doorbell → fs.watch → claim); latency is
 *     from just before sending the post to the claim's complete response. A fixed settle
 *     delay (default 10 ms) between sending the claim and posting lets it park;
 *  2. claims/s (waitMs 0, with a claimId as workers send; and without one) and
 *     claim+complete/s with N concurrent client loops on A, each over its own queue of
 *     pending tickets pre-filled directly through SqliteCoordinator.post before the
 *     frontends start; claim+complete also through the project's ApiClient/TicketsApi;
 *  3. for scale: GET /healthz/s against A with the same client and concurrency (the HTTP
 *     floor), and SqliteCoordinator claim / claim+complete in-process on a copy of the
 *     pre-filled file (the SQLite floor).
 *
 * Client: a raw undici Pool (one per frontend, keep-alive, no pipelining) for the lowest
 * client overhead, except the ApiClient line.
 *
 * With `--coordinator zookeeper://HOSTS/ROOT` the frontends run on that ensemble (under a
 * fresh child of ROOT, removed afterwards); with `--coordinator zookeeper` the benchmark
 * starts a throwaway 3-node ensemble on loopback with scripts/zookeeper.sh and stops it
 * at the end. It then measures (see `runZookeeper`): the same wake-up latency; claims/s
 * with 16 and 64 concurrent client loops (workers) spread over both frontends, tickets
 * pre-filled through ZookeeperCoordinator.post; and, in the same run, the raw ZooKeeper
 * conditional-write rate — setData expecting the version, through the project's
 * ZkClient, each loop on its own znode — sequentially, 16 and 64 in flight.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { ApiClient } from '../src/client/api-client.js';
import { TicketsApi } from '../src/client/tickets-api.js';
import { SqliteCoordinator } from '../src/coordination/embedded/sqlite-coordinator.js';
import { isZk, ZK } from '../src/coordination/zookeeper/errors.js';
import { ZkClient } from '../src/coordination/zookeeper/zk-client.js';
import { parseZookeeperUrl, ZookeeperCoordinator } from '../src/coordination/zookeeper/zookeeper-coordinator.js';
import { drain, spawnDistci, waitForLine, type FrontendProc } from '../src/harness/processes.js';
import {
  cpuMeter,
  OTHER_PROCESSES,
  sleep,
  summarize,
  type BenchArgs,
  type BenchModule,
  type BenchResult,
  type ResultRow,
  type Summary,
  UsageError,
} from './common.js';

const TARGET = { wakeP50Ms: 5, wakeP99Ms: 25, claimShareOfHealthz: 0.5 };
const LEASE_TTL_MS = 300_000; // no lease expires (and is swept back) during a run
const JSON_HEADERS = { 'content-type': 'application/json' };

interface Settings {
  samples: number;
  warmupSamples: number;
  settleMs: number;
  tickets: number;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  apiClient: boolean;
  profileDir: string | undefined;
  /** ZooKeeper only: the frontends' lease sweep interval (each sweep reads every lease). */
  sweepMs: number;
  /** ZooKeeper only: pending tickets per throughput line (posting to ZooKeeper is slower). */
  zkTickets: number;
  /** ZooKeeper only: concurrent client loops of the claim lines, and in flight of the raw lines. */
  workers: number[];
}

function int(value: string | boolean | undefined, fallback: number, name: string, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${String(value)}'`);
  return n;
}

function settingsFrom(o: BenchArgs['options']): Settings {
  return {
    samples: int(o.samples, 400, 'samples', 1),
    warmupSamples: int(o['warmup-samples'], 20, 'warmup-samples', 0),
    settleMs: int(o['settle-ms'], 10, 'settle-ms', 0),
    tickets: int(o.tickets, 20_000, 'tickets', 100),
    concurrency: int(o.concurrency, 16, 'concurrency', 1),
    durationMs: int(o['duration-ms'], 4_000, 'duration-ms', 100),
    warmupMs: int(o['warmup-ms'], 500, 'warmup-ms', 0),
    apiClient: o['no-api-client'] !== true,
    profileDir: typeof o.profile === 'string' ? resolve(o.profile) : undefined,
    sweepMs: int(o['sweep-ms'], 1_000, 'sweep-ms', 10),
    zkTickets: int(o.tickets, 3_000, 'tickets', 100),
    workers: String(o.workers ?? '16,64')
      .split(',')
      .map((w) => int(w, 0, 'workers', 1)),
  };
}

/** A realistic ~230-byte execute-shell payload. */
function payload(i: number): unknown {
  return {
    script: 'npm ci && npm test -- --reporter=dot',
    workdir: 'src',
    timeoutSeconds: 600,
    env: { CI: 'true', NODE_ENV: 'test' },
    workspace: { version: i, digest: `sha256:${(i * 2654435761).toString(16).padStart(16, '0').repeat(4)}` },
  };
}

// --- processes ---------------------------------------------------------------------------

/**
 * `startFrontendProc` from src/harness, inlined so the child is registered for cleanup
 * right after spawn: if it never prints "listening", startFrontendProc's promise rejects
 * without handing back the PID, and the child would be left running.
 */
async function startFrontend(args: BenchArgs, name: string, flags: string[], env: NodeJS.ProcessEnv): Promise<FrontendProc> {
  const proc = spawnDistci(['frontend', '--port', '0', ...flags], env);
  args.cleanup.defer(`stop frontend ${name} (pid ${proc.pid})`, async () => {
    const code = await proc.stop(5_000);
    if (code !== 0 && code !== null) args.log(`frontend ${name} (pid ${proc.pid}) exited with ${code}:\n${proc.stderr().slice(-2000)}`);
  });
  const match = await waitForLine(proc, /listening on (http:\/\/\S+)/);
  drain(proc);
  return Object.assign(proc, { url: match[1]! });
}

/**
 * Lets timers run. SqliteCoordinator checkpoints the WAL on a 1 s timer (wal_autocheckpoint
 * is 0); a loop of awaited-but-synchronous calls never yields to it, and the WAL then grows
 * by ~35 KB per commit and slows every statement down. A frontend's event loop turns
 * between requests, so in-process loops here yield every 100 calls to be comparable.
 */
const yieldToTimers = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Posts `n` pending tickets of each kind straight into the SQLite file (no HTTP). */
async function prefill(path: string, kinds: string[], n: number): Promise<void> {
  const coordinator = new SqliteCoordinator({ path });
  try {
    for (const kind of kinds) {
      for (let i = 0; i < n; i++) {
        await coordinator.post({ kind, payload: payload(i), refs: { job: 'bench', build: i, step: 'test' } });
        if (i % 100 === 99) await yieldToTimers();
      }
    }
  } finally {
    await coordinator.close();
  }
}

/** The frontends' environment: the caller's settings must not change what is measured; `--profile`. */
function frontendEnv(s: Settings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { DISTCI_COORDINATOR: '', DISTCI_AUTH_TOKENS: '', DISTCI_CONFIG: '' };
  if (s.profileDir) {
    mkdirSync(s.profileDir, { recursive: true });
    const preload = new URL('./profile-preload.js', import.meta.url).href;
    env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${preload}`.trim();
    env.DISTCI_BENCH_PROFILE_DIR = s.profileDir;
  }
  return env;
}

// --- HTTP --------------------------------------------------------------------------------

interface Answer {
  status: number;
  body: unknown;
}

async function send(pool: Pool, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
  const res = await pool.request({
    method,
    path,
    headers: body === undefined ? undefined : JSON_HEADERS,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: text.length > 0 ? (JSON.parse(text) as unknown) : null };
}

function expectStatus(what: string, answer: Answer, ...ok: number[]): void {
  if (!ok.includes(answer.status)) throw new Error(`${what}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 500)}`);
}

interface Grant {
  ticket: { id: string };
  lease: { token: number };
}

const completeBody = (grant: Grant): Record<string, unknown> => ({ token: grant.lease.token, result: { outcome: 'success' } });

const claimBody = (kind: string, waitMs: number): Record<string, unknown> => ({
  workerId: 'bench-worker',
  kinds: [kind],
  labels: [],
  waitMs,
  claimId: randomUUID(), // as the worker runtime sends
});

// --- 1. wake-up latency ------------------------------------------------------------------

interface WakeSamples {
  /** post sent → parked claim's answer complete. */
  claimMs: number[];
  /** post sent → post's own answer complete (a plain round trip after the same idle gap). */
  postMs: number[];
}

async function wakeUp(claimPool: Pool, postPool: Pool, kind: string, s: Settings): Promise<WakeSamples> {
  const out: WakeSamples = { claimMs: [], postMs: [] };
  for (let i = 0; i < s.warmupSamples + s.samples; i++) {
    const claimed = send(claimPool, 'POST', '/api/v1/tickets/claim', claimBody(kind, 30_000)).then((a) => ({
      ...a,
      at: performance.now(),
    }));
    await sleep(s.settleMs); // let the claim reach the frontend, find nothing and park
    const t0 = performance.now();
    const posted = send(postPool, 'POST', '/api/v1/tickets', { kind, payload: payload(i) }).then((a) => ({
      ...a,
      at: performance.now(),
    }));
    const [claim, post] = await Promise.all([claimed, posted]);
    expectStatus('post', post, 201);
    expectStatus('parked claim', claim, 200);
    const got = (claim.body as Grant).ticket.id;
    const sent = (post.body as { id: string }).id;
    if (got !== sent) throw new Error(`the parked claim got ticket ${got}, not the one just posted (${sent})`);
    if (i >= s.warmupSamples) {
      out.claimMs.push(claim.at - t0);
      out.postMs.push(post.at - t0);
    }
    // Untimed: complete it, so leased tickets do not pile up and slow later claims.
    const grant = claim.body as Grant;
    expectStatus('complete', await send(claimPool, 'POST', `/api/v1/tickets/${got}/complete`, completeBody(grant)), 200);
  }
  return out;
}

/** Round trip of a claim that finds nothing (waitMs 0): an upper bound on the time to park. */
async function emptyClaims(pool: Pool, kind: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    expectStatus('empty claim', await send(pool, 'POST', '/api/v1/tickets/claim', claimBody(kind, 0)), 204);
    out.push(performance.now() - t0);
  }
  return out;
}

// --- 2./3. closed-loop throughput -------------------------------------------------------

interface LoopResult {
  /** Operations in the measured window. */
  ops: number;
  /** Operations in the whole line, warm-up and stragglers included. */
  total: number;
  seconds: number;
  rate: number;
  latencyMs: Summary;
  /** CPU ms per process during the measured window. */
  cpuMs: Record<string, number>;
  drained: boolean;
}

/**
 * `concurrency` loops call `op` back to back. Ops completing in [warm-up end, duration
 * end or the first empty answer] are counted; CPU of the given PIDs is metered over the
 * same window. `op` returns false when the queue is empty, null when it did nothing this
 * time (not counted).
 */
async function closedLoop(
  concurrency: number,
  s: Settings,
  pids: Record<string, number>,
  op: () => Promise<boolean | null>,
): Promise<LoopResult> {
  let phase: 'warmup' | 'measure' | 'done' = 'warmup';
  let count = 0;
  let start = { t: 0, count: 0 };
  let end = { t: 0, count: 0 };
  let meter: (() => Record<string, number>) | null = null;
  let cpuMs: Record<string, number> = {};
  let drained = false;
  let drainedEarly = false;
  const latencies: number[] = [];

  const finish = (): void => {
    if (phase === 'warmup') drainedEarly = true;
    if (phase !== 'measure') {
      phase = 'done';
      return;
    }
    end = { t: performance.now(), count };
    cpuMs = meter!();
    phase = 'done';
  };
  const begin = (): void => {
    if (phase !== 'warmup') return;
    meter = cpuMeter(pids);
    start = { t: performance.now(), count };
    phase = 'measure';
  };
  if (s.warmupMs === 0) begin();
  const warmTimer = setTimeout(begin, s.warmupMs);
  const endTimer = setTimeout(finish, s.warmupMs + s.durationMs);

  let total = 0;
  const loop = async (): Promise<void> => {
    while (phase !== 'done') {
      const t0 = performance.now();
      const more = await op();
      if (more === null) continue; // nothing done this time; not an operation
      if (!more) {
        drained = true;
        finish();
        return;
      }
      total++;
      if (phase === 'measure') {
        count++;
        if (t0 >= start.t) latencies.push(performance.now() - t0);
      } else if (phase === 'warmup') {
        count++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    clearTimeout(warmTimer);
    clearTimeout(endTimer);
  }
  if (drainedEarly) throw new Error('the queue ran empty during the warm-up; raise --tickets or lower --warmup-ms');
  const ops = end.count - start.count;
  const seconds = (end.t - start.t) / 1000;
  return { ops, total, seconds, rate: ops / seconds, latencyMs: summarize(latencies), cpuMs, drained };
}

// --- 3b. SQLite in-process -----------------------------------------------------------------

interface RawResult {
  ops: number;
  rate: number;
  latencyUs: Summary;
  /** Latency of the first and the last 1,000 measured calls: shows growth with the leased count. */
  firstUs: Summary;
  lastUs: Summary;
}

async function rawSqlite(
  coordinator: SqliteCoordinator,
  kind: string,
  s: Settings,
  opts: { complete: boolean; claimId: boolean },
): Promise<RawResult> {
  const latencies: number[] = [];
  const warmEnd = performance.now() + Math.min(s.warmupMs, 200);
  const deadline = warmEnd + s.durationMs;
  let ops = 0;
  let from = 0;
  let to = 0;
  for (let i = 0; ; i++) {
    if (i % 100 === 99) await yieldToTimers();
    const t0 = performance.now();
    if (t0 >= deadline) break;
    const claim = await coordinator.claim({
      workerId: 'bench-worker',
      kinds: [kind],
      labels: [],
      ttlMs: LEASE_TTL_MS,
      ...(opts.claimId ? { claimId: randomUUID() } : {}),
    });
    if (!claim) break;
    if (opts.complete) await coordinator.complete(claim.ticket.id, claim.token, { outcome: 'success' });
    const t1 = performance.now();
    if (t0 >= warmEnd) {
      if (ops === 0) from = t0;
      ops++;
      to = t1;
      latencies.push((t1 - t0) * 1000);
    }
  }
  if (ops === 0) throw new Error('the in-process queue ran empty during the warm-up; raise --tickets');
  return {
    ops,
    // Wall clock, so the WAL checkpoints the yields let run are paid for, as in a frontend.
    rate: ops / ((to - from) / 1000),
    latencyUs: summarize(latencies),
    firstUs: summarize(latencies.slice(0, 1000)),
    lastUs: summarize(latencies.slice(-1000)),
  };
}

// --- the benchmark ----------------------------------------------------------------------

async function run(args: BenchArgs): Promise<BenchResult> {
  const s = settingsFrom(args.options);
  const url = args.coordinator;
  if (url === undefined || url.startsWith('sqlite:')) return runSqlite(args, s);
  if (url === 'zookeeper' || url.startsWith('zookeeper://')) return runZookeeper(args, s, url);
  throw new UsageError(`--coordinator must be sqlite:PATH, zookeeper://HOSTS/ROOT or zookeeper (a throwaway 3-node ensemble), got '${url}'`);
}

async function runSqlite(args: BenchArgs, s: Settings): Promise<BenchResult> {
  const { log, cleanup } = args;
  const tmp = await cleanup.tempDir('distci-bench-dispatch-');
  const dataDir = join(tmp, 'data');
  mkdirSync(dataDir, { recursive: true });
  const dbPath =
    args.coordinator !== undefined
      ? resolve(args.coordinator.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, ''))
      : join(dataDir, 'coordinator.db');
  const rawPath = join(tmp, 'raw', 'coordinator.db');

  // Kinds unique to this run, so a shared --coordinator file's other tickets never match.
  const runId = randomUUID().slice(0, 8);
  const kind = (what: string): string => `bench-${what}-${runId}`;
  const k = {
    wakeSame: kind('wake-same'),
    wakeCross: kind('wake-cross'),
    empty: kind('empty'),
    claim: kind('claim'),
    claimComplete: kind('claim-complete'),
    api: kind('api-client'),
    noClaimId: kind('no-claim-id'),
  };

  const queues = [k.claimComplete, ...(s.apiClient ? [k.api] : []), k.claim, k.noClaimId];
  log(`pre-filling ${s.tickets.toLocaleString('en-US')} pending tickets × ${queues.length} kinds into ${dbPath} (SqliteCoordinator.post, no HTTP)`);
  let t = performance.now();
  await prefill(dbPath, queues, s.tickets);
  const prefillSeconds = (performance.now() - t) / 1000;
  const perPostUs = Math.round((prefillSeconds * 1e6) / (s.tickets * queues.length));
  mkdirSync(dirname(rawPath), { recursive: true });
  if (args.coordinator === undefined) {
    // Nobody has the fresh file open: a byte copy (database + WAL) is a consistent snapshot.
    for (const suffix of ['', '-wal']) if (existsSync(dbPath + suffix)) copyFileSync(dbPath + suffix, rawPath + suffix);
    log(`pre-filled in ${prefillSeconds.toFixed(1)} s (${perPostUs} µs per post); copied to ${rawPath} for the in-process lines`);
  } else {
    log(`pre-filled in ${prefillSeconds.toFixed(1)} s (${perPostUs} µs per post); the same queues into ${rawPath} for the in-process lines`);
    await prefill(rawPath, [k.claimComplete, k.claim, k.noClaimId], s.tickets);
  }

  const flags = ['--data', dataDir, '--log-level', 'warn', '--lease-ttl-ms', String(LEASE_TTL_MS)];
  if (args.coordinator !== undefined) flags.push('--coordinator', args.coordinator);
  const env = frontendEnv(s);
  const [a, b] = await Promise.all([startFrontend(args, 'A', flags, env), startFrontend(args, 'B', flags, env)]);
  log(`frontend A ${a.url} (pid ${a.pid}), frontend B ${b.url} (pid ${b.pid})`);
  const pool = (url: string): Pool => {
    const p = new Pool(url, { connections: s.concurrency + 4, pipelining: 1, keepAliveTimeout: 60_000 });
    cleanup.defer(`close the client pool to ${url}`, () => p.close());
    return p;
  };
  const poolA = pool(a.url);
  const poolB = pool(b.url);
  const pids = { frontendA: a.pid, frontendB: b.pid, client: process.pid };

  // 1. wake-up latency
  log('empty claims (waitMs 0) on A: the time a claim needs to find nothing and park');
  await emptyClaims(poolA, k.empty, 50);
  const empty = summarize(await emptyClaims(poolA, k.empty, 200));
  log(`wake-up, same frontend: ${s.warmupSamples} + ${s.samples} samples, settle ${s.settleMs} ms`);
  const same = await wakeUp(poolA, poolA, k.wakeSame, s);
  log(`wake-up, across frontends (claim parked on A, post to B): ${s.warmupSamples} + ${s.samples} samples`);
  const cross = await wakeUp(poolA, poolB, k.wakeCross, s);

  // 3a. the HTTP floor
  log(`GET /healthz on A, ${s.concurrency} loops, ${s.durationMs} ms`);
  const healthz = await closedLoop(s.concurrency, s, pids, async () => {
    expectStatus('healthz', await send(poolA, 'GET', '/healthz'), 200);
    return true;
  });

  // 2. throughput. claim+complete first: claims that are never completed stay leased, and
  // a claim's cost grows with the number of leased tickets (see the report).
  log(`claim + complete on A, ${s.concurrency} loops, ${s.durationMs} ms or until empty`);
  const claimComplete = await closedLoop(s.concurrency, s, pids, async () => {
    const answer = await send(poolA, 'POST', '/api/v1/tickets/claim', claimBody(k.claimComplete, 0));
    expectStatus('claim', answer, 200, 204);
    if (answer.status === 204) return false;
    const grant = answer.body as Grant;
    expectStatus('complete', await send(poolA, 'POST', `/api/v1/tickets/${grant.ticket.id}/complete`, completeBody(grant)), 200);
    return true;
  });

  let api: LoopResult | undefined;
  if (s.apiClient) {
    log(`claim + complete on A through ApiClient/TicketsApi (as workers do), ${s.concurrency} loops, ${s.durationMs} ms or until empty`);
    const client = new ApiClient({ servers: [a.url] });
    cleanup.defer('close the ApiClient', () => client.close());
    const tickets = new TicketsApi(client);
    api = await closedLoop(s.concurrency, s, pids, async () => {
      const retryUntil = Date.now() + 5_000;
      const grant = await tickets.claim(
        { workerId: 'bench-worker', kinds: [k.api], labels: [], waitMs: 0, claimId: randomUUID() },
        { retryUntil },
      );
      if (grant === null) return false;
      await tickets.complete(grant.ticket.id, grant.lease.token, { outcome: 'success' }, { retryUntil });
      return true;
    });
  }

  const claimLoop = (queue: string, withClaimId: boolean): Promise<LoopResult> =>
    closedLoop(s.concurrency, s, pids, async () => {
      const body = claimBody(queue, 0);
      if (!withClaimId) delete body.claimId;
      const answer = await send(poolA, 'POST', '/api/v1/tickets/claim', body);
      expectStatus('claim', answer, 200, 204);
      return answer.status === 200;
    });
  log(`claims on A (waitMs 0, never completed), ${s.concurrency} loops, ${s.durationMs} ms or until empty`);
  const claims = await claimLoop(k.claim, true);
  // Last: without a claimId a claim's cost does not depend on how many tickets are leased.
  log(`claims on A without claimId, ${s.concurrency} loops, ${s.durationMs} ms or until empty`);
  const claimsNoClaimId = await claimLoop(k.noClaimId, false);

  // 3b. the SQLite floor, in this process, frontends idle
  // Same order as over HTTP; the line without claimId goes last since it leaves the most leases.
  log(`SqliteCoordinator in-process on ${rawPath}: claim+complete, claim, claim without claimId`);
  const raw = new SqliteCoordinator({ path: rawPath });
  cleanup.defer('close the in-process coordinator', () => raw.close());
  const rawClaimComplete = await rawSqlite(raw, k.claimComplete, s, { complete: true, claimId: true });
  const rawClaim = await rawSqlite(raw, k.claim, s, { complete: false, claimId: true });
  const rawNoClaimId = await rawSqlite(raw, k.noClaimId, s, { complete: false, claimId: false });
  await raw.close();

  t = performance.now();
  await Promise.all([a.stop(5_000), b.stop(5_000)]);
  log(`frontends stopped in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  for (const proc of [a, b]) {
    const logged = proc.stderr().trim();
    if (logged) log(`frontend pid ${proc.pid} logged (warn and above):\n${logged.slice(-2000)}`);
  }

  return report(s, {
    empty,
    wakeSame: summarize(same.claimMs),
    wakeSamePost: summarize(same.postMs),
    wakeCross: summarize(cross.claimMs),
    wakeCrossPost: summarize(cross.postMs),
    healthz,
    claims,
    claimsNoClaimId,
    claimComplete,
    api,
    rawClaim,
    rawNoClaimId,
    rawClaimComplete,
    prefillSeconds,
  });
}

interface Measured {
  empty: Summary;
  wakeSame: Summary;
  wakeSamePost: Summary;
  wakeCross: Summary;
  wakeCrossPost: Summary;
  healthz: LoopResult;
  claims: LoopResult;
  claimsNoClaimId: LoopResult;
  claimComplete: LoopResult;
  api: LoopResult | undefined;
  rawClaim: RawResult;
  rawNoClaimId: RawResult;
  rawClaimComplete: RawResult;
  prefillSeconds: number;
}

const ms = (v: number): string => `${v.toFixed(2)} ms`;
const us = (v: number): string => `${Math.round(v)} µs`;

function cpuPerOp(r: LoopResult): string {
  const per = (name: string): string => us((r.cpuMs[name]! * 1000) / r.ops);
  const other = (100 * r.cpuMs[OTHER_PROCESSES]!) / (r.seconds * 1000);
  // Ops per second of frontend CPU: what one fully busy frontend core would do; unlike the
  // rate itself it hardly moves when other processes compete for the machine.
  const perCpuSecond = Math.round(r.ops / (r.cpuMs.frontendA! / 1000)).toLocaleString('en-US');
  return `CPU/op: frontend ${per('frontendA')} (= ${perCpuSecond} per frontend CPU-second), client ${per('client')}; other processes ${other.toFixed(0)}% of a CPU`;
}

function loopDetail(r: LoopResult): string {
  return `${r.ops.toLocaleString('en-US')} in ${r.seconds.toFixed(1)} s${r.drained ? ' (queue drained)' : ''}; latency p50 ${ms(r.latencyMs.p50)} p99 ${ms(r.latencyMs.p99)}; ${cpuPerOp(r)}`;
}

function rawDetail(r: RawResult): string {
  return `p50 ${us(r.latencyUs.p50)} p99 ${us(r.latencyUs.p99)}; first 1,000 p50 ${us(r.firstUs.p50)}, last 1,000 p50 ${us(r.lastUs.p50)}; n=${r.ops.toLocaleString('en-US')}`;
}

function report(s: Settings, m: Measured): BenchResult {
  const wakeGroup = '1. long-poll wake-up: post sent → parked claim answered';
  const wake = (where: string, sum: Summary, post: Summary): ResultRow[] => [
    {
      group: wakeGroup,
      metric: `${where} p50`,
      value: sum.p50,
      unit: 'ms',
      target: `≤ ${TARGET.wakeP50Ms} ms`,
      met: sum.p50 <= TARGET.wakeP50Ms,
      detail: `n=${sum.n}; the post's own answer p50 ${ms(post.p50)}`,
    },
    {
      group: wakeGroup,
      metric: `${where} p99`,
      value: sum.p99,
      unit: 'ms',
      target: `≤ ${TARGET.wakeP99Ms} ms`,
      met: sum.p99 <= TARGET.wakeP99Ms,
      detail: `max ${ms(sum.max)}; the post's own answer p99 ${ms(post.p99)}`,
    },
  ];
  const claimFloor = TARGET.claimShareOfHealthz * m.healthz.rate;
  const tput = `2./3. HTTP throughput, ${s.concurrency} concurrent client loops on frontend A`;
  const raw = '3. SQLite in-process (SqliteCoordinator, no HTTP), same queue size';
  const rows: ResultRow[] = [
    ...wake('same frontend (post to A)', m.wakeSame, m.wakeSamePost),
    ...wake('across frontends (post to B)', m.wakeCross, m.wakeCrossPost),
    {
      group: wakeGroup,
      metric: 'empty claim round trip p99 (time to park)',
      value: m.empty.p99,
      unit: 'ms',
      detail: `p50 ${ms(m.empty.p50)}; settle delay before each post: ${s.settleMs} ms`,
    },
    {
      group: tput,
      metric: 'claims/s (waitMs 0, never completed)',
      value: m.claims.rate,
      unit: '/s',
      target: `≥ ${Math.round(claimFloor).toLocaleString('en-US')} /s (50% of healthz)`,
      met: m.claims.rate >= claimFloor,
      detail: `${((100 * m.claims.rate) / m.healthz.rate).toFixed(1)}% of healthz; leased tickets grew 0 → ${m.claims.total.toLocaleString('en-US')}; ${loopDetail(m.claims)}`,
    },
    {
      group: tput,
      metric: 'claims/s without claimId',
      value: m.claimsNoClaimId.rate,
      unit: '/s',
      detail: `${((100 * m.claimsNoClaimId.rate) / m.healthz.rate).toFixed(1)}% of healthz; ${loopDetail(m.claimsNoClaimId)}`,
    },
    {
      group: tput,
      metric: 'claim+complete/s (pairs)',
      value: m.claimComplete.rate,
      unit: '/s',
      detail: loopDetail(m.claimComplete),
    },
  ];
  if (m.api) {
    rows.push({
      group: tput,
      metric: 'claim+complete/s via ApiClient/TicketsApi',
      value: m.api.rate,
      unit: '/s',
      detail: loopDetail(m.api),
    });
  }
  rows.push(
    { group: tput, metric: 'GET /healthz/s (empty round trip)', value: m.healthz.rate, unit: '/s', detail: loopDetail(m.healthz) },
    {
      group: raw,
      metric: 'claim transactions/s (with claimId, never completed)',
      value: m.rawClaim.rate,
      unit: '/s',
      detail: rawDetail(m.rawClaim),
    },
    {
      group: raw,
      metric: 'claim transactions/s without claimId',
      value: m.rawNoClaimId.rate,
      unit: '/s',
      detail: rawDetail(m.rawNoClaimId),
    },
    {
      group: raw,
      metric: 'claim+complete/s (pairs)',
      value: m.rawClaimComplete.rate,
      unit: '/s',
      detail: rawDetail(m.rawClaimComplete),
    },
  );
  return {
    benchmark: 'dispatch',
    title: 'dispatch (embedded SQLite): 2 frontend processes on one SQLite file; client = raw undici Pool in the bench process',
    rows,
    notes: [
      `wake-up: ${s.samples} samples per line after ${s.warmupSamples} warm-up; before each post the bench waits a fixed ${s.settleMs} ms so the claim is parked (an empty claim is answered within ${ms(m.empty.p99)} at p99); each claimed ticket is completed afterwards, untimed`,
      `throughput: ${s.tickets.toLocaleString('en-US')} pending tickets per line, pre-filled straight into the SQLite file with SqliteCoordinator.post before the frontends started (${m.prefillSeconds.toFixed(1)} s); ${s.warmupMs} ms warm-up, then up to ${s.durationMs} ms measured or until the queue is empty; lines run in the order claim+complete, ApiClient, claims, claims without claimId (tickets claimed and never completed stay leased)`,
      'every claim carries a fresh claimId, as the worker runtime sends; leases last 300 s so none expires during the run',
      'CPU/op = CPU time of the process over the measured window / operations (from /proc/PID/stat, 10 ms ticks); "other processes" = machine busy time (/proc/stat) not used by the bench, its two frontends — noise from elsewhere',
      ...(m.empty.max > s.settleMs
        ? [`WARNING: an empty claim took ${ms(m.empty.max)} > the ${s.settleMs} ms settle delay; some wake-up samples may not have been parked (raise --settle-ms)`]
        : []),
    ],
    details: { settings: s, target: TARGET, ...m },
  };
}

// --- ZooKeeper ---------------------------------------------------------------------------

const ZK_TARGET = { wakeP50Ms: 10, claimShareOfRaw: 0.5 };
const ZOOKEEPER_SCRIPT = fileURLToPath(new URL('../../scripts/zookeeper.sh', import.meta.url));
const execFileAsync = promisify(execFile);
/** Calls in flight when pre-filling or removing znodes. */
const ZK_IN_FLIGHT = 64;

interface Ensemble {
  servers: string;
  /** This run's root: a fresh child of the URL's root (or of /distci-bench on a started ensemble). */
  root: string;
  /** The URL's query (session timeout and such), passed on to the frontends. */
  query: string;
  /** PIDs of the nodes, when the benchmark started them (for CPU accounting). */
  pids: Record<string, number>;
}

/** The ensemble to measure: started here for `zookeeper`, else the one the URL names. */
async function ensembleFor(args: BenchArgs, url: string, runId: string): Promise<Ensemble> {
  if (url === 'zookeeper' || url === 'zookeeper://') return { ...(await startEnsemble(args)), root: `/distci-bench/run-${runId}`, query: '' };
  let options: ReturnType<typeof parseZookeeperUrl>;
  try {
    options = parseZookeeperUrl(url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const root = `${options.root}/bench-${runId}`;
  args.cleanup.defer(`remove ${root} from the ensemble`, () => removeTree(options.servers, root));
  return { servers: options.servers, root, query: url.includes('?') ? url.slice(url.indexOf('?')) : '', pids: {} };
}

/** A throwaway 3-node ensemble on loopback (scripts/zookeeper.sh), stopped by the cleanup. */
async function startEnsemble(args: BenchArgs): Promise<{ servers: string; pids: Record<string, number> }> {
  args.log('starting a throwaway 3-node ZooKeeper ensemble on loopback (scripts/zookeeper.sh)');
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('bash', [ZOOKEEPER_SCRIPT, 'start', '--nodes', '3'], { timeout: 300_000 }));
  } catch (err) {
    throw new UsageError(`could not start ZooKeeper with scripts/zookeeper.sh: ${((err as { stderr?: string }).stderr || (err as Error).message).trim()}`);
  }
  const servers = /^ZK_CONNECT=(.+)$/m.exec(stdout)?.[1];
  const state = /^ZK_STATE=(.+)$/m.exec(stdout)?.[1];
  if (!servers || !state) throw new Error(`scripts/zookeeper.sh start printed no ZK_CONNECT/ZK_STATE:\n${stdout}`);
  args.cleanup.defer(`stop the ZooKeeper ensemble in ${state}`, async () => {
    await execFileAsync('bash', [ZOOKEEPER_SCRIPT, 'stop', state], { timeout: 60_000 });
  });
  const { stdout: status } = await execFileAsync('bash', [ZOOKEEPER_SCRIPT, 'status', state]);
  const pids: Record<string, number> = {};
  for (const line of status.trim().split('\n')) {
    const [node, , pid, mode] = line.split(' ');
    pids[`zookeeper${node} (${mode})`] = Number(pid);
  }
  args.log(`ensemble ${servers}: ${Object.entries(pids).map(([n, pid]) => `${n} pid ${pid}`).join(', ')}`);
  return { servers, pids };
}

/** Runs `fn` over `items` with at most `ZK_IN_FLIGHT` calls at once. */
async function inFlight<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(ZK_IN_FLIGHT, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const unlessMissing = <T>(value: T) => (err: unknown): T => {
  if (isZk(err, ZK.NO_NODE)) return value;
  throw err;
};

/** Removes `root` and everything under it. */
async function removeTree(servers: string, root: string): Promise<void> {
  const zk = new ZkClient({ servers, sessionTimeoutMs: 10_000, opTimeoutMs: 30_000 });
  try {
    await zk.whenConnected(10_000);
    const levels: string[][] = [[root]];
    for (;;) {
      const next = (await inFlight(levels.at(-1)!, (p) => zk.getChildren(p).then((c) => c.map((n) => `${p}/${n}`), unlessMissing<string[]>([])))).flat();
      if (next.length === 0) break;
      levels.push(next);
    }
    for (const level of levels.reverse()) await inFlight(level, (p) => zk.remove(p, -1).catch(unlessMissing(undefined)));
  } finally {
    await zk.close();
  }
}

/** Posts `n` pending tickets of each kind through ZookeeperCoordinator.post, 64 in flight. */
async function prefillZk(url: string, kinds: string[], n: number): Promise<void> {
  const coordinator = ZookeeperCoordinator.fromUrl(url);
  try {
    await coordinator.ready();
    const indexes = Array.from({ length: n }, (_, i) => i);
    for (const kind of kinds) {
      await inFlight(indexes, (i) => coordinator.post({ kind, payload: payload(i), refs: { job: 'bench', build: i, step: 'test' } }));
    }
  } finally {
    await coordinator.close();
  }
}

/**
 * The raw conditional-write rate: `inFlightWrites` loops, each on its own znode (as each
 * ticket has its own), call ZkClient.setData expecting the version the previous write left.
 */
async function rawSetData(zk: ZkClient, base: string, inFlightWrites: number, s: Settings, pids: Record<string, number>): Promise<LoopResult> {
  const data = Buffer.alloc(512, 'x'); // about a ticket header's size
  const versions = new Map<string, number>();
  for (let i = 0; i < inFlightWrites; i++) {
    const path = `${base}/n${i}`;
    await zk.create(path, data).catch((err: unknown) => (isZk(err, ZK.NODE_EXISTS) ? path : Promise.reject(err)));
    versions.set(path, (await zk.exists(path))!.version);
  }
  const free = [...versions.keys()];
  return closedLoop(inFlightWrites, s, pids, async () => {
    const path = free.pop()!;
    versions.set(path, (await zk.setData(path, data, versions.get(path)!)).version);
    free.push(path);
    return true;
  });
}

interface ZkMeasured {
  ensemble: string;
  empty: Summary;
  wakeSame: Summary;
  wakeSamePost: Summary;
  wakeCross: Summary;
  wakeCrossPost: Summary;
  healthz: LoopResult;
  /** By concurrent client loops. */
  claims: Record<number, LoopResult>;
  claimComplete: LoopResult;
  /** By writes in flight; 1 = sequential. */
  raw: Record<number, LoopResult>;
  inProcess: LoopResult;
  inProcessSequential: LoopResult;
  prefillSeconds: number;
  prefillPerSecond: number;
}

async function runZookeeper(args: BenchArgs, s: Settings, url: string): Promise<BenchResult> {
  const { log, cleanup } = args;
  const runId = randomUUID().slice(0, 8);
  const ensemble = await ensembleFor(args, url, runId);
  const coordinatorUrl = `zookeeper://${ensemble.servers}${ensemble.root}${ensemble.query}`;
  const tmp = await cleanup.tempDir('distci-bench-dispatch-zk-');
  const kind = (what: string): string => `bench-${what}-${runId}`;
  const top = Math.max(...s.workers);
  const k = {
    wakeSame: kind('wake-same'),
    wakeCross: kind('wake-cross'),
    empty: kind('empty'),
    claimComplete: kind('claim-complete'),
    inProcess: kind('in-process'),
    inProcessSequential: kind('in-process-sequential'),
    claims: Object.fromEntries(s.workers.map((w) => [w, kind(`claim-${w}`)])),
  };
  const queues = [...s.workers.map((w) => k.claims[w]!), k.claimComplete, k.inProcess, k.inProcessSequential];
  log(`pre-filling ${s.zkTickets.toLocaleString('en-US')} pending tickets × ${queues.length} kinds under ${coordinatorUrl} (ZookeeperCoordinator.post, ${ZK_IN_FLIGHT} in flight)`);
  let t = performance.now();
  await prefillZk(coordinatorUrl, queues, s.zkTickets);
  const prefillSeconds = (performance.now() - t) / 1000;
  const prefillPerSecond = (s.zkTickets * queues.length) / prefillSeconds;
  log(`pre-filled in ${prefillSeconds.toFixed(1)} s (${Math.round(prefillPerSecond)} posts/s)`);

  const flags = ['--data', tmp, '--coordinator', coordinatorUrl, '--log-level', 'warn', '--lease-ttl-ms', String(LEASE_TTL_MS), '--sweep-ms', String(s.sweepMs)];
  const env = frontendEnv(s);
  const [a, b] = await Promise.all([startFrontend(args, 'A', flags, env), startFrontend(args, 'B', flags, env)]);
  log(`frontend A ${a.url} (pid ${a.pid}), frontend B ${b.url} (pid ${b.pid})`);
  const pool = (url: string): Pool => {
    const p = new Pool(url, { connections: top + 4, pipelining: 1, keepAliveTimeout: 60_000 });
    cleanup.defer(`close the client pool to ${url}`, () => p.close());
    return p;
  };
  const poolA = pool(a.url);
  const poolB = pool(b.url);
  const pids = { frontendA: a.pid, frontendB: b.pid, client: process.pid, ...ensemble.pids };

  log('empty claims (waitMs 0) on A: the time a claim needs to find nothing and park');
  await emptyClaims(poolA, k.empty, 50);
  const empty = summarize(await emptyClaims(poolA, k.empty, 200));
  log(`wake-up, same frontend: ${s.warmupSamples} + ${s.samples} samples, settle ${s.settleMs} ms`);
  const same = await wakeUp(poolA, poolA, k.wakeSame, s);
  log(`wake-up, across frontends (claim parked on A, post to B): ${s.warmupSamples} + ${s.samples} samples`);
  const cross = await wakeUp(poolA, poolB, k.wakeCross, s);

  const inProcessCoordinator = ZookeeperCoordinator.fromUrl(coordinatorUrl);
  cleanup.defer('close the in-process coordinator', () => inProcessCoordinator.close());
  await inProcessCoordinator.ready();

  /**
   * A claim line over a queue of `s.zkTickets`. `claim` answers the lease it got, `true`
   * when it already completed it, or null for an empty answer. Under contention ZooKeeper
   * claims may come back empty while tickets are still pending (a claim skips entries its
   * frontend's other claims are trying, and gives up after many lost races), so an empty
   * answer ends the line only once every ticket of the queue was claimed. Afterwards the
   * leases are completed, untimed: every frontend's sweep reads every lease each second,
   * so leases left over would slow the lines after this one.
   */
  const claimsUntilEmpty = async (loops: number, claim: () => Promise<{ id: string; token: number } | true | null>): Promise<LoopResult> => {
    let claimed = 0;
    const held: { id: string; token: number }[] = [];
    const result = await closedLoop(loops, s, pids, async () => {
      const got = await claim();
      if (got === null) return claimed >= s.zkTickets ? false : null;
      if (got !== true) held.push(got);
      return ++claimed <= s.zkTickets;
    });
    await inFlight(held, ({ id, token }) => inProcessCoordinator.complete(id, token, { outcome: 'success' }));
    return result;
  };
  const overHttp = async (p: Pool, queue: string): Promise<{ id: string; token: number } | null> => {
    const answer = await send(p, 'POST', '/api/v1/tickets/claim', claimBody(queue, 0));
    expectStatus('claim', answer, 200, 204);
    if (answer.status === 204) return null;
    const grant = answer.body as Grant;
    return { id: grant.ticket.id, token: grant.lease.token };
  };

  log(`GET /healthz on A and B, ${s.workers[0]} loops, ${s.durationMs} ms`);
  let turn = 0;
  const either = (): Pool => (turn++ % 2 === 0 ? poolA : poolB);
  const healthz = await closedLoop(s.workers[0]!, s, pids, async () => {
    expectStatus('healthz', await send(either(), 'GET', '/healthz'), 200);
    return true;
  });

  const zk = new ZkClient({ servers: ensemble.servers, sessionTimeoutMs: 10_000, opTimeoutMs: 15_000 });
  cleanup.defer('close the raw ZooKeeper client', () => zk.close());
  await zk.whenConnected(10_000);
  const rawBase = `${ensemble.root}/raw-setdata`;
  await zk.create(rawBase).catch((err: unknown) => (isZk(err, ZK.NODE_EXISTS) ? rawBase : Promise.reject(err)));
  const raw: Record<number, LoopResult> = {};
  const rawLine = async (n: number): Promise<void> => {
    log(`raw ZkClient.setData with version, ${n === 1 ? 'sequential' : `${n} in flight`}, ${s.durationMs} ms`);
    raw[n] = await rawSetData(zk, rawBase, n, s, pids);
  };
  await rawLine(1);
  const claims: Record<number, LoopResult> = {};
  // Each claim line right after the raw line of the same concurrency: the same conditions.
  for (const w of s.workers) {
    await rawLine(w);
    log(`claims over HTTP (waitMs 0, not completed within the line), ${w} loops spread over A and B, ${s.durationMs} ms or until empty`);
    claims[w] = await claimsUntilEmpty(w, () => overHttp(either(), k.claims[w]!));
  }
  log(`claim + complete over HTTP, ${s.workers[0]} loops spread over A and B`);
  const claimComplete = await claimsUntilEmpty(s.workers[0]!, async () => {
    const p = either();
    const got = await overHttp(p, k.claimComplete);
    if (got === null) return null;
    const body = { token: got.token, result: { outcome: 'success' } };
    expectStatus('complete', await send(p, 'POST', `/api/v1/tickets/${got.id}/complete`, body), 200);
    return true;
  });

  const claimInProcess = (queue: string, loops: number): Promise<LoopResult> => {
    log(`ZookeeperCoordinator.claim in this process (no HTTP), ${loops === 1 ? 'sequential' : `${loops} loops`}`);
    return claimsUntilEmpty(loops, async () => {
      const claim = await inProcessCoordinator.claim({ workerId: 'bench-worker', kinds: [queue], labels: [], ttlMs: LEASE_TTL_MS, claimId: randomUUID() });
      return claim && { id: claim.ticket.id, token: claim.token };
    });
  };
  const inProcessSequential = await claimInProcess(k.inProcessSequential, 1);
  const inProcess = await claimInProcess(k.inProcess, top);
  await inProcessCoordinator.close();

  t = performance.now();
  await Promise.all([a.stop(5_000), b.stop(5_000)]);
  log(`frontends stopped in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  for (const proc of [a, b]) {
    const logged = proc.stderr().trim();
    if (logged) log(`frontend pid ${proc.pid} logged (warn and above):\n${logged.slice(-2000)}`);
  }
  return reportZk(s, {
    ensemble: ensemble.servers,
    empty,
    wakeSame: summarize(same.claimMs),
    wakeSamePost: summarize(same.postMs),
    wakeCross: summarize(cross.claimMs),
    wakeCrossPost: summarize(cross.postMs),
    healthz,
    claims,
    claimComplete,
    raw,
    inProcess,
    inProcessSequential,
    prefillSeconds,
    prefillPerSecond,
  });
}

function zkLoopDetail(r: LoopResult): string {
  const sum = (prefix: string): number => Object.entries(r.cpuMs).filter(([name]) => name.startsWith(prefix)).reduce((total, [, ms]) => total + ms, 0);
  const per = (ms: number): string => us((ms * 1000) / r.ops);
  const other = (100 * r.cpuMs[OTHER_PROCESSES]!) / (r.seconds * 1000);
  const zookeeper = Object.keys(r.cpuMs).some((name) => name.startsWith('zookeeper')) ? `ZooKeeper ${per(sum('zookeeper'))}, ` : '';
  return (
    `${r.ops.toLocaleString('en-US')} in ${r.seconds.toFixed(1)} s${r.drained ? ' (queue drained)' : ''}; latency p50 ${ms(r.latencyMs.p50)} p99 ${ms(r.latencyMs.p99)}; ` +
    `CPU/op: frontends ${per(sum('frontend'))}, ${zookeeper}client ${per(r.cpuMs.client!)}; other processes ${other.toFixed(0)}% of a CPU`
  );
}

function reportZk(s: Settings, m: ZkMeasured): BenchResult {
  const wakeGroup = '1. long-poll wake-up: post sent → parked claim answered';
  const wake = (where: string, sum: Summary, post: Summary): ResultRow[] => [
    {
      group: wakeGroup,
      metric: `${where} p50`,
      value: sum.p50,
      unit: 'ms',
      target: `≤ ${ZK_TARGET.wakeP50Ms} ms`,
      met: sum.p50 <= ZK_TARGET.wakeP50Ms,
      detail: `n=${sum.n}; the post's own answer p50 ${ms(post.p50)}`,
    },
    { group: wakeGroup, metric: `${where} p99`, value: sum.p99, unit: 'ms', detail: `max ${ms(sum.max)}; the post's own answer p99 ${ms(post.p99)}` },
  ];
  const http = '2. claims over HTTP: concurrent client loops (workers) spread over frontends A and B';
  const rawGroup = '3. raw ZooKeeper conditional writes: ZkClient.setData expecting the version, each loop on its own znode';
  const rows: ResultRow[] = [
    ...wake('same frontend (post to A)', m.wakeSame, m.wakeSamePost),
    ...wake('across frontends (post to B)', m.wakeCross, m.wakeCrossPost),
    { group: wakeGroup, metric: 'empty claim round trip p99 (time to park)', value: m.empty.p99, unit: 'ms', detail: `p50 ${ms(m.empty.p50)}; settle delay before each post: ${s.settleMs} ms` },
  ];
  for (const w of s.workers) {
    const claims = m.claims[w]!;
    const raw = m.raw[w]!;
    const floor = ZK_TARGET.claimShareOfRaw * raw.rate;
    rows.push({
      group: http,
      metric: `claims/s, ${w} workers (waitMs 0, not completed)`,
      value: claims.rate,
      unit: '/s',
      target: `≥ ${Math.round(floor).toLocaleString('en-US')} /s (50% of raw, ${w} in flight)`,
      met: claims.rate >= floor,
      detail: `${((100 * claims.rate) / raw.rate).toFixed(0)}% of raw setData with ${w} in flight; ${zkLoopDetail(claims)}`,
    });
  }
  rows.push(
    { group: http, metric: `claim+complete/s (pairs), ${s.workers[0]} workers`, value: m.claimComplete.rate, unit: '/s', detail: zkLoopDetail(m.claimComplete) },
    { group: http, metric: `GET /healthz/s, ${s.workers[0]} loops (empty round trip)`, value: m.healthz.rate, unit: '/s', detail: zkLoopDetail(m.healthz) },
  );
  for (const n of Object.keys(m.raw).map(Number).sort((x, y) => x - y)) {
    rows.push({ group: rawGroup, metric: n === 1 ? 'setData/s sequential' : `setData/s, ${n} in flight`, value: m.raw[n]!.rate, unit: '/s', detail: zkLoopDetail(m.raw[n]!) });
  }
  const top = Math.max(...s.workers);
  const inProcess = '4. ZookeeperCoordinator in the bench process (no HTTP, no frontend), with claimId, not completed';
  rows.push(
    {
      group: inProcess,
      metric: 'claims/s sequential',
      value: m.inProcessSequential.rate,
      unit: '/s',
      detail: `${((100 * m.inProcessSequential.rate) / m.raw[1]!.rate).toFixed(0)}% of raw setData sequential; ${zkLoopDetail(m.inProcessSequential)}`,
    },
    {
      group: inProcess,
      metric: `claims/s, ${top} concurrent calls`,
      value: m.inProcess.rate,
      unit: '/s',
      detail: `${((100 * m.inProcess.rate) / m.raw[top]!.rate).toFixed(0)}% of raw setData with ${top} in flight; ${zkLoopDetail(m.inProcess)}`,
    },
  );
  return {
    benchmark: 'dispatch',
    title: `dispatch (ZooKeeper 3-node ensemble ${m.ensemble}): 2 frontend processes; client = raw undici Pools in the bench process`,
    rows,
    notes: [
      `wake-up: ${s.samples} samples per line after ${s.warmupSamples} warm-up; the claim is parked on A, then after a fixed ${s.settleMs} ms the ticket is posted to A or B; each claimed ticket is completed afterwards, untimed`,
      `claims: ${s.zkTickets.toLocaleString('en-US')} pending tickets per line, pre-filled through ZookeeperCoordinator.post (${ZK_IN_FLIGHT} in flight, ${Math.round(m.prefillPerSecond)} posts/s, ${m.prefillSeconds.toFixed(1)} s); each loop alternates between A and B; ${s.warmupMs} ms warm-up, then up to ${s.durationMs} ms measured or until the queue is empty; every claim carries a fresh claimId; the leases a line took are completed after it, untimed, since each frontend's lease sweep (every ${s.sweepMs} ms) reads every lease; leases last 300 s, so none expires`,
      'raw: each loop writes its own 512-byte znode with setData(path, data, version) and keeps the version returned; the line of a concurrency runs just before the claim line of the same concurrency, so both see the same machine',
      'CPU/op from /proc/PID/stat (10 ms ticks) over the measured window; "other processes" = machine busy time not used by the bench, its frontends and (when it started them) the ZooKeeper nodes',
      ...(m.empty.max > s.settleMs
        ? [`WARNING: an empty claim took ${ms(m.empty.max)} > the ${s.settleMs} ms settle delay; some wake-up samples may not have been parked (raise --settle-ms)`]
        : []),
    ],
    details: { settings: s, target: ZK_TARGET, ...m },
  };
}

export const dispatch: BenchModule = {
  summary:
    'long-poll wake-up latency and claim throughput over HTTP, on the embedded SQLite coordinator or (--coordinator zookeeper[://HOSTS/ROOT]) a ZooKeeper ensemble with its raw conditional-write rate',
  timeLimitMs: 290_000,
  options: {
    samples: { type: 'string', arg: 'n', help: 'wake-up samples per line (default 400)' },
    'warmup-samples': { type: 'string', arg: 'n', help: 'wake-up samples discarded first (default 20)' },
    'settle-ms': { type: 'string', arg: 'ms', help: 'wait between sending a claim and posting (default 10)' },
    tickets: { type: 'string', arg: 'n', help: 'pending tickets pre-filled per throughput kind (default 20000; ZooKeeper 3000)' },
    'sweep-ms': { type: 'string', arg: 'ms', help: "ZooKeeper: the frontends' --sweep-ms (default 1000, the frontend default)" },
    workers: { type: 'string', arg: 'n,n', help: 'ZooKeeper: concurrent client loops of the claim lines and writes in flight of the raw lines (default 16,64)' },
    concurrency: { type: 'string', arg: 'n', help: 'concurrent client loops (default 16)' },
    'duration-ms': { type: 'string', arg: 'ms', help: 'measured time of each throughput line (default 4000)' },
    'warmup-ms': { type: 'string', arg: 'ms', help: 'unmeasured start of each throughput line (default 500)' },
    'no-api-client': { type: 'boolean', help: 'skip the ApiClient/TicketsApi claim+complete line' },
    profile: { type: 'string', arg: 'dir', help: 'CPU-profile the frontends into DIR/<pid>.cpuprofile (see profile-summary.js)' },
  },
  run,
};
