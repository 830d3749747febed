/**
 * Losing an availability zone: one ZooKeeper node (the leader, the worst case), one of
 * three frontends and a third of the workers (the 2 of 6 running the most scripts, with
 * those scripts) are SIGKILLed at once, while 30 builds of two sleeping shell steps run
 * (20 triggered before, 10 during). The checks and the recovery times printed are
 * described in scenario.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startEnsemble, type Ensemble } from '../support/zookeeper.js';
import { HaCluster, servingNodes } from './ha-cluster.js';
import { runScenario } from './scenario.js';

let ensemble: Ensemble;
before(async () => {
  ensemble = await startEnsemble(3);
});
after(async () => {
  await ensemble?.stop();
});

describe('losing an availability zone (3 ZooKeeper nodes, 3 frontends, 6 workers, 30 builds)', () => {
  it('one ZooKeeper node, one frontend and a third of the workers at once: every build succeeds; only the lost workers’ steps run again', async (t) => {
    const cluster = await HaCluster.start(ensemble);
    try {
      const result = await runScenario(cluster, {
        job: 'zone-loss',
        triggeredBefore: 20,
        triggeredDuring: 10,
        sleeps: [2, 1],
        inject: async (c) => {
          const leader = (await servingNodes(ensemble)).find((n) => n.mode === 'leader');
          assert.ok(leader, 'the ensemble has a leader');
          const frontend = c.frontends[0]!;
          // The zone's workers: the two running the most scripts, so that work is lost with them.
          const busiest = c.workers.map((w) => ({ w, scripts: c.scriptsOf(w).length })).sort((a, b) => b.scripts - a.scripts);
          const workers = busiest.slice(0, 2).map((b) => b.w);
          const scripts = busiest.slice(0, 2).map((b) => b.scripts);
          const at = Date.now();
          process.kill(leader.pid, 'SIGKILL');
          await Promise.all([frontend.kill(), ...workers.map((w) => c.killWorker(w))]);
          return {
            at,
            what:
              `zone lost: kill -9 of ZooKeeper leader node ${leader.node} (${leader.connections} frontend session(s) on it), ` +
              `frontend ${frontend.url} and workers ${workers.map((w) => w.id).join(', ')} (running ${scripts.join(' and ')} script(s))`,
            killedWorkers: workers.map((w) => w.id),
          };
        },
      });
      for (const line of result.report) t.diagnostic(`zone-loss: ${line}`);
      assert.deepEqual(result.problems, []);
    } finally {
      await cluster.stop();
    }
  });
});
