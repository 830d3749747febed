/**
 * Items 1–2 of issue #6: register the jobs, then keep N builds in flight for each N of
 * the ramp, measuring a window at each N once it is reached; finally stop triggering
 * and let every build end (the drain). A build triggered and not ended in success by
 * the end of the drain is failed or lost.
 */
import { join } from 'node:path';
import { summarize, sleep, type BenchArgs, type Summary } from '../common.js';
import { forkChild } from './child.js';
import { jobName, makeRepository, registerJobs, scaleJob, startDeployment, type Backend } from './deploy.js';
import type { LoadgenDrained, LoadgenIn, LoadgenOut } from './loadgen.js';
import { delta, histogramQuantiles, ProcMeter, sumOf, type HistogramQuantiles, type ProcWindow } from './observe.js';
import { PROBE_KINDS, type ProbeKind, type ProberIn, type ProberWindow } from './prober.js';

export interface RampSettings {
  ns: number[];
  /** The shell step's sleep at each N (same order as `ns`). */
  sleeps: number[];
  windowSeconds: number;
  settleSeconds: number;
  ratePerSec: number;
  jobs: number;
  frontends: number;
  workers: number;
  slots: number;
  drainSeconds: number;
  thinkMs: number;
  profileEnv?: NodeJS.ProcessEnv;
}

export interface RampStage {
  n: number;
  sleepSeconds: number;
  seconds: number;
  /** How long reaching N took, from setting the target. */
  fillSeconds: number;
  triggeredPerSec: number;
  finishedPerSec: number;
  inFlightAtEnd: number;
  failed: number;
  triggerErrors: number;
  dispatch: HistogramQuantiles;
  /** Of builds ended in the window: created → first step started; created → finished. */
  buildQueuedMs: Summary;
  buildTotalMs: Summary;
  api: Record<ProbeKind, Summary>;
  apiErrors: number;
  procs: Record<string, ProcWindow>;
  /** CPU the rest of the machine used in the window (% of one CPU): noise. */
  otherCpuPct: number;
  coordinatorOpsPerSec: number;
  coordinatorOpsByOperation: Record<string, number>;
  storeOpsPerSec: number;
  /**
   * Mean of the store's puts (the `file:` store fsyncs each): the machine's disk latency, which
   * ZooKeeper's transactions share; runs with it several times higher are slow throughout.
   */
  storePutMeanMs: number;
  buildsFinishedMetric: number;
}

export interface RampResult {
  backend: Backend;
  jobs: number;
  registerSeconds: number;
  /** PUTs answered 503 (retryable, e.g. SQLITE_BUSY) and sent again. */
  registerRetries: number;
  stages: RampStage[];
  drain: LoadgenDrained & { seconds: number };
  /** Leases the frontends found expired and returned or ended, over the whole ramp and drain (none expected). */
  leaseExpiries: number;
}

export async function runRamp(args: BenchArgs, backend: Backend, s: RampSettings): Promise<RampResult> {
  const d = await startDeployment(args, { name: `ramp-${backend}`, backend, frontends: s.frontends, workers: s.workers, slots: s.slots, profileEnv: s.profileEnv });
  try {
    const repo = makeRepository(join(d.dir, 'repo'));
    args.log(`${backend}: registering ${s.jobs} jobs (32 PUTs in flight over ${d.urls.length} frontend(s))`);
    const { seconds: registerSeconds, retried: registerRetries } = await registerJobs(d, (i) => scaleJob(jobName(i), repo), s.jobs);
    args.log(`${backend}: ${s.jobs} jobs registered in ${registerSeconds.toFixed(1)} s (${registerRetries} PUTs answered 503 and retried)`);

    const jobs = Array.from({ length: s.jobs }, (_, i) => jobName(i));
    const loadgen = forkChild<LoadgenIn, LoadgenOut>(args, './loadgen.js', 'load generator');
    const prober = forkChild<ProberIn, ProberWindow>(args, './prober.js', 'API prober');
    let status = { inFlight: 0, triggered: 0, finished: 0, failed: 0, triggerErrors: 0 };
    let lastLog = 0;
    loadgen.on('status', (m) => {
      status = m;
      prober.send({ type: 'jobs', withBuilds: Math.min(m.triggered, s.jobs) });
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        args.log(`${backend}: in flight ${m.inFlight}, triggered ${m.triggered}, finished ${m.finished}, failed ${m.failed}, trigger errors ${m.triggerErrors}`);
      }
    });
    loadgen.send({ type: 'start', urls: d.urls, jobs, sleepSeconds: s.sleeps[0] ?? 1, ratePerSec: s.ratePerSec });
    prober.send({ type: 'start', urls: d.urls, jobs, thinkMs: s.thinkMs });

    const stages: RampStage[] = [];
    for (const [i, n] of s.ns.entries()) {
      const sleepSeconds = s.sleeps[i]!;
      const fillStarted = performance.now();
      loadgen.send({ type: 'target', n, sleepSeconds });
      const fillLimit = Date.now() + (sleepSeconds + n / s.ratePerSec + 120) * 1000;
      while (status.inFlight < 0.98 * n && Date.now() < fillLimit) await sleep(500);
      const fillSeconds = (performance.now() - fillStarted) / 1000;
      // Steady state: the first builds of this N have had their sleep and end as new ones start.
      const settle = Math.max(s.settleSeconds, sleepSeconds + 5 - fillSeconds);
      args.log(`${backend}: N=${n} (S = ${sleepSeconds} s) reached (${status.inFlight} in flight) after ${fillSeconds.toFixed(0)} s; settling ${settle.toFixed(0)} s, then measuring ${s.windowSeconds} s`);
      await sleep(settle * 1000);

      const before = await d.scrape();
      const meter = new ProcMeter({ ...d.pids(), loadgen: loadgen.pid, prober: prober.pid });
      loadgen.send({ type: 'window' });
      await loadgen.next('window');
      prober.send({ type: 'window' });
      await prober.next('window');
      const t0 = performance.now();
      await sleep(s.windowSeconds * 1000);
      loadgen.send({ type: 'window' });
      const lw = await loadgen.next('window');
      prober.send({ type: 'window' });
      const pw = await prober.next('window');
      const { procs, otherCpuPct } = meter.stop();
      const after = await d.scrape();
      const seconds = (performance.now() - t0) / 1000;
      const w = delta(after, before);
      const ops: Record<string, number> = {};
      for (const [series, value] of w) {
        if (!series.startsWith('distci_backend_call_seconds_count{') || !series.includes('backend="coordinator"')) continue;
        const op = /operation="([^"]+)"/.exec(series)?.[1] ?? '?';
        ops[op] = (ops[op] ?? 0) + value;
      }
      const stage: RampStage = {
        n,
        sleepSeconds,
        seconds,
        fillSeconds,
        triggeredPerSec: lw.triggered / lw.seconds,
        finishedPerSec: lw.finished / lw.seconds,
        inFlightAtEnd: lw.inFlight,
        failed: lw.failed,
        triggerErrors: lw.triggerErrors,
        dispatch: histogramQuantiles(w, 'distci_dispatch_latency_seconds'),
        buildQueuedMs: summarize(lw.queuedMs),
        buildTotalMs: summarize(lw.totalMs),
        api: Object.fromEntries(PROBE_KINDS.map((k) => [k, summarize(pw.samples[k])])) as Record<ProbeKind, Summary>,
        apiErrors: pw.errors,
        procs,
        otherCpuPct,
        coordinatorOpsPerSec: sumOf(w, 'distci_backend_call_seconds_count', { backend: 'coordinator' }) / seconds,
        coordinatorOpsByOperation: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / seconds])),
        storeOpsPerSec: sumOf(w, 'distci_backend_call_seconds_count', { backend: 'store' }) / seconds,
        storePutMeanMs:
          (1000 * sumOf(w, 'distci_backend_call_seconds_sum', { backend: 'store', operation: 'put', outcome: 'ok' })) /
          sumOf(w, 'distci_backend_call_seconds_count', { backend: 'store', operation: 'put', outcome: 'ok' }),
        buildsFinishedMetric: sumOf(w, 'distci_builds_finished_total'),
      };
      stages.push(stage);
      args.log(
        `${backend}: N=${n}: ${stage.triggeredPerSec.toFixed(2)} builds started/s, dispatch p50 ${stage.dispatch.p50Ms.toFixed(1)} ms p99 ${stage.dispatch.p99Ms.toFixed(1)} ms, ` +
          `build show p99 ${stage.api['build show'].p99.toFixed(1)} ms, coordinator ${stage.coordinatorOpsPerSec.toFixed(0)} ops/s`,
      );
    }

    const drainStarted = performance.now();
    const lastSleep = Math.max(...s.sleeps);
    args.log(`${backend}: draining: no more triggers; waiting for the ${status.inFlight} builds in flight (at most ${lastSleep + s.drainSeconds} s)`);
    loadgen.send({ type: 'drain', timeoutMs: (lastSleep + s.drainSeconds) * 1000 });
    const drained = await loadgen.next('drained', (lastSleep + s.drainSeconds + 60 + status.inFlight) * 1000);
    const drain = { ...drained, seconds: (performance.now() - drainStarted) / 1000 };
    args.log(`${backend}: drained in ${drain.seconds.toFixed(0)} s: ${drained.succeeded} of ${drained.triggered} succeeded, ${drained.failed.length} failed, ${drained.lost.length} lost`);
    const leaseExpiries = (await d.scrape()).get('distci_lease_expiries_total') ?? 0;
    if (leaseExpiries > 0) args.log(`${backend}: ${leaseExpiries} lease(s) expired during the run: their tickets ran again`);
    await prober.stop();
    await loadgen.stop();
    return { backend, jobs: s.jobs, registerSeconds, registerRetries, stages, drain, leaseExpiries };
  } finally {
    await d.stop();
  }
}
