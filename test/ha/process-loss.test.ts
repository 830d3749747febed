/**
 * Builds keep going when a frontend or a worker process is SIGKILLed: a 3-node ZooKeeper
 * ensemble, 3 frontends, 6 workers given all three frontends, 30 builds of two sleeping
 * shell steps (20 triggered before the fault, 10 during it). The checks and the recovery
 * times printed are described in scenario.ts. Each test has its own frontends and workers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEnsemble, type Ensemble } from '../support/zookeeper.js';
import { HaCluster } from './ha-cluster.js';
import { runScenario } from './scenario.js';

let ensemble: Ensemble;
before(async () => {
  ensemble = await startEnsemble(3);
});
after(async () => {
  await ensemble?.stop();
});

describe('losing a frontend or a worker (3 ZooKeeper nodes, 3 frontends, 6 workers, 30 builds)', () => {
  it('kill -9 of a frontend: workers move to the others; every build succeeds, nothing is lost, no step runs twice', async (t) => {
    const cluster = await HaCluster.start(ensemble);
    try {
      const result = await runScenario(cluster, {
        job: 'frontend-loss',
        triggeredBefore: 20,
        triggeredDuring: 10,
        sleeps: [2, 1],
        inject: async (c) => {
          const victim = c.frontends[0]!;
          const at = Date.now();
          await victim.kill();
          return { at, what: `kill -9 of frontend ${victim.url} (pid ${victim.pid})`, killedWorkers: [] };
        },
      });
      for (const line of result.report) t.diagnostic(`frontend-loss: ${line}`);
      assert.deepEqual(result.problems, []);
      assert.deepEqual(result.reran, [], 'no worker was killed, so no step ran twice');
    } finally {
      await cluster.stop();
    }
  });

  it('kill -9 of a worker mid-step (and its scripts): only its steps run again, elsewhere; every build succeeds', async (t) => {
    const cluster = await HaCluster.start(ensemble);
    try {
      const result = await runScenario(cluster, {
        job: 'worker-loss',
        triggeredBefore: 20,
        triggeredDuring: 10,
        sleeps: [2, 1],
        inject: async (c) => {
          const victim = await c.workerMidStep();
          const scripts = c.scriptsOf(victim).length;
          const at = Date.now();
          await c.killWorker(victim);
          return { at, what: `kill -9 of worker ${victim.id} (pid ${victim.proc.pid}) and its ${scripts} running script(s)`, killedWorkers: [victim.id] };
        },
      });
      for (const line of result.report) t.diagnostic(`worker-loss: ${line}`);
      assert.deepEqual(result.problems, []);
      assert.ok(result.reran.length >= 1, 'the step the worker was running ran again');
    } finally {
      await cluster.stop();
    }
  });
});
