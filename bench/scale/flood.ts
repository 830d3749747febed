/**
 * Item 5 of issue #6, "fair share": job `flood` gets `floodBuilds` builds at once, far
 * more than the workers' slots can hold; `otherAfterSeconds` later one build of job
 * `other` is triggered. Reported: how long that build waited to start (created → its
 * first step's lease) and to finish, and the age of the oldest pending ticket of each
 * job, sampled every second during the flood (`GET /tickets?status=pending&job=J&limit=1`
 * — tickets are listed oldest first).
 *
 * The flood is not run to its end: once the other build has finished (or the time
 * limit passed) the deployment is stopped, flood builds and all.
 */
import { join } from 'node:path';
import { expectStatus, requestJson, sleep, type BenchArgs } from '../common.js';
import { makeRepository, registerJobs, scaleJob, startDeployment, type Backend } from './deploy.js';

export interface FloodSettings {
  floodBuilds: number;
  slots: number;
  sleepSeconds: number;
  otherAfterSeconds: number;
  limitSeconds: number;
}

export interface FloodResult {
  triggerSeconds: number;
  /** Seconds from the flood's first trigger to the other build's trigger. */
  otherTriggeredAt: number;
  /** created → first step's lease granted; null when it never started. */
  otherStartMs: number | null;
  otherFinishMs: number | null;
  otherStatus: string;
  floodFinishedMeanwhile: number;
  /** Every second: seconds since the flood began, oldest pending ticket age per job (s; null when none pending). */
  queueAge: { t: number; flood: number | null; other: number | null }[];
}

interface BuildView {
  status: string;
  createdAt: number;
  finishedAt: number | null;
  steps: { startedAt: number | null }[];
}

export async function runFlood(args: BenchArgs, backend: Backend, s: FloodSettings): Promise<FloodResult> {
  const d = await startDeployment(args, { name: `flood-${backend}`, backend, frontends: 1, workers: 1, slots: s.slots });
  try {
    const repo = makeRepository(join(d.dir, 'repo'));
    await registerJobs(d, (i) => scaleJob(i === 0 ? 'flood' : 'other', repo), 2, 2);
    const pool = d.pools[0]!;
    const queueAge: FloodResult['queueAge'] = [];
    const t0 = performance.now();
    let sampling = true;
    const oldest = async (job: string): Promise<number | null> => {
      const answer = await requestJson(pool, 'GET', `/api/v1/tickets?status=pending&job=${job}&limit=1`);
      const t = (answer.body as { tickets: { createdAt: number }[] }).tickets[0];
      return t ? (Date.now() - t.createdAt) / 1000 : null;
    };
    const sampler = (async () => {
      while (sampling) {
        const [flood, other] = await Promise.all([oldest('flood'), oldest('other')]);
        queueAge.push({ t: (performance.now() - t0) / 1000, flood, other });
        await sleep(1000);
      }
    })();

    let next = 0;
    const triggerFlood = Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < s.floodBuilds) {
          const i = next++;
          const answer = await requestJson(pool, 'POST', '/api/v1/jobs/flood/builds', { parameters: { SLEEP: String(s.sleepSeconds) }, idempotencyKey: `flood-${i}` });
          expectStatus('flood trigger', answer, 200, 201);
        }
      }),
    ).then(() => (performance.now() - t0) / 1000);

    await sleep(s.otherAfterSeconds * 1000);
    const otherTriggeredAt = (performance.now() - t0) / 1000;
    const answer = await requestJson(pool, 'POST', '/api/v1/jobs/other/builds', { parameters: { SLEEP: String(s.sleepSeconds) } });
    expectStatus('other trigger', answer, 201);
    const number = (answer.body as { number: number }).number;
    args.log(`flood (${backend}): other#${number} triggered ${otherTriggeredAt.toFixed(1)} s into the flood`);
    const triggerSeconds = await triggerFlood;

    let build: BuildView | null = null;
    const deadline = performance.now() + s.limitSeconds * 1000;
    while (performance.now() < deadline) {
      build = (await requestJson(pool, 'GET', `/api/v1/jobs/other/builds/${number}`)).body as BuildView;
      if (build.finishedAt !== null) break;
      await sleep(250);
    }
    sampling = false;
    await sampler;
    const floodList = (await requestJson(pool, 'GET', '/api/v1/jobs/flood/builds?limit=1000')).body as { builds: { status: string }[] };
    const started = build?.steps.map((x) => x.startedAt).filter((x): x is number => x !== null) ?? [];
    return {
      triggerSeconds,
      otherTriggeredAt,
      otherStartMs: build && started.length > 0 ? Math.min(...started) - build.createdAt : null,
      otherFinishMs: build?.finishedAt ? build.finishedAt - build.createdAt : null,
      otherStatus: build?.status ?? 'unknown',
      floodFinishedMeanwhile: floodList.builds.filter((b) => b.status === 'success').length,
      queueAge,
    };
  } finally {
    await d.stop();
  }
}
