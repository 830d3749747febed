/** The result table of the ZooKeeper dispatch lines. */
import { OTHER_PROCESSES, type BenchResult, type ResultRow } from '../common.js';
import { wakeRows, type WakeLines } from './frontends.js';
import { ms, us, type LoopResult } from './loops.js';
import { ZK_IN_FLIGHT, ZK_TARGET, type Settings } from './settings.js';

export interface ZkMeasured extends WakeLines {
  ensemble: string;
  healthz: LoopResult;
  /** By concurrent client loops, all through frontend A. */
  claims: Record<number, LoopResult>;
  /** By concurrent client loops: the raw and claim rates of each round (the lines above pool them). */
  rounds: Record<number, { raw: number; claims: number }[]>;
  /** By concurrent client loops, alternating between A and B. */
  spread: Record<number, LoopResult>;
  claimComplete: LoopResult;
  /** Claims of up to `claimMax` tickets each; units = tickets. */
  claimMany: LoopResult;
  /** By writes in flight; 1 = sequential. */
  raw: Record<number, LoopResult>;
  inProcess: LoopResult;
  inProcessSequential: LoopResult;
  prefillSeconds: number;
  prefillPerSecond: number;
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

export function reportZk(s: Settings, m: ZkMeasured): BenchResult {
  const http = '2. claims over HTTP: concurrent client loops (workers) on frontend A; then spread over A and B';
  const rawGroup = '3. raw ZooKeeper conditional writes: ZkClient.setData expecting the version, each loop on its own znode';
  const rows: ResultRow[] = [
    ...wakeRows(m, s.settleMs, ZK_TARGET),
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
      detail:
        `${((100 * claims.rate) / raw.rate).toFixed(0)}% of raw setData with ${w} in flight (pooled over ${m.rounds[w]!.length} alternating rounds; ` +
        `each round ${m.rounds[w]!.map((r) => `${Math.round(r.claims)}/${Math.round(r.raw)} = ${((100 * r.claims) / r.raw).toFixed(0)}%`).join(', ')}); ${zkLoopDetail(claims)}`,
    });
  }
  for (const w of s.workers) {
    const spread = m.spread[w]!;
    rows.push({
      group: http,
      metric: `claims/s, ${w} workers spread over A and B`,
      value: spread.rate,
      unit: '/s',
      detail: `${((100 * spread.rate) / m.raw[w]!.rate).toFixed(0)}% of raw setData with ${w} in flight; ${zkLoopDetail(spread)}`,
    });
  }
  rows.push(
    {
      group: http,
      metric: `tickets/s by claims of up to ${s.claimMax}, ${s.workers[0]} workers (not completed)`,
      value: m.claimMany.units / m.claimMany.seconds,
      unit: '/s',
      detail: `${((100 * m.claimMany.units) / m.claimMany.seconds / m.raw[s.workers[0]!]!.rate).toFixed(0)}% of raw setData with ${s.workers[0]} in flight; not the single-ticket target: ${Math.round(m.claimMany.rate).toLocaleString('en-US')} requests/s, ${(m.claimMany.units / Math.max(1, m.claimMany.ops)).toFixed(1)} tickets each; ${zkLoopDetail(m.claimMany)}`,
    },
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
      `claims: ${s.zkRoundTickets.toLocaleString('en-US')} pending tickets per target claim line (all its rounds), ${s.zkClaimTickets.toLocaleString('en-US')} per spread, in-process and multi-ticket claim line and ${s.zkTickets.toLocaleString('en-US')} per other line, pre-filled through ZookeeperCoordinator.post (${ZK_IN_FLIGHT} in flight, ${Math.round(m.prefillPerSecond)} posts/s, ${m.prefillSeconds.toFixed(1)} s); the target lines claim through A (as the SQLite lines do), the "spread" lines and the later lines alternate each loop between A and B; ${s.warmupMs} ms warm-up, then up to ${s.durationMs} ms measured or until the queue is empty; every claim carries a fresh claimId; the leases a line took are completed after it, untimed; leases last 300 s, so none expires (each frontend's routine lease sweep, every ${s.sweepMs} ms, reads only the leases it granted that may be due)`,
      `raw: each loop writes its own 512-byte znode with setData(path, data, version) and keeps the version returned; for 16 and 64 in flight, the raw windows and the target claim windows (on A, ${s.zkRoundTickets.toLocaleString('en-US')} tickets) alternate in ${s.rounds} rounds of ${s.warmupMs} ms warm-up + ${s.roundMs} ms measured each, and each line is pooled over its rounds (counts and CPU summed, latency over all samples), so both see the same machine`,
      'CPU/op from /proc/PID/stat (10 ms ticks) over the measured window; "other processes" = machine busy time not used by the bench, its frontends and (when it started them) the ZooKeeper nodes',
      ...(m.empty.max > s.settleMs
        ? [`WARNING: an empty claim took ${ms(m.empty.max)} > the ${s.settleMs} ms settle delay; some wake-up samples may not have been parked (raise --settle-ms)`]
        : []),
    ],
    details: { settings: s, target: ZK_TARGET, ...m },
  };
}

