/** The dispatch benchmark's flags, targets and the ticket payload every line posts. */
import { resolve } from 'node:path';
import { intOption as int, type BenchArgs, type OptionSpec } from '../common.js';

export const TARGET = { wakeP50Ms: 5, wakeP99Ms: 25, claimShareOfHealthz: 0.5 };
export const ZK_TARGET = { wakeP50Ms: 10, claimShareOfRaw: 0.5 };
/** ZooKeeper: calls in flight when pre-filling or removing znodes. */
export const ZK_IN_FLIGHT = 64;
export const LEASE_TTL_MS = 300_000; // no lease expires (and is swept back) during a run

export interface Settings {
  samples: number;
  warmupSamples: number;
  settleMs: number;
  tickets: number;
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  apiClient: boolean;
  /** `max` of the multi-ticket claim line: the free slots of each simulated worker. */
  claimMax: number;
  profileDir: string | undefined;
  /** ZooKeeper only: the frontends' lease sweep interval (each sweep reads every lease). */
  sweepMs: number;
  /** ZooKeeper only: pending tickets per throughput line (posting to ZooKeeper is slower). */
  zkTickets: number;
  /** ZooKeeper only: pending tickets of each spread, in-process and multi-ticket claim line, so that it outlasts its window. */
  zkClaimTickets: number;
  /** ZooKeeper only: concurrent client loops of the claim lines, and in flight of the raw lines. */
  workers: number[];
  /** ZooKeeper only: rounds in which the raw and the target claim windows of a concurrency alternate. */
  rounds: number;
  /** ZooKeeper only: the measured time of each of those windows. */
  roundMs: number;
  /** ZooKeeper only: pending tickets of each target claim line (all its rounds). */
  zkRoundTickets: number;
}

export const OPTIONS: Record<string, OptionSpec> = {
  samples: { type: 'string', arg: 'n', help: 'wake-up samples per line (default 400)' },
  'warmup-samples': { type: 'string', arg: 'n', help: 'wake-up samples discarded first (default 20)' },
  'settle-ms': { type: 'string', arg: 'ms', help: 'wait between sending a claim and posting (default 10)' },
  tickets: { type: 'string', arg: 'n', help: 'pending tickets pre-filled per throughput kind (default 20000; ZooKeeper 3000)' },
  'sweep-ms': { type: 'string', arg: 'ms', help: "ZooKeeper: the frontends' --sweep-ms (default 1000, the frontend default)" },
  workers: { type: 'string', arg: 'n,n', help: 'ZooKeeper: concurrent client loops of the claim lines and writes in flight of the raw lines (default 16,64)' },
  concurrency: { type: 'string', arg: 'n', help: 'concurrent client loops (default 16)' },
  'duration-ms': { type: 'string', arg: 'ms', help: 'measured time of each throughput line (default 4000)' },
  'warmup-ms': { type: 'string', arg: 'ms', help: 'unmeasured start of each throughput line (default 500)' },
  'claim-tickets': { type: 'string', arg: 'n', help: 'ZooKeeper: pending tickets of each spread, in-process and multi-ticket claim line (default 20000: 64 workers on one frontend claim ~4,000/s)' },
  rounds: { type: 'string', arg: 'n', help: 'ZooKeeper: the raw and the target claim windows of each concurrency alternate in n rounds (default 3)' },
  'round-ms': { type: 'string', arg: 'ms', help: 'ZooKeeper: measured time of each window of those rounds (default 2000)' },
  'round-tickets': { type: 'string', arg: 'n', help: 'ZooKeeper: pending tickets of each target claim line, all rounds (default 40000)' },
  'claim-max': { type: 'string', arg: 'n', help: 'tickets one request may claim in the multi-ticket line (default 8, at most 64)' },
  'no-api-client': { type: 'boolean', help: 'skip the ApiClient/TicketsApi claim+complete line' },
  profile: { type: 'string', arg: 'dir', help: 'CPU-profile the frontends into DIR/<pid>.cpuprofile, and each measured window into DIR/<pid>.<n>.cpuprofile (windows.txt; see profile-summary.js)' },
};

export function settingsFrom(o: BenchArgs['options']): Settings {
  return {
    samples: int(o.samples, 400, 'samples', 1),
    warmupSamples: int(o['warmup-samples'], 20, 'warmup-samples', 0),
    settleMs: int(o['settle-ms'], 10, 'settle-ms', 0),
    tickets: int(o.tickets, 20_000, 'tickets', 100),
    concurrency: int(o.concurrency, 16, 'concurrency', 1),
    durationMs: int(o['duration-ms'], 4_000, 'duration-ms', 100),
    warmupMs: int(o['warmup-ms'], 500, 'warmup-ms', 0),
    apiClient: o['no-api-client'] !== true,
    claimMax: int(o['claim-max'], 8, 'claim-max', 2),
    profileDir: typeof o.profile === 'string' ? resolve(o.profile) : undefined,
    sweepMs: int(o['sweep-ms'], 1_000, 'sweep-ms', 10),
    zkTickets: int(o.tickets, 3_000, 'tickets', 100),
    zkClaimTickets: int(o['claim-tickets'], 20_000, 'claim-tickets', 100),
    workers: String(o.workers ?? '16,64')
      .split(',')
      .map((w) => int(w, 0, 'workers', 1)),
    rounds: int(o.rounds, 3, 'rounds', 1),
    roundMs: int(o['round-ms'], 2_000, 'round-ms', 100),
    zkRoundTickets: int(o['round-tickets'], 40_000, 'round-tickets', 100),
  };
}

/** A realistic ~230-byte execute-shell payload. */
export function payload(i: number): unknown {
  return {
    script: 'npm ci && npm test -- --reporter=dot',
    workdir: 'src',
    timeoutSeconds: 600,
    env: { CI: 'true', NODE_ENV: 'test' },
    workspace: { version: i, digest: `sha256:${(i * 2654435761).toString(16).padStart(16, '0').repeat(4)}` },
  };
}
