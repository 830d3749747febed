/**
 * `npm run bench -- scale`: issue #6 measured on real processes.
 *
 * - ramp (items 1–2): register 10,000 jobs (checkout of a local repository, a shell step
 *   sleeping S seconds, publish one file), then keep N builds in flight for N = 100, 500,
 *   1,000, through a load generator process, with an API prober process reading jobs,
 *   builds and consoles meanwhile; per N: builds started/s, dispatch latency (the
 *   frontends' histogram of ticket posted → first claim), API latency, RSS and CPU of
 *   every process, coordinator calls/s, failed builds; then a drain, after which any
 *   build not ended in success is failed or lost.
 * - flat (item 4): the same 100-build run with 100 jobs, and with 10,000 jobs plus
 *   50,000 finished builds seeded through the public API (seed.ts).
 * - flood (item 5): 1,000 builds of one job on 16 slots, another job's build triggered
 *   in the middle: its wait, and the queue age per job.
 *
 * Each mode runs on `sqlite` (two frontends on one data dir) and/or `zookeeper` (a
 * throwaway 3-node ensemble from scripts/zookeeper.sh, the same two frontends on a fresh
 * root, a shared file: store). The machine has 2 cores and a build costs ~236 ms of CPU,
 * so about 8 builds/s fit; the sleep S defaults to N / 6 s at each N, so that N builds in
 * flight need about 6 builds/s at every N: the same throughput, more concurrency. Each N
 * is measured once its first builds have had their sleep (steady state).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { intOption, UsageError, type BenchArgs, type BenchModule, type BenchResult, type ResultRow } from '../common.js';
import { scaleChart } from './chart.js';
import type { Backend } from './deploy.js';
import { runFlat, type FlatVariant } from './flat.js';
import { runFlood, type FloodResult } from './flood.js';
import { runRamp, type RampResult, type RampSettings, type RampStage } from './ramp.js';

const TARGET = { dispatchP99Ms: 100, frontendRssMiB: 300, apiP99Ms: 50, flatRatio: 1.1, floodStartMs: 5000 };
const MODES = ['ramp', 'flat', 'flood'] as const;
type Mode = (typeof MODES)[number];

/** The ramp's settings (the per-run `thinkMs` and `profileEnv` are set where it runs) and the other modes'. */
interface Settings extends Omit<RampSettings, 'thinkMs' | 'profileEnv'> {
  modes: Mode[];
  backends: Backend[];
  flatBuilds: number;
  flatJobs: number;
  finishedBuilds: number;
  flatRuns: number;
  flatBackends: Backend[];
  floodBuilds: number;
  floodSlots: number;
  floodSleep: number;
  chart: string | undefined;
  profileDir: string | undefined;
  quick: boolean;
}

function list<T extends string>(value: string | boolean | undefined, fallback: T[], allowed: readonly T[], name: string): T[] {
  if (value === undefined) return fallback;
  const items = String(value).split(',').map((x) => x.trim()).filter(Boolean);
  const bad = items.find((x) => !allowed.includes(x as T));
  if (bad !== undefined || items.length === 0) throw new UsageError(`--${name} takes a comma-separated subset of ${allowed.join(',')}, got '${String(value)}'`);
  return items as T[];
}

function settings(o: BenchArgs['options'], coordinator: string | undefined): Settings {
  const quick = o.quick === true;
  let ns = quick ? [20, 50, 100] : [100, 500, 1000];
  if (o.n !== undefined) {
    ns = String(o.n).split(',').map((x) => Number(x));
    if (ns.some((x) => !Number.isInteger(x) || x < 1)) throw new UsageError(`--n takes comma-separated positive integers, got '${String(o.n)}'`);
  }
  const maxN = Math.max(...ns);
  // A worker's HTTP agent holds at most 256 connections per frontend (src/client/api-client.ts):
  // with one parked claim per idle slot (before multi-ticket claims), more than ~200 slots
  // per worker queued its renewals and completions behind parked claims. So: ≤ 200 each.
  const totalSlots = Math.ceil(maxN * 1.15 + 20);
  const workers = intOption(o.workers, Math.max(2, Math.ceil(totalSlots / 200)), 'workers', 1);
  let backends = list<Backend>(o.backend, ['sqlite', 'zookeeper'], ['sqlite', 'zookeeper'], 'backend');
  if (coordinator !== undefined) {
    if (coordinator === 'zookeeper') backends = ['zookeeper'];
    else if (coordinator === 'sqlite') backends = ['sqlite'];
    else throw new UsageError('scale starts its own backends: pass --coordinator sqlite or zookeeper, or --backend sqlite,zookeeper');
  }
  return {
    modes: list<Mode>(o.modes, [...MODES], MODES, 'modes'),
    backends,
    ns,
    sleeps: o.sleep === undefined ? ns.map((n) => Math.max(5, Math.ceil(n / 6))) : ns.map(() => intOption(o.sleep, 0, 'sleep', 0)),
    windowSeconds: intOption(o.window, quick ? 15 : 30, 'window', 1),
    settleSeconds: intOption(o.settle, quick ? 5 : 10, 'settle', 0),
    ratePerSec: intOption(o.rate, 8, 'rate', 1),
    jobs: intOption(o.jobs, quick ? 1000 : 10_000, 'jobs', 1),
    frontends: intOption(o.frontends, 2, 'frontends', 1),
    workers,
    slots: intOption(o.slots, Math.ceil(totalSlots / workers), 'slots', 1),
    drainSeconds: intOption(o.drain, 120, 'drain', 1),
    flatBuilds: intOption(o['flat-builds'], 100, 'flat-builds', 1),
    flatJobs: intOption(o['flat-jobs'], quick ? 1000 : 10_000, 'flat-jobs', 1),
    finishedBuilds: intOption(o['finished-builds'], quick ? 2000 : 50_000, 'finished-builds', 0),
    flatRuns: intOption(o['flat-runs'], 2, 'flat-runs', 1),
    flatBackends: list<Backend>(o['flat-backend'], backends.includes('sqlite') ? ['sqlite'] : backends, ['sqlite', 'zookeeper'], 'flat-backend').filter((b) => backends.includes(b)),
    floodBuilds: intOption(o['flood-builds'], quick ? 300 : 1000, 'flood-builds', 1),
    floodSlots: intOption(o['flood-slots'], 16, 'flood-slots', 1),
    floodSleep: intOption(o['flood-sleep'], 2, 'flood-sleep', 0),
    chart: typeof o.chart === 'string' ? resolve(o.chart) : undefined,
    profileDir: typeof o.profile === 'string' ? resolve(o.profile) : undefined,
    quick,
  };
}

const pct = (cpuMs: number, seconds: number): number => (100 * cpuMs) / (seconds * 1000);

function procSum(stage: RampStage, prefix: string, children = false): { cpuPct: number; rssMaxMiB: number } {
  const procs = Object.entries(stage.procs).filter(([name]) => name.startsWith(prefix));
  return {
    cpuPct: pct(procs.reduce((a, [, p]) => a + p.cpuMs + (children ? p.childrenCpuMs : 0), 0), stage.seconds),
    rssMaxMiB: Math.max(0, ...procs.map(([, p]) => p.rssMaxMiB)),
  };
}

function rampRows(r: RampResult, s: Settings): ResultRow[] {
  const rows: ResultRow[] = [];
  rows.push({ group: `${r.backend}: registration`, metric: `register ${r.jobs.toLocaleString('en-US')} jobs`, value: r.registerSeconds, unit: 's', detail: `32 PUTs in flight over ${s.frontends} frontends; ${(r.jobs / r.registerSeconds).toFixed(0)} jobs/s; ${r.registerRetries} answered 503 (retryable) and sent again` });
  for (const st of r.stages) {
    const g = `${r.backend}: ${st.n} builds in flight (S = ${st.sleepSeconds} s, ${st.seconds.toFixed(0)} s window)`;
    const fe = procSum(st, 'frontend');
    const wk = procSum(st, 'worker', true);
    const zk = procSum(st, 'zookeeper');
    const apiDetail = (k: keyof RampStage['api']): string => `n=${st.api[k].n}, p50 ${st.api[k].p50.toFixed(1)} ms, max ${st.api[k].max.toFixed(1)} ms`;
    rows.push(
      { group: g, metric: 'builds started/s', value: st.triggeredPerSec, unit: '/s', detail: `finished ${st.finishedPerSec.toFixed(2)}/s; in flight at end ${st.inFlightAtEnd}; reached N after ${st.fillSeconds.toFixed(0)} s; other processes ${st.otherCpuPct.toFixed(0)}% of a CPU` },
      { group: g, metric: 'dispatch latency p50', value: st.dispatch.p50Ms, unit: 'ms', detail: `n=${st.dispatch.n} tickets (all kinds), from the frontends' histogram` },
      {
        group: g,
        metric: 'dispatch latency p99',
        value: st.dispatch.p99Ms,
        unit: 'ms',
        ...(st.n >= 1000 ? { target: `≤ ${TARGET.dispatchP99Ms} ms`, met: st.dispatch.p99Ms <= TARGET.dispatchP99Ms } : {}),
        detail: st.dispatch.overflow > 0 ? `${(st.dispatch.overflow * 100).toFixed(1)}% above 5 s` : '',
      },
      { group: g, metric: 'build created → first step started p50', value: st.buildQueuedMs.p50, unit: 'ms', detail: `p99 ${st.buildQueuedMs.p99.toFixed(0)} ms; created → finished p50 ${st.buildTotalMs.p50.toFixed(0)} ms (sleep ${st.sleepSeconds * 1000} ms)` },
    );
    for (const k of ['jobs list', 'builds list', 'build show', 'console'] as const) {
      rows.push({ group: g, metric: `API ${k} p99`, value: st.api[k].p99, unit: 'ms', ...(k === 'console' ? {} : { target: `≤ ${TARGET.apiP99Ms} ms`, met: st.api[k].p99 <= TARGET.apiP99Ms }), detail: apiDetail(k) });
    }
    rows.push(
      { group: g, metric: 'frontend RSS, largest', value: fe.rssMaxMiB, unit: 'MiB', target: `≤ ${TARGET.frontendRssMiB} MB`, met: fe.rssMaxMiB <= TARGET.frontendRssMiB, detail: Object.entries(st.procs).filter(([n]) => n.startsWith('frontend')).map(([n, p]) => `${n} ${p.rssMaxMiB.toFixed(0)} MiB`).join(', ') },
      { group: g, metric: 'frontend CPU, all frontends', value: fe.cpuPct, unit: '% of a CPU', detail: Object.entries(st.procs).filter(([n]) => n.startsWith('frontend')).map(([n, p]) => `${n} ${pct(p.cpuMs, st.seconds).toFixed(0)}%`).join(', ') },
      { group: g, metric: 'worker CPU incl. git/bash children', value: wk.cpuPct, unit: '% of a CPU', detail: `largest worker RSS ${wk.rssMaxMiB.toFixed(0)} MiB; load generator ${pct(st.procs.loadgen?.cpuMs ?? NaN, st.seconds).toFixed(0)}%, prober ${pct(st.procs.prober?.cpuMs ?? NaN, st.seconds).toFixed(0)}%` },
    );
    if (r.backend === 'zookeeper') rows.push({ group: g, metric: 'ZooKeeper CPU, 3 nodes', value: zk.cpuPct, unit: '% of a CPU', detail: `largest node RSS ${zk.rssMaxMiB.toFixed(0)} MiB` });
    const topOps = Object.entries(st.coordinatorOpsByOperation).slice(0, 5).map(([op, v]) => `${op} ${v.toFixed(0)}`).join(', ');
    rows.push(
      { group: g, metric: 'coordinator operations', value: st.coordinatorOpsPerSec, unit: '/s', detail: `${(st.coordinatorOpsPerSec / Math.max(0.01, st.finishedPerSec)).toFixed(0)} per finished build; ${topOps}; store ${st.storeOpsPerSec.toFixed(0)}/s` },
      { group: g, metric: 'store put latency, mean (disk state)', value: st.storePutMeanMs, unit: 'ms', detail: 'each put of the file: store is fsync\'d, as are ZooKeeper\'s transactions: runs whose puts take several times the usual ~17 ms are slow throughout' },
      { group: g, metric: 'builds failed in the window', value: st.failed, unit: '', target: '0', met: st.failed === 0, detail: `trigger retries ${st.triggerErrors}; API probe errors ${st.apiErrors}` },
    );
  }
  const g = `${r.backend}: drain (no more triggers; every build must end in success)`;
  rows.push(
    { group: g, metric: 'builds triggered', value: r.drain.triggered, unit: '', detail: `drained in ${r.drain.seconds.toFixed(0)} s` },
    { group: g, metric: 'builds failed', value: r.drain.failed.length, unit: '', target: '0', met: r.drain.failed.length === 0, detail: r.drain.failed.slice(0, 5).map((f) => `${f.build} ${f.status}`).join(', ') },
    {
      group: g,
      metric: 'leases expired (workers alive all along)',
      value: r.leaseExpiries,
      unit: '',
      target: '0',
      met: r.leaseExpiries === 0,
      detail: "the frontends' distci_lease_expiries_total after the drain: each is a step run again",
    },
    { group: g, metric: 'builds lost (not final after the drain)', value: r.drain.lost.length, unit: '', target: '0', met: r.drain.lost.length === 0, detail: r.drain.lost.length === 0 ? '' : `status at the end of the drain: ${Object.entries(r.drain.lostStatus).map(([k, v]) => `${k} ${v}`).join(', ')}; e.g. ${r.drain.lost.slice(0, 3).join(', ')}` },
  );
  return rows;
}

function flatRows(backend: Backend, variants: FlatVariant[], s: Settings): ResultRow[] {
  const g = `${backend}: per-build cost, ${s.flatBuilds} builds at once (S = 1 s), mean of ${s.flatRuns} runs`;
  const mean = (v: FlatVariant, f: (r: FlatVariant['runs'][number]) => number): number => v.runs.reduce((a, r) => a + f(r), 0) / v.runs.length;
  const [small, big] = variants;
  if (!small || !big) return [];
  const rows: ResultRow[] = [];
  const line = (metric: string, unit: string, f: (r: FlatVariant['runs'][number]) => number, target: boolean): void => {
    const a = mean(small, f);
    const b = mean(big, f);
    const ratio = b / a;
    rows.push({ group: g, metric: `${metric}: ${small.name}`, value: a, unit, detail: small.runs.map((r) => f(r).toFixed(1)).join(' / ') });
    rows.push({
      group: g,
      metric: `${metric}: ${big.name}`,
      value: b,
      unit,
      ...(target ? { target: '≤ 110% of the above', met: ratio <= TARGET.flatRatio } : {}),
      detail: `${(ratio * 100).toFixed(0)}% of the above; runs ${big.runs.map((r) => f(r).toFixed(1)).join(' / ')}`,
    });
  };
  line('frontend CPU per build', 'ms', (r) => r.frontendCpuMsPerBuild, true);
  if (backend === 'zookeeper') line('ZooKeeper CPU per build', 'ms', (r) => r.zookeeperCpuMsPerBuild, true);
  line('coordinator operations per build', '', (r) => r.coordinatorOpsPerBuild, true);
  line('worker CPU per build (incl. children)', 'ms', (r) => r.workerCpuMsPerBuild, false);
  line('dispatch latency p50', 'ms', (r) => r.dispatch.p50Ms, false);
  line('dispatch latency p99', 'ms', (r) => r.dispatch.p99Ms, false);
  line('wall time of the run', 's', (r) => r.seconds, false);
  line('other processes (noise)', '% of a CPU', (r) => r.otherCpuPct, false);
  if (big.seed) rows.push({ group: g, metric: 'seeding the finished builds (BuildService, see notes)', value: big.seed.seconds, unit: 's', detail: `${big.seed.builds} builds, ${big.seed.perSec.toFixed(0)}/s; registering ${big.jobs} jobs took ${big.registerSeconds.toFixed(1)} s` });
  return rows;
}

function floodRows(backend: Backend, f: FloodResult, s: Settings): ResultRow[] {
  const g = `${backend}: fair share — ${s.floodBuilds} builds of job flood on ${s.floodSlots} slots (S = ${s.floodSleep} s), one build of job other ${f.otherTriggeredAt.toFixed(0)} s in`;
  const maxAge = (k: 'flood' | 'other'): number => Math.max(0, ...f.queueAge.map((q) => q[k] ?? 0));
  const at = (t: number): string => {
    const q = f.queueAge.reduce((best, x) => (Math.abs(x.t - t) < Math.abs(best.t - t) ? x : best), f.queueAge[0] ?? { t: 0, flood: null, other: null });
    return `${q.t.toFixed(0)} s: flood ${q.flood?.toFixed(1) ?? '–'} s, other ${q.other?.toFixed(1) ?? '–'} s`;
  };
  return [
    { group: g, metric: "other's build: created → first step started", value: f.otherStartMs ?? Number.NaN, unit: 'ms', target: `≤ ${TARGET.floodStartMs} ms`, met: f.otherStartMs !== null && f.otherStartMs <= TARGET.floodStartMs, detail: `created → finished ${f.otherFinishMs ?? 'never'} ms, ${f.otherStatus}` },
    { group: g, metric: 'oldest pending ticket of flood, largest', value: maxAge('flood'), unit: 's', detail: `sampled every second; ${at(f.otherTriggeredAt + 2)}` },
    { group: g, metric: 'oldest pending ticket of other, largest', value: maxAge('other'), unit: 's', detail: `flood builds finished meanwhile ${f.floodFinishedMeanwhile}; the ${s.floodBuilds} triggers took ${f.triggerSeconds.toFixed(1)} s` },
  ];
}

/** One compact table per backend for BENCHMARKS.md (and the chart's points). */
function compactTable(ramps: RampResult[]): string {
  const out = [
    '| backend | N | S | started/s | dispatch p50 / p99 | list p99 | show p99 | console p99 | frontend RSS max | frontend CPU | worker CPU | ZooKeeper CPU | coord. ops/s | failed | other processes |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of ramps)
    for (const st of r.stages) {
      const fe = procSum(st, 'frontend');
      out.push(
        `| ${r.backend} | ${st.n} | ${st.sleepSeconds} s | ${st.triggeredPerSec.toFixed(2)} | ${st.dispatch.p50Ms.toFixed(1)} / ${st.dispatch.p99Ms.toFixed(1)} ms | ${st.api['jobs list'].p99.toFixed(1)} ms | ${st.api['build show'].p99.toFixed(1)} ms | ` +
          `${st.api.console.p99.toFixed(1)} ms | ${fe.rssMaxMiB.toFixed(0)} MiB | ${fe.cpuPct.toFixed(0)}% | ${procSum(st, 'worker', true).cpuPct.toFixed(0)}% | ` +
          `${r.backend === 'zookeeper' ? `${procSum(st, 'zookeeper').cpuPct.toFixed(0)}%` : '–'} | ${st.coordinatorOpsPerSec.toFixed(0)} | ${st.failed} | ${st.otherCpuPct.toFixed(0)}% |`,
      );
    }
  return out.join('\n');
}

async function run(args: BenchArgs): Promise<BenchResult> {
  const s = settings(args.options, args.coordinator);
  args.log(
    `scale: modes ${s.modes.join(',')} on ${s.backends.join(',')}; N ${s.ns.join(',')}, S ${s.sleeps.join(',')} s, ${s.jobs} jobs, ` +
      `${s.frontends} frontends, ${s.workers} workers × ${s.slots} slots, at most ${s.ratePerSec} triggers/s`,
  );
  const profiling = s.profileDir ? profileEnv(s.profileDir) : undefined;
  const ramps: RampResult[] = [];
  const flats: Partial<Record<Backend, FlatVariant[]>> = {};
  const floods: Partial<Record<Backend, FloodResult>> = {};
  const rows: ResultRow[] = [];
  for (const backend of s.backends) {
    if (s.modes.includes('ramp')) {
      const r = await runRamp(args, backend, { ...s, thinkMs: 100, profileEnv: profiling });
      ramps.push(r);
      rows.push(...rampRows(r, s));
    }
  }
  for (const backend of s.backends) {
    if (s.modes.includes('flat') && s.flatBackends.includes(backend)) {
      const flatBackend = backend;
      const v = await runFlat(args, flatBackend, { builds: s.flatBuilds, bigJobs: s.flatJobs, finishedBuilds: s.finishedBuilds, sleepSeconds: 1, runs: s.flatRuns, frontends: s.frontends, workers: 2, slots: Math.ceil((s.flatBuilds * 1.2) / 2) });
      flats[backend] = v;
      rows.push(...flatRows(backend, v, s));
    }
    if (s.modes.includes('flood')) {
      const f = await runFlood(args, backend, { floodBuilds: s.floodBuilds, slots: s.floodSlots, sleepSeconds: s.floodSleep, otherAfterSeconds: 10, limitSeconds: s.quick ? 60 : 120 });
      floods[backend] = f;
      rows.push(...floodRows(backend, f, s));
    }
  }
  const table = ramps.length > 0 ? compactTable(ramps) : '';
  if (table) args.log(`per-N table:\n${table}`);
  if (s.chart && ramps.length > 0) {
    mkdirSync(dirname(s.chart), { recursive: true });
    const series = ramps.map((r) => ({ backend: r.backend, points: r.stages.map((st) => ({ n: st.n, p50Ms: st.dispatch.p50Ms, p99Ms: st.dispatch.p99Ms, frontendCpuPct: procSum(st, 'frontend').cpuPct })) }));
    writeFileSync(s.chart, scaleChart(series, `distci scale bench, ${new Date().toISOString().slice(0, 16)}Z, S = ${s.sleeps.join('/')} s, ${s.jobs} jobs, ${s.frontends} frontends, ${s.workers} workers`));
    args.log(`chart written to ${s.chart}`);
  }
  return {
    benchmark: 'scale',
    title: `scale: ${s.jobs.toLocaleString('en-US')} jobs, N builds in flight (${s.ns.join(', ')}), ${s.frontends} frontends, ${s.workers} workers × ${s.slots} slots${s.quick ? ' (--quick)' : ''}`,
    rows,
    notes: [
      `dispatch latency: the frontends' distci_dispatch_latency_seconds histogram (ticket createdAt → first claim, every kind), summed over frontends, p50/p99 interpolated inside its buckets (0.5 ms … 5 s)`,
      `API latency: one closed loop in its own process (100 ms think time; each jobs list page costs the frontend 101 coordinator calls in two rounds: the page, then the counter and newest record of each of its 50 jobs together; on ZooKeeper both rounds pass one barrier and what is unchanged comes from what the frontend's watches keep): GET /jobs?limit=50, GET /jobs/J/builds?limit=10, GET /jobs/J/builds/N, GET …/console`,
      `CPU and RSS from /proc/PID/stat and /status of each process, over the window; worker CPU includes the git/bash/sleep children it reaped`,
      `coordinator operations: the frontends' distci_backend_call_seconds_count{backend="coordinator"} over the window`,
      `finished builds of the flat mode are seeded by the BuildService itself in the bench process (trigger, one build-control lease, writeState of the final record, complete; no step tickets), before the workers start (seed.ts)`,
    ],
    details: { settings: s, target: TARGET, ramps, flats, floods, compactTable: table },
  };
}

function profileEnv(dir: string): NodeJS.ProcessEnv {
  mkdirSync(dir, { recursive: true });
  const preload = new URL('../profile-preload.js', import.meta.url).href;
  return { NODE_OPTIONS: `--import ${preload}`, DISTCI_BENCH_PROFILE_DIR: dir };
}

export const scale: BenchModule = {
  summary: 'issue #6: 10,000 jobs, N builds in flight (ramp), per-build cost with 10,000 jobs + 50,000 finished builds (flat), fair share under a flood (flood); sqlite and a 3-node ZooKeeper ensemble',
  timeLimitMs: 50 * 60_000,
  options: {
    quick: { type: 'boolean', help: 'small run: N 20,50,100, 1,000 jobs, 2,000 finished builds, flood of 300 (~5 min)' },
    modes: { type: 'string', arg: 'm,m', help: 'ramp, flat, flood (default all)' },
    backend: { type: 'string', arg: 'b,b', help: 'sqlite, zookeeper (default both)' },
    n: { type: 'string', arg: 'n,n', help: 'builds in flight to ramp through (default 100,500,1000)' },
    sleep: { type: 'string', arg: 's', help: 'seconds the shell step sleeps (default N / 6 at each N, so ~6 builds/s at every N)' },
    window: { type: 'string', arg: 's', help: 'measured seconds at each N (default 30)' },
    settle: { type: 'string', arg: 's', help: 'seconds after reaching N before measuring (default 10)' },
    rate: { type: 'string', arg: 'n', help: 'most triggers per second of the load generator (default 8)' },
    jobs: { type: 'string', arg: 'n', help: 'jobs registered for the ramp (default 10000)' },
    frontends: { type: 'string', arg: 'n', help: 'frontend processes (default 2)' },
    workers: { type: 'string', arg: 'n', help: 'worker processes (default: enough for ≤ 200 slots each, at least 2)' },
    slots: { type: 'string', arg: 'n', help: 'slots per worker (default 1.15 × max N / workers)' },
    drain: { type: 'string', arg: 's', help: 'seconds past S the drain waits for builds to end (default 120)' },
    'flat-builds': { type: 'string', arg: 'n', help: 'builds of the flat run (default 100)' },
    'flat-jobs': { type: 'string', arg: 'n', help: 'jobs of the big flat variant (default 10000)' },
    'finished-builds': { type: 'string', arg: 'n', help: 'finished builds seeded in the big flat variant (default 50000)' },
    'flat-runs': { type: 'string', arg: 'n', help: 'repetitions of the flat run per variant (default 2)' },
    'flat-backend': { type: 'string', arg: 'b,b', help: 'backends the flat mode runs on (default sqlite: seeding 50,000 builds on ZooKeeper takes minutes)' },
    'flood-builds': { type: 'string', arg: 'n', help: 'builds of the flooding job (default 1000)' },
    'flood-slots': { type: 'string', arg: 'n', help: 'worker slots during the flood (default 16)' },
    'flood-sleep': { type: 'string', arg: 's', help: 'seconds the flood builds sleep (default 2)' },
    chart: { type: 'string', arg: 'file', help: 'write the SVG chart there (e.g. docs/bench/scale.svg)' },
    profile: { type: 'string', arg: 'dir', help: 'CPU-profile the ramp frontends and workers into DIR (see profile-summary)' },
  },
  run,
};
