/**
 * The two frontend processes every dispatch line runs against, the claim and complete
 * bodies the client sends, and the wake-up latency lines (the same on every coordinator).
 */
import { mkdirSync } from 'node:fs';
import { Pool } from 'undici';
import { newClaimId } from '../../src/core/claim-id.js';
import type { Proc } from '../../src/harness/processes.js';
import { expectStatus, requestJson as send, sleep, startDistci, summarize, type BenchArgs, type ResultRow, type Summary } from '../common.js';
import { ms } from './loops.js';
import { payload, type Settings } from './settings.js';

export type Frontend = Proc & { url: string };

/** The frontends' environment: the caller's settings must not change what is measured; `--profile`. */
function frontendEnv(s: Settings): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { DISTCI_COORDINATOR: '', DISTCI_AUTH_TOKENS: '', DISTCI_CONFIG: '' };
  if (s.profileDir) {
    mkdirSync(s.profileDir, { recursive: true });
    const preload = new URL('../profile-preload.js', import.meta.url).href;
    env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${preload}`.trim();
    env.DISTCI_BENCH_PROFILE_DIR = s.profileDir;
  }
  return env;
}

/** Frontends A and B with the same flags, each stopped by the cleanup (which reports what they logged). */
export async function startFrontends(args: BenchArgs, s: Settings, flags: string[]): Promise<[Frontend, Frontend]> {
  const env = frontendEnv(s);
  const start = async (name: string): Promise<Frontend> => {
    const { proc, match } = await startDistci(args, `frontend ${name}`, ['frontend', '--port', '0', ...flags], env, /listening on (http:\/\/\S+)/);
    return Object.assign(proc, { url: match![1]! });
  };
  const [a, b] = await Promise.all([start('A'), start('B')]);
  args.log(`frontend A ${a.url} (pid ${a.pid}), frontend B ${b.url} (pid ${b.pid})`);
  return [a, b];
}

export async function stopFrontends(args: BenchArgs, frontends: Frontend[]): Promise<void> {
  const t = performance.now();
  await Promise.all(frontends.map((f) => f.stop(5_000)));
  args.log(`frontends stopped in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

/** A keep-alive undici Pool to `url` without pipelining, closed by the cleanup. */
export function poolTo(args: BenchArgs, url: string, connections: number): Pool {
  const p = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  args.cleanup.defer(`close the client pool to ${url}`, () => p.close());
  return p;
}

export interface Grant {
  ticket: { id: string };
  lease: { token: number };
}

export const completeBody = (grant: Grant): Record<string, unknown> => ({ token: grant.lease.token, result: { outcome: 'success' } });

export const claimBody = (kind: string, waitMs: number): Record<string, unknown> => ({
  workerId: 'bench-worker',
  kinds: [kind],
  labels: [],
  waitMs,
  claimId: newClaimId(), // as the worker runtime sends
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

export interface WakeLines {
  empty: Summary;
  wakeSame: Summary;
  wakeSamePost: Summary;
  wakeCross: Summary;
  wakeCrossPost: Summary;
}

/** The rows of line 1, against a coordinator's targets (p99 unjudged without one). */
export function wakeRows(m: WakeLines, settleMs: number, target: { wakeP50Ms: number; wakeP99Ms?: number }): ResultRow[] {
  const group = '1. long-poll wake-up: post sent → parked claim answered';
  const wake = (where: string, sum: Summary, post: Summary): ResultRow[] => [
    {
      group,
      metric: `${where} p50`,
      value: sum.p50,
      unit: 'ms',
      target: `≤ ${target.wakeP50Ms} ms`,
      met: sum.p50 <= target.wakeP50Ms,
      detail: `n=${sum.n}; the post's own answer p50 ${ms(post.p50)}`,
    },
    {
      group,
      metric: `${where} p99`,
      value: sum.p99,
      unit: 'ms',
      ...(target.wakeP99Ms !== undefined ? { target: `≤ ${target.wakeP99Ms} ms`, met: sum.p99 <= target.wakeP99Ms } : {}),
      detail: `max ${ms(sum.max)}; the post's own answer p99 ${ms(post.p99)}`,
    },
  ];
  return [
    ...wake('same frontend (post to A)', m.wakeSame, m.wakeSamePost),
    ...wake('across frontends (post to B)', m.wakeCross, m.wakeCrossPost),
    { group, metric: 'empty claim round trip p99 (time to park)', value: m.empty.p99, unit: 'ms', detail: `p50 ${ms(m.empty.p50)}; settle delay before each post: ${settleMs} ms` },
  ];
}

/** Line 1 on any coordinator: empty claims on A, then wake-ups with the post to A and to B. */
export async function wakeUpLines(args: BenchArgs, s: Settings, poolA: Pool, poolB: Pool, kind: (what: string) => string): Promise<WakeLines> {
  args.log('empty claims (waitMs 0) on A: the time a claim needs to find nothing and park');
  await emptyClaims(poolA, kind('empty'), 50);
  const empty = summarize(await emptyClaims(poolA, kind('empty'), 200));
  args.log(`wake-up, same frontend: ${s.warmupSamples} + ${s.samples} samples, settle ${s.settleMs} ms`);
  const same = await wakeUp(poolA, poolA, kind('wake-same'), s);
  args.log(`wake-up, across frontends (claim parked on A, post to B): ${s.warmupSamples} + ${s.samples} samples`);
  const cross = await wakeUp(poolA, poolB, kind('wake-cross'), s);
  return {
    empty,
    wakeSame: summarize(same.claimMs),
    wakeSamePost: summarize(same.postMs),
    wakeCross: summarize(cross.claimMs),
    wakeCrossPost: summarize(cross.postMs),
  };
}
