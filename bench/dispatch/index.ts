/**
 * dispatch — how fast tickets reach workers through the coordinator.
 *
 * Two `distci frontend` child processes share one coordinator; the client runs in this
 * process (a raw undici Pool per frontend, keep-alive, no pipelining, for the lowest client
 * overhead). Measured on every coordinator: long-poll wake-up latency, a claim parked on
 * frontend A and a matching post to A (same frontend) or to B (across processes). Then
 * throughput: see sqlite.ts (embedded, the default) and zookeeper.ts
 * (`--coordinator zookeeper[://HOSTS/ROOT]`).
 */
import { UsageError, type BenchArgs, type BenchModule, type BenchResult } from '../common.js';
import { OPTIONS, settingsFrom } from './settings.js';
import { runSqlite } from './sqlite.js';
import { runZookeeper } from './zookeeper.js';

async function run(args: BenchArgs): Promise<BenchResult> {
  const s = settingsFrom(args.options);
  const url = args.coordinator;
  if (url === undefined || url.startsWith('sqlite:')) return runSqlite(args, s);
  if (url === 'zookeeper' || url.startsWith('zookeeper://')) return runZookeeper(args, s, url);
  throw new UsageError(`--coordinator must be sqlite:PATH, zookeeper://HOSTS/ROOT or zookeeper (a throwaway 3-node ensemble), got '${url}'`);
}

export const dispatch: BenchModule = {
  summary:
    'long-poll wake-up latency and claim throughput over HTTP, on the embedded SQLite coordinator or (--coordinator zookeeper[://HOSTS/ROOT]) a ZooKeeper ensemble with its raw conditional-write rate',
  timeLimitMs: 290_000,
  options: OPTIONS,
  run,
};
