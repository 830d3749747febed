/**
 * Whole builds through real processes, for any store backend: two frontends on one
 * data directory (and the store the backend names) and worker processes of every kind,
 * talking HTTP like a deployment does. `pipeline.test.ts` runs it on the default `file:`
 * store, `pipeline-ceph.test.ts` on `s3://` against a real Ceph RADOS Gateway.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { StepApi } from '../../src/client/step-api.js';
import { buildPrefix, type BuildRecord } from '../../src/core/builds/build.js';
import { LocalCluster, lines } from '../support/cluster.js';
import { makeRepo } from '../support/git.js';
import { eventually } from '../support/wait.js';

const SECRET = 'hunter2-very-secret-value';

/** Where the frontends of the suite keep their objects. */
export interface PipelineStore {
  /** Extra frontend flags (`--store URL`); none for the default `file:$DATA/store`. */
  frontendArgs: string[];
  /** Extra frontend environment (the store's credentials). */
  env: NodeJS.ProcessEnv;
  /** Keys of the objects stored under `prefix`, read behind the frontends' backs. */
  keys(prefix: string, dataDir: string): Promise<string[]>;
}

export function pipelineSuite(name: string, openStore: () => Promise<PipelineStore>): void {
  describe(`pipelines end to end (${name})`, () => {
    let store: PipelineStore;
    let cluster: LocalCluster;
    let api: BuildsApi;
    let steps: StepApi;
    let client: ApiClient;
    let repo: string;
    let marks: string;

    before(async () => {
      store = await openStore();
      cluster = await LocalCluster.start(2, ['--lease-ttl-ms', '2000', '--sweep-ms', '100', '--log-level', 'warn', ...store.frontendArgs], {
        ...store.env,
        DISTCI_SECRET_DEPLOY_TOKEN: SECRET,
      });
      client = new ApiClient({ servers: cluster.urls });
      api = new BuildsApi(client);
      steps = new StepApi(client);
      repo = join(cluster.dir, 'repo');
      marks = join(cluster.dir, 'marks');
      makeRepo(repo, { 'hello.txt': 'hello from git\n', 'build.sh': 'mkdir -p out && cp hello.txt out/greeting.txt\n' });
      cluster.startWorker(['--concurrency', '4', '--worker-id', 'w1', '--log-level', 'warn']);
      cluster.startWorker(['--concurrency', '4', '--worker-id', 'w2', '--log-level', 'warn']);
    });
    after(async () => {
      await client?.close();
      await cluster?.stop();
    });

    async function finished(job: string, number: number, timeoutMs = 60_000): Promise<BuildRecord> {
      return eventually(async () => {
        const b = await api.getBuild(job, number);
        assert.ok(['success', 'failure', 'error', 'cancelled'].includes(b.status), `${job}#${number} is ${b.status}`);
        return b;
      }, timeoutMs, 50);
    }

    it('checks out, builds, publishes: the artifact, the workspaces and the console are in the store', async () => {
      await api.applyJob(
        'app',
        `
id: app
steps:
  - {name: checkout, type: git-checkout, params: {repository: "${repo}", ref: main, dir: src}}
  - {name: build, type: execute-shell, params: {script: "bash build.sh && echo built it", workdir: src}}
  - {name: publish, type: publish-artifacts, params: {paths: ["src/out/*.txt"]}}
`,
        'yaml',
      );
      const { build } = await api.trigger('app');
      const done = await finished('app', build.number);
      assert.equal(done.status, 'success', JSON.stringify(done.steps.map((s) => [s.name, s.status, s.code, s.message])));
      assert.deepEqual(done.steps.map((s) => s.status), ['success', 'success', 'success']);
      for (const s of done.steps) assert.equal(s.attempts.length, 1);
      const { artifacts } = await steps.listArtifacts('app', build.number);
      assert.deepEqual(artifacts.map((a) => a.path), ['src/out/greeting.txt']);
      const body = await steps.getArtifact('app', build.number, 'src/out/greeting.txt');
      let text = '';
      for await (const chunk of body) text += (chunk as Buffer).toString();
      assert.equal(text, 'hello from git\n');
      const console = await api.console('app', build.number);
      assert.match(console, /built it/);
      assert.match(console, /build success/);

      const prefix = buildPrefix('app', build.number);
      const stored = (await store.keys(prefix, cluster.dir)).map((k) => k.slice(prefix.length));
      assert.ok(stored.includes('artifacts/src/out/greeting.txt'), `artifact stored: ${stored.join(' ')}`);
      // publish changed nothing in the workspace: it hands on build's instead of uploading a copy.
      assert.deepEqual(done.steps.map((s) => s.workspace), [{ step: 'checkout', attempt: 1 }, { step: 'build', attempt: 1 }, { step: 'build', attempt: 1 }]);
      assert.ok(!stored.includes('workspaces/publish/1.tar'), `no copy of an unchanged workspace: ${stored.join(' ')}`);
      for (const step of ['checkout', 'build', 'publish']) {
        if (step !== 'publish') assert.ok(stored.includes(`workspaces/${step}/1.tar`), `workspace of ${step} stored: ${stored.join(' ')}`);
        assert.ok(stored.some((k) => k.startsWith(`console/${step}/0001/`)), `console of ${step} stored: ${stored.join(' ')}`);
      }
    });

    it('runs a DAG: fan-out in parallel after checkout, fan-in before the last step; matrix values in env', async () => {
      const mark = (what: string): string => `echo "${what} $(date +%s%N)" >> ${marks}`;
      await api.applyJob(
        'dag',
        `
id: dag
steps:
  - {name: first, type: execute-shell, params: {script: '${mark('first')}'}}
  - name: fan
    type: execute-shell
    needs: [first]
    matrix: {n: ["1", "2", "3"]}
    params: {script: '${mark('start-$MATRIX_N')}; sleep 0.5; ${mark('end-$MATRIX_N')}'}
  - {name: last, type: execute-shell, needs: [fan], params: {script: '${mark('last')}'}}
`,
        'yaml',
      );
      const { build } = await api.trigger('dag');
      const done = await finished('dag', build.number);
      assert.equal(done.status, 'success', JSON.stringify(done.steps.map((s) => [s.name, s.status, s.code, s.message])));
      assert.deepEqual(done.steps.map((s) => s.name), ['first', 'fan[n=1]', 'fan[n=2]', 'fan[n=3]', 'last']);
      const events = lines(marks).map((l) => l.split(' ')[0]!);
      assert.equal(events[0], 'first');
      assert.equal(events.at(-1), 'last');
      const firstEnd = events.findIndex((e) => e.startsWith('end-'));
      const starts = events.map((e, i) => (e.startsWith('start-') ? i : -1)).filter((i) => i >= 0);
      assert.equal(starts.length, 3);
      assert.ok(starts.every((i) => i < firstEnd), `all three fan-out steps started before any ended: ${events.join(' ')}`);
    });

    it('skips the steps after a failure and ends the build as failure', async () => {
      await api.applyJob(
        'fails',
        `
id: fails
steps:
  - {name: broken, type: execute-shell, params: {script: "echo about to fail; exit 7"}}
  - {name: never, type: execute-shell, params: {script: "touch ${marks}-never"}}
`,
        'yaml',
      );
      const { build } = await api.trigger('fails');
      const done = await finished('fails', build.number);
      assert.equal(done.status, 'failure');
      assert.equal(done.steps[0]!.code, 'exit_7');
      assert.equal(done.steps[1]!.status, 'skipped');
    });

    it('triggers downstream jobs after a success', async () => {
      await api.applyJob('down', `id: down\nsteps:\n  - {name: s, type: execute-shell, params: {script: "true"}}\n`, 'yaml');
      await api.applyJob('up', `id: up\ndownstream: [down]\nsteps:\n  - {name: s, type: execute-shell, params: {script: "true"}}\n`, 'yaml');
      const { build } = await api.trigger('up');
      const done = await finished('up', build.number);
      assert.deepEqual(done.downstream, ['down#1']);
      const down = await finished('down', 1);
      assert.equal(down.status, 'success');
      assert.deepEqual(down.trigger, { kind: 'upstream', by: `up#${build.number}` });
    });

    it('masks secrets in the console, also base64-encoded', async () => {
      await api.applyJob(
        'secretive',
        `
id: secretive
secrets: [DEPLOY_TOKEN]
steps:
  - {name: leak, type: execute-shell, params: {script: 'echo "token=$DEPLOY_TOKEN"; printf %s "$DEPLOY_TOKEN" | base64'}}
`,
        'yaml',
      );
      const { build } = await api.trigger('secretive');
      const done = await finished('secretive', build.number);
      assert.equal(done.status, 'success');
      const console = await api.console('secretive', build.number);
      assert.match(console, /token=\*\*\*/);
      assert.doesNotMatch(console, new RegExp(SECRET));
      assert.doesNotMatch(console, new RegExp(Buffer.from(SECRET).toString('base64').slice(0, 16)));
    });

    it('cancels a running build: the step is stopped and the build ends cancelled', async () => {
      await api.applyJob('slow', `id: slow\nsteps:\n  - {name: wait, type: execute-shell, params: {script: "echo started; sleep 60"}}\n  - {name: after, type: execute-shell, params: {script: "true"}}\n`, 'yaml');
      const { build } = await api.trigger('slow');
      await eventually(async () => assert.equal((await api.getBuild('slow', build.number)).steps[0]!.status, 'running'), 20_000, 50);
      await api.cancelBuild('slow', build.number);
      const done = await finished('slow', build.number, 30_000);
      assert.equal(done.status, 'cancelled');
      assert.equal(done.steps[0]!.status, 'cancelled');
      assert.equal(done.steps[1]!.status, 'cancelled');
    });

    it('ends a step that runs past its timeout as a failure', async () => {
      await api.applyJob('timeout', `id: timeout\nsteps:\n  - {name: hang, type: execute-shell, timeoutSeconds: 1, params: {script: "sleep 30"}}\n`, 'yaml');
      const { build } = await api.trigger('timeout');
      const done = await finished('timeout', build.number, 30_000);
      assert.equal(done.status, 'failure');
      assert.equal(done.steps[0]!.code, 'timeout');
    });
  });
}
