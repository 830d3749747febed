/**
 * dispatch on the embedded SQLite coordinator. Two frontends share one SQLite file
 * (`--data <tmp>`). After the wake-up lines (frontends.ts):
 *  2. claims/s (waitMs 0, with a claimId as workers send; and without one) and
 *     claim+complete/s with N concurrent client loops on A, each over its own queue of
 *     pending tickets pre-filled directly through SqliteCoordinator.post before the
 *     frontends start; claim+complete also through the project's ApiClient/TicketsApi;
 *  3. for scale: GET /healthz/s against A with the same client and concurrency (the HTTP
 *     floor), and SqliteCoordinator claim / claim+complete in-process on a copy of the
 *     pre-filled file (the SQLite floor).
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { newClaimId } from '../../src/core/claim-id.js';
import { ApiClient } from '../../src/client/api-client.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import { SqliteCoordinator } from '../../src/coordination/embedded/sqlite-coordinator.js';
import { expectStatus, requestJson as send, summarize, type BenchArgs, type BenchResult, type Summary } from '../common.js';
import { claimBody, completeBody, poolTo, startFrontends, stopFrontends, wakeUpLines, type Grant } from './frontends.js';
import { closedLoop, yieldToTimers, type LoopResult } from './loops.js';
import { LEASE_TTL_MS, payload, type Settings } from './settings.js';
import { report } from './sqlite-report.js';

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

// --- 3b. SQLite in-process -----------------------------------------------------------------

export interface RawResult {
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
      ...(opts.claimId ? { claimId: newClaimId() } : {}),
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

export async function runSqlite(args: BenchArgs, s: Settings): Promise<BenchResult> {
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
    claim: kind('claim'),
    claimComplete: kind('claim-complete'),
    api: kind('api-client'),
    noClaimId: kind('no-claim-id'),
    claimMany: kind('claim-many'),
  };

  const queues = [k.claimComplete, ...(s.apiClient ? [k.api] : []), k.claim, k.claimMany, k.noClaimId];
  log(`pre-filling ${s.tickets.toLocaleString('en-US')} pending tickets × ${queues.length} kinds into ${dbPath} (SqliteCoordinator.post, no HTTP)`);
  const t = performance.now();
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
  const [a, b] = await startFrontends(args, s, flags);
  const poolA = poolTo(args, a.url, s.concurrency + 4);
  const poolB = poolTo(args, b.url, s.concurrency + 4);
  const pids = { frontendA: a.pid, frontendB: b.pid, client: process.pid };

  // 1. wake-up latency
  const wake = await wakeUpLines(args, s, poolA, poolB, kind);

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
        { workerId: 'bench-worker', kinds: [k.api], labels: [], waitMs: 0, claimId: newClaimId() },
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
  log(`claims of up to ${s.claimMax} tickets each (max ${s.claimMax}) on A, never completed, ${s.concurrency} loops, ${s.durationMs} ms or until empty`);
  const claimsMany = await closedLoop(s.concurrency, s, pids, async () => {
    const answer = await send(poolA, 'POST', '/api/v1/tickets/claim', { ...claimBody(k.claimMany, 0), max: s.claimMax });
    expectStatus('claim', answer, 200, 204);
    return answer.status === 200 ? (answer.body as { grants: unknown[] }).grants.length : 0;
  });
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

  await stopFrontends(args, [a, b]);

  return report(s, {
    ...wake,
    healthz,
    claims,
    claimsNoClaimId,
    claimsMany,
    claimComplete,
    api,
    rawClaim,
    rawNoClaimId,
    rawClaimComplete,
    prefillSeconds,
  });
}

