/** The result table of the SQLite dispatch lines, with the target and where the time goes. */
import { OTHER_PROCESSES, type BenchResult, type ResultRow } from '../common.js';
import { wakeRows, type WakeLines } from './frontends.js';
import { ms, us, type LoopResult } from './loops.js';
import { TARGET, type Settings } from './settings.js';
import type { RawResult } from './sqlite.js';

export interface Measured extends WakeLines {
  healthz: LoopResult;
  claims: LoopResult;
  claimsNoClaimId: LoopResult;
  /** Requests of up to `claimMax` tickets; `units` are tickets. */
  claimsMany: LoopResult;
  claimComplete: LoopResult;
  api: LoopResult | undefined;
  rawClaim: RawResult;
  rawNoClaimId: RawResult;
  rawClaimComplete: RawResult;
  prefillSeconds: number;
}

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

/** loopDetail per ticket rather than per request. */
function ticketsDetail(r: LoopResult): string {
  const per = (name: string): string => us((r.cpuMs[name]! * 1000) / r.units);
  const other = (100 * r.cpuMs[OTHER_PROCESSES]!) / (r.seconds * 1000);
  const perCpuSecond = Math.round(r.units / (r.cpuMs.frontendA! / 1000)).toLocaleString('en-US');
  return `${r.units.toLocaleString('en-US')} tickets in ${r.seconds.toFixed(1)} s${r.drained ? ' (queue drained)' : ''}; request latency p50 ${ms(r.latencyMs.p50)} p99 ${ms(r.latencyMs.p99)}; CPU/ticket: frontend ${per('frontendA')} (= ${perCpuSecond} per frontend CPU-second), client ${per('client')}; other processes ${other.toFixed(0)}% of a CPU`;
}

function rawDetail(r: RawResult): string {
  return `p50 ${us(r.latencyUs.p50)} p99 ${us(r.latencyUs.p99)}; first 1,000 p50 ${us(r.firstUs.p50)}, last 1,000 p50 ${us(r.lastUs.p50)}; n=${r.ops.toLocaleString('en-US')}`;
}

export function report(s: Settings, m: Measured): BenchResult {
  const claimFloor = TARGET.claimShareOfHealthz * m.healthz.rate;
  const tput = `2./3. HTTP throughput, ${s.concurrency} concurrent client loops on frontend A`;
  const raw = '3. SQLite in-process (SqliteCoordinator, no HTTP), same queue size';
  const rows: ResultRow[] = [
    ...wakeRows(m, s.settleMs, TARGET),
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
      metric: `tickets/s by claims of up to ${s.claimMax} (max ${s.claimMax}, never completed)`,
      value: m.claimsMany.units / m.claimsMany.seconds,
      unit: '/s',
      detail: `${((100 * m.claimsMany.units) / m.claimsMany.seconds / m.healthz.rate).toFixed(1)}% of healthz; not the single-ticket target above: ${Math.round(m.claimsMany.rate).toLocaleString('en-US')} requests/s, ${(m.claimsMany.units / m.claimsMany.ops).toFixed(1)} tickets each; ${ticketsDetail(m.claimsMany)}`,
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
      `throughput: ${s.tickets.toLocaleString('en-US')} pending tickets per line, pre-filled straight into the SQLite file with SqliteCoordinator.post before the frontends started (${m.prefillSeconds.toFixed(1)} s); ${s.warmupMs} ms warm-up, then up to ${s.durationMs} ms measured or until the queue is empty; lines run in the order claim+complete, ApiClient, claims, claims of up to ${s.claimMax}, claims without claimId (tickets claimed and never completed stay leased)`,
      'every claim carries a fresh claimId, as the worker runtime sends; leases last 300 s so none expires during the run',
      'CPU/op = CPU time of the process over the measured window / operations (from /proc/PID/stat, 10 ms ticks); "other processes" = machine busy time (/proc/stat) not used by the bench, its two frontends — noise from elsewhere',
      ...(m.empty.max > s.settleMs
        ? [`WARNING: an empty claim took ${ms(m.empty.max)} > the ${s.settleMs} ms settle delay; some wake-up samples may not have been parked (raise --settle-ms)`]
        : []),
    ],
    details: { settings: s, target: TARGET, ...m },
  };
}

