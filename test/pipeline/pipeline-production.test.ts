/**
 * A production-shaped deployment: two frontend processes on a real 3-node ZooKeeper
 * ensemble (scripts/zookeeper.sh) and a real Ceph RADOS Gateway (scripts/ceph.sh), worker
 * processes given both frontends. Pipelines with workspaces and artifacts run to success
 * while one frontend is SIGKILLed in the middle of them. Without ZooKeeper or Ceph the
 * test fails, saying how to get them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { ApiClient } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { StepApi } from '../../src/client/step-api.js';
import { buildPrefix, type BuildRecord } from '../../src/core/builds/build.js';
import { freshBucket, sharedCeph, type CephCluster } from '../support/ceph.js';
import { LocalCluster, lines, tally } from '../support/cluster.js';
import { makeRepo } from '../support/git.js';
import { eventually } from '../support/wait.js';
import { startEnsemble, type Ensemble } from '../support/zookeeper.js';

const PREFIX = 'ci/production';
const BUILDS = 3;

describe('production-shaped: 2 frontends, a 3-node ZooKeeper ensemble, Ceph RGW, workers', () => {
  const ceph = sharedCeph();
  const bucket = freshBucket('production');
  let rgw: CephCluster;
  let ensemble: Ensemble;
  let root: string;
  let cluster: LocalCluster;
  let client: ApiClient;
  let api: BuildsApi;
  let repo: string;
  let marks: string;

  before(async () => {
    [rgw, ensemble] = await Promise.all([ceph.get(), startEnsemble(3)]);
    root = ensemble.freshRoot();
    cluster = await LocalCluster.start(
      2,
      ['--coordinator', ensemble.url(root), '--store', rgw.storeUrl(bucket, PREFIX), '--lease-ttl-ms', '3000', '--sweep-ms', '100', '--log-level', 'warn'],
      rgw.env(),
    );
    client = new ApiClient({ servers: cluster.urls, baseBackoffMs: 20, maxBackoffMs: 500 });
    api = new BuildsApi(client);
    repo = join(cluster.dir, 'repo');
    marks = join(cluster.dir, 'marks');
    makeRepo(repo, { 'app.txt': 'the app\n' });
    for (const id of ['w1', 'w2', 'w3']) cluster.startWorker(['--concurrency', '2', '--worker-id', id, '--log-level', 'warn']);
  });
  after(async () => {
    await client?.close();
    await cluster?.stop();
    await rgw?.removeBucket(bucket).catch((err: Error) => assert.equal(err.name, 'NoSuchBucket', err.message));
    await ceph.stop();
    if (ensemble && root) await ensemble.removeRoot(root);
    await ensemble?.stop();
  });

  it('builds with workspaces and artifacts succeed while a frontend is SIGKILLed mid-build; every step runs once', async () => {
    const mark = (what: string): string => `echo "${what} $DISTCI_BUILD" >> ${marks}`;
    await api.applyJob(
      'release',
      `
id: release
steps:
  - {name: checkout, type: git-checkout, params: {repository: "${repo}", ref: main, dir: src}}
  - {name: compile, type: execute-shell, params: {workdir: src, script: '${mark('compile')}; sleep 2; mkdir -p out; cp app.txt out/app.txt; echo "build $DISTCI_BUILD" >> out/app.txt'}}
  - {name: test, type: execute-shell, params: {workdir: src, script: '${mark('test')}; grep -q "build $DISTCI_BUILD" out/app.txt; sleep 1; echo passed > out/report.txt'}}
  - {name: publish, type: publish-artifacts, params: {paths: ["src/out/*.txt"]}}
`,
      'yaml',
    );
    const numbers = (await Promise.all(Array.from({ length: BUILDS }, (_, i) => api.trigger('release', { idempotencyKey: `release-${i}` })))).map((r) => r.build.number);
    await eventually(() => assert.ok(lines(marks).some((l) => l.startsWith('compile'))), 60_000, 20);
    const victim = cluster.frontends[0]!;
    await victim.kill();

    const done: BuildRecord[] = [];
    for (const n of numbers) {
      done.push(
        await eventually(async () => {
          const b = await api.getBuild('release', n);
          assert.ok(['success', 'failure', 'error', 'cancelled'].includes(b.status), `release#${n} is ${b.status}`);
          return b;
        }, 120_000, 100),
      );
    }
    for (const b of done) {
      assert.equal(b.status, 'success', JSON.stringify(b.steps.map((s) => [s.name, s.status, s.code, s.message])));
      assert.deepEqual(b.steps.map((s) => s.attempts.length), [1, 1, 1, 1], `release#${b.number}: each step in one attempt`);
      assert.deepEqual(b.steps.at(-1)?.workspace, { step: 'test', attempt: 1 }, `release#${b.number}: publish hands on test's workspace`);
    }
    assert.deepEqual([...tally(lines(marks)).values()], Array(BUILDS * 2).fill(1), `each shell step ran once: ${lines(marks).join(', ')}`);

    const steps = new StepApi(client);
    for (const n of numbers) {
      const { artifacts } = await steps.listArtifacts('release', n);
      assert.deepEqual(artifacts.map((a) => a.path), ['src/out/app.txt', 'src/out/report.txt']);
      let text = '';
      for await (const chunk of await steps.getArtifact('release', n, 'src/out/app.txt')) text += (chunk as Buffer).toString();
      assert.equal(text, `the app\nbuild ${n}\n`);
    }

    // Behind the frontends' backs: the objects are in the bucket, under the prefix.
    const keys: string[] = [];
    for (let token: string | undefined; ; ) {
      const page = await rgw.client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${PREFIX}/builds/release/`, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      if (!page.IsTruncated) break;
      token = page.NextContinuationToken;
    }
    for (const n of numbers) {
      const build = `${PREFIX}/${buildPrefix('release', n)}`;
      // publish changes nothing, so it hands on test's workspace and uploads none.
      for (const step of ['checkout', 'compile', 'test']) assert.ok(keys.includes(`${build}workspaces/${step}/1.tar`), `workspace of ${step} #${n}`);
      assert.ok(!keys.includes(`${build}workspaces/publish/1.tar`), `no copy of test's workspace #${n}`);
      assert.ok(keys.includes(`${build}artifacts/src/out/report.txt`), `artifact of #${n}`);
    }
  });
});
