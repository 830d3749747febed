/**
 * Builds keep going when a ZooKeeper node dies: a 3-node ensemble, 3 frontend processes,
 * 6 worker processes given all three frontends, 30 builds of two sleeping shell steps
 * (20 triggered before the fault, 10 during it). The checks and the recovery times printed
 * are described in scenario.ts. The killed node is started again after each test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startEnsemble, type Ensemble } from '../support/zookeeper.js';
import { HaCluster, servingNodes } from './ha-cluster.js';
import { runScenario, type Fault } from './scenario.js';

let ensemble: Ensemble;
before(async () => {
  ensemble = await startEnsemble(3);
});
after(async () => {
  await ensemble?.stop();
});

/** SIGKILLs the node `pick` chooses among the serving ones, by PID. */
async function killNode(pick: 'leader' | 'follower'): Promise<Fault & { node: number }> {
  const nodes = await servingNodes(ensemble);
  // The follower holding the most frontend sessions, so that some frontend loses its server.
  const victim = nodes.filter((n) => n.mode === pick).sort((a, b) => b.connections - a.connections)[0];
  assert.ok(victim, `a ${pick} among ${JSON.stringify(nodes)}`);
  const at = Date.now();
  process.kill(victim.pid, 'SIGKILL');
  return { at, node: victim.node, what: `kill -9 of ZooKeeper ${pick} node ${victim.node} (port ${victim.port}, ${victim.connections} frontend session(s) on it)`, killedWorkers: [] };
}

async function scenario(t: TestContext, job: string, pick: 'leader' | 'follower'): Promise<void> {
  const cluster = await HaCluster.start(ensemble);
  let killed: number | null = null;
  try {
    const result = await runScenario(cluster, {
      job,
      triggeredBefore: 20,
      triggeredDuring: 10,
      sleeps: [2, 1],
      inject: async () => {
        const fault = await killNode(pick);
        killed = fault.node;
        return fault;
      },
    });
    for (const line of result.report) t.diagnostic(`${job}: ${line}`);
    assert.deepEqual(result.problems, []);
    assert.deepEqual(result.reran, [], 'no worker was killed, so no step ran twice');
  } finally {
    await cluster.stop();
    if (killed !== null) await ensemble.restart(killed);
  }
}

describe('losing a ZooKeeper node (3 nodes, 3 frontends, 6 workers, 30 builds)', () => {
  it('kill -9 of a follower: every build succeeds, nothing is lost, no step runs twice', (t) => scenario(t, 'follower-loss', 'follower'));
  it('kill -9 of the leader: every build succeeds, nothing is lost, no step runs twice', (t) => scenario(t, 'leader-loss', 'leader'));
});
