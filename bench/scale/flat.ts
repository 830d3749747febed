/**
 * Item 4 of issue #6, "per-build cost is flat": the same run of 100 builds (one per job
 * of 100 three-step jobs, all triggered at once) on a deployment holding only those 100
 * jobs, and on one that also holds 9,900 more jobs and 50,000 finished builds (seeded
 * through the BuildService, see seed.ts). Reported per build: CPU of the frontends (which
 * host the embedded coordinator), of the ZooKeeper nodes, of the workers; coordinator
 * calls; dispatch latency.
 */
import { join } from 'node:path';
import { expectStatus, requestJson, sleep, summarize, type BenchArgs, type Summary } from '../common.js';
import { jobName, makeRepository, registerJobs, scaleJob, seedJob, startDeployment, type Backend, type Deployment } from './deploy.js';
import { delta, histogramQuantiles, ProcMeter, sumOf, type HistogramQuantiles, type ProcWindow } from './observe.js';
import { seedFinishedBuilds, type SeedResult } from './seed.js';

export interface FlatSettings {
  builds: number;
  bigJobs: number;
  finishedBuilds: number;
  sleepSeconds: number;
  runs: number;
  frontends: number;
  workers: number;
  slots: number;
}

export interface FlatRun {
  seconds: number;
  succeeded: number;
  procs: Record<string, ProcWindow>;
  otherCpuPct: number;
  frontendCpuMsPerBuild: number;
  zookeeperCpuMsPerBuild: number;
  workerCpuMsPerBuild: number;
  coordinatorOpsPerBuild: number;
  coordinatorOpsByOperation: Record<string, number>;
  dispatch: HistogramQuantiles;
  buildTotalMs: Summary;
}

export interface FlatVariant {
  name: string;
  jobs: number;
  finishedBuilds: number;
  registerSeconds: number;
  seed: SeedResult | null;
  runs: FlatRun[];
}

export async function runFlat(args: BenchArgs, backend: Backend, s: FlatSettings): Promise<FlatVariant[]> {
  const variants = [
    { name: `${s.builds} jobs`, jobs: s.builds, finished: 0 },
    { name: `${s.bigJobs.toLocaleString('en-US')} jobs + ${s.finishedBuilds.toLocaleString('en-US')} finished builds`, jobs: s.bigJobs, finished: s.finishedBuilds },
  ];
  const out: FlatVariant[] = [];
  for (const v of variants) {
    // Workers start after the seeding, which plays build-control itself (seed.ts).
    const d = await startDeployment(args, { name: `flat-${v.jobs}-${backend}`, backend, frontends: s.frontends, workers: 0, slots: s.slots });
    try {
      const repo = makeRepository(join(d.dir, 'repo'));
      // Jobs 0..builds-1 are the measured three-step jobs; the rest hold the seeded builds.
      const { seconds: registerSeconds } = await registerJobs(d, (i) => (i < s.builds ? scaleJob(jobName(i), repo) : seedJob(jobName(i))), v.jobs);
      args.log(`flat (${backend}, ${v.name}): ${v.jobs} jobs registered in ${registerSeconds.toFixed(1)} s`);
      let seed: SeedResult | null = null;
      if (v.finished > 0) {
        const seedJobs = Array.from({ length: v.jobs - s.builds }, (_, i) => jobName(s.builds + i));
        seed = await seedFinishedBuilds(d, seedJobs, v.finished, args.log);
        args.log(`flat (${backend}, ${v.name}): ${seed.builds} finished builds seeded in ${seed.seconds.toFixed(0)} s (${seed.perSec.toFixed(0)}/s)`);
      }
      await d.addWorkers(s.workers, s.slots);
      await sleep(2000);
      const runs: FlatRun[] = [];
      for (let r = 0; r < s.runs; r++) {
        const run = await oneRun(d, s, r);
        runs.push(run);
        args.log(
          `flat (${backend}, ${v.name}) run ${r + 1}: ${run.succeeded}/${s.builds} in ${run.seconds.toFixed(1)} s; per build: frontends ${run.frontendCpuMsPerBuild.toFixed(1)} ms CPU, ` +
            `ZooKeeper ${run.zookeeperCpuMsPerBuild.toFixed(1)} ms, coordinator ops ${run.coordinatorOpsPerBuild.toFixed(1)}; dispatch p50 ${run.dispatch.p50Ms.toFixed(1)} ms p99 ${run.dispatch.p99Ms.toFixed(1)} ms`,
        );
      }
      out.push({ name: v.name, jobs: v.jobs, finishedBuilds: v.finished, registerSeconds, seed, runs });
    } finally {
      await d.stop();
    }
  }
  return out;
}

/** Triggers one build of each measured job at once and waits until all are final. */
async function oneRun(d: Deployment, s: FlatSettings, r: number): Promise<FlatRun> {
  const before = await d.scrape();
  const meter = new ProcMeter(d.pids());
  const t0 = performance.now();
  const numbers = await Promise.all(
    Array.from({ length: s.builds }, async (_, i) => {
      const answer = await requestJson(d.pools[i % d.pools.length]!, 'POST', `/api/v1/jobs/${jobName(i)}/builds`, { parameters: { SLEEP: String(s.sleepSeconds) }, idempotencyKey: `flat-${r}-${i}` });
      expectStatus('flat trigger', answer, 200, 201);
      return (answer.body as { number: number }).number;
    }),
  );
  const finished0 = sumOf(before, 'distci_builds_finished_total');
  const deadline = Date.now() + 300_000;
  while (sumOf(await d.scrape(), 'distci_builds_finished_total') - finished0 < s.builds) {
    if (Date.now() > deadline) throw new Error(`flat run: not all ${s.builds} builds finished within 300 s`);
    await sleep(250);
  }
  const seconds = (performance.now() - t0) / 1000;
  const { procs, otherCpuPct } = meter.stop();
  const w = delta(await d.scrape(), before);
  const records = await Promise.all(
    numbers.map(async (n, i) => (await requestJson(d.pools[0]!, 'GET', `/api/v1/jobs/${jobName(i)}/builds/${n}`)).body as { status: string; createdAt: number; finishedAt: number }),
  );
  const sum = (prefix: string, withChildren: boolean): number =>
    Object.entries(procs)
      .filter(([name]) => name.startsWith(prefix))
      .reduce((a, [, p]) => a + p.cpuMs + (withChildren ? p.childrenCpuMs : 0), 0);
  const ops: Record<string, number> = {};
  for (const [series, value] of w) {
    if (!series.startsWith('distci_backend_call_seconds_count{') || !series.includes('backend="coordinator"')) continue;
    const op = /operation="([^"]+)"/.exec(series)?.[1] ?? '?';
    ops[op] = (ops[op] ?? 0) + value / s.builds;
  }
  return {
    seconds,
    succeeded: records.filter((b) => b.status === 'success').length,
    procs,
    otherCpuPct,
    frontendCpuMsPerBuild: sum('frontend', false) / s.builds,
    zookeeperCpuMsPerBuild: sum('zookeeper', false) / s.builds,
    workerCpuMsPerBuild: sum('worker', true) / s.builds,
    coordinatorOpsPerBuild: sumOf(w, 'distci_backend_call_seconds_count', { backend: 'coordinator' }) / s.builds,
    coordinatorOpsByOperation: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1])),
    dispatch: histogramQuantiles(w, 'distci_dispatch_latency_seconds'),
    buildTotalMs: summarize(records.map((b) => b.finishedAt - b.createdAt)),
  };
}
