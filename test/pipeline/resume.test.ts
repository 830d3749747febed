/**
 * Resume: kill the build-control worker, and separately a step worker mid-step; the build
 * still succeeds, every completed step ran exactly once and the killed step twice.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ApiClient } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import type { BuildRecord } from '../../src/core/builds/build.js';
import { LocalCluster, lines, tally } from '../support/cluster.js';
import { eventually } from '../support/wait.js';

const STEP_KINDS = 'git-checkout,execute-shell,publish-artifacts,copy-artifacts';

describe('builds resume after workers die', () => {
  let cluster: LocalCluster;
  let api: BuildsApi;
  let client: ApiClient;
  let marks: string;
  let pidFile: string;

  beforeEach(async () => {
    cluster = await LocalCluster.start(1, ['--lease-ttl-ms', '1000', '--sweep-ms', '100', '--log-level', 'warn']);
    client = new ApiClient({ servers: cluster.urls });
    api = new BuildsApi(client);
    marks = join(cluster.dir, 'marks');
    pidFile = join(cluster.dir, 'pid');
    await api.applyJob(
      'resumable',
      `
id: resumable
steps:
  - {name: one, type: execute-shell, params: {script: 'echo one >> ${marks}; echo data > produced.txt'}}
  - {name: two, type: execute-shell, params: {script: 'echo "two-start $DISTCI_ATTEMPT" >> ${marks}; echo $$ > ${pidFile}; sleep 1.5; cat produced.txt; echo two >> ${marks}'}}
  - {name: three, type: execute-shell, params: {script: 'echo three >> ${marks}'}}
`,
      'yaml',
    );
  });
  afterEach(async () => {
    await client.close();
    await cluster.stop();
  });

  async function finished(number: number): Promise<BuildRecord> {
    return eventually(async () => {
      const b = await api.getBuild('resumable', number);
      assert.ok(['success', 'failure', 'error', 'cancelled'].includes(b.status), `build is ${b.status}`);
      return b;
    }, 60_000, 50);
  }

  it('a SIGKILLed build-control worker: another one resumes the build from its persisted state', async () => {
    const control = cluster.startWorker(['--kinds', 'build-control', '--worker-id', 'control-1']);
    cluster.startWorker(['--kinds', STEP_KINDS, '--worker-id', 'steps']);
    const { build } = await api.trigger('resumable');
    await eventually(() => assert.ok(lines(marks).some((l) => l.startsWith('two-start'))), 30_000);
    await control.kill();
    // Step two ends while no build-control worker runs: its follow-up ticket waits.
    await eventually(() => assert.ok(lines(marks).includes('two')), 30_000);
    assert.equal((await api.getBuild('resumable', build.number)).status, 'running');
    cluster.startWorker(['--kinds', 'build-control', '--worker-id', 'control-2']);
    const done = await finished(build.number);
    assert.equal(done.status, 'success');
    assert.deepEqual([...tally(lines(marks)).entries()], [['one', 1], ['two-start 1', 1], ['two', 1], ['three', 1]]);
  });

  it('a SIGKILLed step worker mid-step: the step runs again elsewhere, completed steps never rerun', async () => {
    cluster.startWorker(['--kinds', 'build-control', '--worker-id', 'control']);
    const doomed = cluster.startWorker(['--kinds', STEP_KINDS, '--worker-id', 'doomed']);
    const { build } = await api.trigger('resumable');
    await eventually(() => assert.ok(lines(marks).includes('two-start 1')), 30_000);
    // The machine dies: the worker and the script it runs.
    doomed.child.kill('SIGKILL');
    try {
      process.kill(-Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
    cluster.startWorker(['--kinds', STEP_KINDS, '--worker-id', 'survivor']);
    const done = await finished(build.number);
    assert.equal(done.status, 'success', JSON.stringify(done.steps.map((s) => [s.name, s.status, s.code, s.message])));
    assert.deepEqual(lines(marks), ['one', 'two-start 1', 'two-start 2', 'two', 'three']);
    const two = done.steps.find((s) => s.name === 'two')!;
    assert.deepEqual(two.attempts.map((a) => [a.attempt, a.worker, a.outcome, a.code ?? null]), [
      [1, 'doomed', 'error', 'worker_lost'],
      [2, 'survivor', 'success', null],
    ]);
    const console = await api.console('resumable', build.number);
    assert.match(console, /attempt 1 lost/);
    assert.match(console, /data/, "step two read the workspace step one produced, on another worker");
  });
});
