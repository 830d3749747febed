/**
 * Seeds finished builds fast, through the BuildService itself (in the bench process, on
 * the deployment's own coordinator and store URLs), so that the records are written by
 * the code that writes them in production and follow any change to where it keeps them:
 *
 * - `BuildService.trigger` numbers the build, writes its record and posts its
 *   build-control ticket, as `POST /jobs/J/builds` does;
 * - the bench then plays the build-control worker for the whole build at once: it claims
 *   that ticket from the coordinator (a real lease), writes the final record with
 *   `BuildService.writeState` under that lease (status success, every step success with
 *   the same timestamps) and completes the ticket.
 *
 * What differs from a build that really ran: no step tickets (the steps' `ticketId` stays
 * null and they have no attempts), no console, no workspace. Each seeded build leaves a
 * final build record, its counter step and one done build-control ticket. Real builds run
 * in ~1.1 s of CPU for 20 of these; 50,000 real ones would take hours on 2 cores.
 *
 * The deployment must have no workers while seeding (they would take the build-control
 * tickets); `runFlat` starts them afterwards.
 */
import type { BuildRecord } from '../../src/core/builds/build.js';
import { setTimeout as delay } from 'node:timers/promises';
import type { Claim, Coordinator } from '../../src/coordination/contract.js';
import { openCoordinator } from '../../src/coordination/open.js';
import { BuildService } from '../../src/frontend/services/builds.js';
import { JobService } from '../../src/frontend/services/jobs.js';
import { openStore } from '../../src/storage/open.js';
import type { Deployment } from './deploy.js';

export interface SeedResult {
  builds: number;
  seconds: number;
  perSec: number;
  how: string;
}

const IN_FLIGHT = 32;

/**
 * A build-control ticket, one of those the seeders just posted. On ZooKeeper a claim can
 * come back empty while a ticket posted a moment ago is pending (an instance's queue view
 * may lag one post: the contract suite's `claimsMayLagOnePost`), so it asks again for a
 * while before concluding that something else took the tickets.
 */
async function claimPosted(coordinator: Coordinator): Promise<Claim> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const claim = await coordinator.claim({ workerId: 'scale-seeder', kinds: ['build-control'], labels: [], ttlMs: 300_000 });
    if (claim) return claim;
    await delay(10);
  }
  throw new Error('seeding: the build-control tickets just posted could not be claimed for 2 s (is a worker running?)');
}

export async function seedFinishedBuilds(d: Deployment, jobs: readonly string[], count: number, log: (line: string) => void): Promise<SeedResult> {
  const started = performance.now();
  const coordinator = await openCoordinator(d.coordinatorUrl);
  const store = await openStore(d.storeUrl);
  try {
    const builds = new BuildService(coordinator, new JobService(coordinator, store), store);
    let next = 0;
    let finished = 0;
    const progress = setInterval(() => log(`seeding: ${finished} of ${count} builds finished`), 10_000);
    try {
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < count) {
            const job = jobs[next++ % jobs.length]!;
            await builds.trigger(job, { trigger: { kind: 'api', by: 'scale-seed' } });
            const claim = await claimPosted(coordinator);
            const refs = claim.ticket.refs as { job?: string; build?: number };
            if (refs.job === undefined || refs.build === undefined) throw new Error(`seeding: build-control ticket ${claim.ticket.id} has no job/build refs`);
            const { build, version } = await builds.get(refs.job, refs.build);
            const now = Date.now();
            const final: BuildRecord = {
              ...build,
              status: 'success',
              startedAt: now,
              finishedAt: now,
              steps: build.steps.map((s) => ({ ...s, status: 'success', startedAt: now, finishedAt: now })),
            };
            await builds.writeState(refs.job, refs.build, version, final, { ticketId: claim.ticket.id, token: claim.token });
            await coordinator.complete(claim.ticket.id, claim.token, { outcome: 'success' });
            finished++;
          }
        }),
      );
    } finally {
      clearInterval(progress);
    }
  } finally {
    await coordinator.close();
    await store.close();
  }
  const seconds = (performance.now() - started) / 1000;
  return { builds: count, seconds, perSec: count / seconds, how: 'BuildService.trigger + one build-control lease writing the final record (BuildService.writeState), in the bench process' };
}
