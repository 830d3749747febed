/** Closed-loop throughput measurement and the formatting its rows share. */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuMeter, summarize, type Summary } from '../common.js';
import type { Settings } from './settings.js';

export interface LoopResult {
  /** Operations in the measured window. */
  ops: number;
  /** What the operations moved in the measured window (tickets of a multi-ticket claim); = ops otherwise. */
  units: number;
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
 * Lets timers run. SqliteCoordinator checkpoints the WAL on a 1 s timer (wal_autocheckpoint
 * is 0); a loop of awaited-but-synchronous calls never yields to it, and the WAL then grows
 * by ~35 KB per commit and slows every statement down. A frontend's event loop turns
 * between requests, so in-process loops here yield every 100 calls to be comparable.
 */
export const yieldToTimers = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Marks sent to the profiled frontends (`profile-preload.ts`): each mark ends one profile file. */
let profileMarks = 0;

/**
 * With `--profile`, cuts the frontends' profiles at the start and the end of a measured
 * window (SIGUSR2), so that `<pid>.<n>.cpuprofile` holds that window alone; `windows.txt`
 * in the profile directory lists which n is which window.
 */
function markProfiles(s: Settings, pids: Record<string, number>, what: 'start' | 'end'): void {
  if (!s.profileDir) return;
  profileMarks++;
  for (const [name, pid] of Object.entries(pids)) if (name.startsWith('frontend')) process.kill(pid, 'SIGUSR2');
  if (what === 'end') appendFileSync(join(s.profileDir, 'windows.txt'), `${profileMarks} ${new Date().toISOString()}\n`);
}

export const ms = (v: number): string => `${v.toFixed(2)} ms`;
export const us = (v: number): string => `${Math.round(v)} µs`;

/**
 * `concurrency` loops call `op` back to back. Ops completing in [warm-up end, duration
 * end or the first empty answer] are counted; CPU of the given PIDs is metered over the
 * same window. `op` returns false (or 0) when the queue is empty, null when it did nothing
 * this time (not counted), or how many units (tickets) the operation moved.
 */
export async function closedLoop(
  concurrency: number,
  s: Settings,
  pids: Record<string, number>,
  op: () => Promise<boolean | number | null>,
): Promise<LoopResult> {
  let phase: 'warmup' | 'measure' | 'done' = 'warmup';
  let count = 0;
  let units = 0;
  let start = { t: 0, count: 0, units: 0 };
  let end = { t: 0, count: 0, units: 0 };
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
    end = { t: performance.now(), count, units };
    cpuMs = meter!();
    markProfiles(s, pids, 'end');
    phase = 'done';
  };
  const begin = (): void => {
    if (phase !== 'warmup') return;
    meter = cpuMeter(pids);
    markProfiles(s, pids, 'start');
    start = { t: performance.now(), count, units };
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
        units += more === true ? 1 : more;
        if (t0 >= start.t) latencies.push(performance.now() - t0);
      } else if (phase === 'warmup') {
        count++;
        units += more === true ? 1 : more;
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
  const result = { ops, units: end.units - start.units, total, seconds, rate: ops / seconds, latencyMs: summarize(latencies), cpuMs, drained };
  // The samples ride along for `pooled`, invisible to JSON (a report would carry thousands).
  return Object.defineProperty(result, 'samples', { value: latencies, enumerable: false }) as LoopResult;
}

/**
 * Several measured windows of the same line as one: counts, time and CPU added up, the
 * rate over the summed time, latency percentiles over every sample.
 */
export function pooled(windows: readonly LoopResult[]): LoopResult {
  const sum = (f: (r: LoopResult) => number): number => windows.reduce((n, r) => n + f(r), 0);
  const cpuMs: Record<string, number> = {};
  for (const w of windows) for (const [name, ms] of Object.entries(w.cpuMs)) cpuMs[name] = (cpuMs[name] ?? 0) + ms;
  const seconds = sum((r) => r.seconds);
  const ops = sum((r) => r.ops);
  const samples = windows.flatMap((r) => (r as LoopResult & { samples?: number[] }).samples ?? []);
  return {
    ops,
    units: sum((r) => r.units),
    total: sum((r) => r.total),
    seconds,
    rate: ops / seconds,
    latencyMs: summarize(samples),
    cpuMs,
    drained: windows.some((r) => r.drained),
  };
}
