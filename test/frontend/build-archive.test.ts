/**
 * Finished builds leave the coordinator: their records move to the store, so the
 * coordinator holds only unfinished builds however many have run, and every view of a
 * build (show, list pages, lastSuccessful, console) reads the same either way.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient, ApiError } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { SqliteCoordinator } from '../../src/coordination/embedded/sqlite-coordinator.js';
import { buildKey } from '../../src/core/builds/build.js';
import { archiveKey } from '../../src/frontend/services/builds.js';
import { FsStore } from '../../src/storage/fs/fs-store.js';
import { LocalCluster } from '../support/cluster.js';
import { metricValue } from '../support/metrics.js';
import { eventually } from '../support/wait.js';

const JOB = (script: string) => `id: arch\nsteps:\n  - {name: run, type: execute-shell, params: {script: "${script}"}}\n`;

describe('finished builds are archived to the store', () => {
  let cluster: LocalCluster;
  let client: ApiClient;
  let api: BuildsApi;
  let coordinator: SqliteCoordinator;
  const finished = async (n: number) =>
    eventually(async () => {
      const b = await api.getBuild('arch', n);
      assert.ok(b.archived, `build ${n} is ${b.status}, archived ${b.archived}`);
      return b;
    }, 20_000);

  before(async () => {
    cluster = await LocalCluster.start(1, ['--log-level', 'warn']);
    cluster.startWorker(['--concurrency', '4', '--log-level', 'warn']);
    client = new ApiClient({ servers: cluster.urls });
    api = new BuildsApi(client);
    coordinator = new SqliteCoordinator({ path: join(cluster.dir, 'coordinator.db') });
  });
  after(async () => {
    await client.close();
    await coordinator.close();
    await cluster.stop();
  });

  it('moves a finished build out of the coordinator; show, list and console read it from the store', async () => {
    await api.applyJob('arch', JOB('echo archived output'), 'yaml');
    assert.equal((await api.listJobs()).jobs.find((j) => j.id === 'arch')?.lastBuild, null, 'no build yet');
    for (let i = 0; i < 3; i++) await api.trigger('arch');
    for (const n of [1, 2, 3]) assert.equal((await finished(n)).status, 'success');
    for (const n of [1, 2, 3]) assert.equal(await coordinator.getRecord(buildKey('arch', n)), null, `build ${n} left the coordinator`);
    const store = new FsStore({ root: join(cluster.dir, 'store') });
    assert.ok(await store.head(archiveKey('arch', 2)), 'the record is in the store');
    await store.close();
    const shown = await api.getBuild('arch', 2);
    assert.equal(shown.steps[0]?.status, 'success');
    assert.ok(shown.version > 1, 'the version it finished with is kept');
    assert.match(await api.console('arch', 2), /archived output/);
    assert.equal((await api.getBuild('arch', 'lastSuccessful')).number, 3);
    const listed = (await api.listJobs()).jobs.find((j) => j.id === 'arch');
    assert.deepEqual([listed?.lastBuild?.number, listed?.lastBuild?.status], [3, 'success'], 'the jobs list shows the archived last build');
  });

  it('lists newest first across running and archived builds, page by page', async () => {
    await api.applyJob('arch', JOB('sleep 30'), 'yaml');
    const running = (await api.trigger('arch')).build.number;
    await eventually(async () => assert.equal((await api.getBuild('arch', running)).status, 'running'), 20_000);
    assert.ok(await coordinator.getRecord(buildKey('arch', running)), 'an unfinished build stays in the coordinator');
    const listed = (await api.listJobs()).jobs.find((j) => j.id === 'arch');
    assert.deepEqual([listed?.lastBuild?.number, listed?.lastBuild?.status], [running, 'running'], 'the jobs list shows the running last build');
    const first = await api.listBuilds('arch', { limit: 2 });
    assert.deepEqual(first.builds.map((b) => [b.number, b.status]), [[4, 'running'], [3, 'success']]);
    assert.equal(first.next, 3);
    const second = await api.listBuilds('arch', { limit: 2, before: first.next! });
    assert.deepEqual(second.builds.map((b) => b.number), [2, 1]);
    assert.equal(second.next, null);
    assert.deepEqual((await api.listBuilds('arch', { limit: 1, before: 1 })).builds, []);
    // The first page reads the counter and the newest records together; a record above the
    // counter (a build created in between: here put by hand) sends it the long way, which
    // still finds the running build it pushed out of the listing's page.
    const ahead = await coordinator.putRecord(buildKey('arch', 99), { number: 99, status: 'queued' }, 0);
    assert.deepEqual((await api.listBuilds('arch', { limit: 1 })).builds.map((b) => [b.number, b.status]), [[4, 'running']]);
    await coordinator.deleteRecord(buildKey('arch', 99), ahead.version);
    // Unfinished builds only: the running one, from the coordinator alone.
    const unfinished = await api.listBuilds('arch', { status: 'unfinished' });
    assert.deepEqual(unfinished.builds.map((b) => [b.number, b.status]), [[4, 'running']]);
    assert.equal(unfinished.next, null);
    await assert.rejects(
      api.listBuilds('arch', { status: 'done' as 'unfinished' }),
      (err: unknown) => err instanceof ApiError && err.status === 400 && err.code === 'invalid_request',
    );
    // A cursor beyond the newest build starts at the newest, not at numbers that never existed.
    const beyond = await api.listBuilds('arch', { limit: 2, before: 1_000_000 });
    assert.deepEqual(beyond.builds.map((b) => b.number), [4, 3]);
    assert.equal(beyond.next, 3);
  });

  it('refuses to archive an unfinished build, archives a cancelled one, and repeats harmlessly', async () => {
    await assert.rejects(api.archiveBuild('arch', 4), (err: unknown) => err instanceof ApiError && err.status === 409 && err.code === 'conflict');
    assert.ok(await coordinator.getRecord(buildKey('arch', 4)), 'a refused archive changes nothing');
    await api.cancelBuild('arch', 4);
    assert.equal((await finished(4)).status, 'cancelled');
    await api.archiveBuild('arch', 4);
    await api.archiveBuild('arch', 1);
    assert.equal((await api.getBuild('arch', 4)).status, 'cancelled');
    await assert.rejects(api.archiveBuild('arch', 99), (err: unknown) => err instanceof ApiError && err.status === 404);
  });

  it('numbers keep counting from the coordinator after archiving', async () => {
    await api.applyJob('arch', JOB('true'), 'yaml');
    const next = (await api.trigger('arch')).build.number;
    assert.equal(next, 5);
    assert.equal((await finished(5)).status, 'success');
    assert.equal((await api.listBuilds('arch', { limit: 1 })).builds[0]?.number, 5);
  });

  it('numbers on after the job is deleted and made again: an archived record is never replaced, so a frontend reads it from the store once', async () => {
    const storeReads = () => metricValue(cluster.urls[0]!, 'distci_backend_call_seconds_count{backend="store",operation="getBuffer",outcome="ok"}');
    await api.deleteJob('arch');
    await api.applyJob('arch', JOB('echo second life'), 'yaml');
    const number = (await api.trigger('arch')).build.number;
    assert.equal(number, 6, 'build numbers are never handed out twice');
    assert.equal((await finished(6)).status, 'success');
    const before = await storeReads();
    for (let i = 0; i < 3; i++) assert.equal((await api.getBuild('arch', 6)).status, 'success');
    assert.equal((await api.listJobs()).jobs.find((j) => j.id === 'arch')?.lastBuild?.number, 6);
    assert.equal(await storeReads(), before, 'shows and the jobs list read the archived record from memory');
    assert.match(await api.console('arch', 6), /second life/);
  });
});
