import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiClient, ApiError } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { startTestFrontend, type TestFrontend } from '../support/embedded.js';

const HELLO = `
id: hello
description: says hello
parameters:
  WHO: {default: world, description: who to greet}
steps:
  - name: greet
    type: execute-shell
    params: {script: "echo hello $WHO"}
  - name: publish
    type: publish-artifacts
    params: {paths: ["*.txt"]}
`;

const rejects = (code: string, status: number) => (err: unknown) => {
  assert.ok(err instanceof ApiError, String(err));
  assert.equal(err.code, code);
  assert.equal(err.status, status);
  return true;
};

describe('jobs and builds API', () => {
  let fe: TestFrontend;
  let api: BuildsApi;
  let client: ApiClient;
  before(async () => {
    fe = await startTestFrontend();
    client = new ApiClient({ servers: [fe.url] });
    api = new BuildsApi(client);
  });
  after(async () => {
    await client.close();
    await fe.close();
  });

  it('applies a YAML job as version 1, then version 2, keeping each version as written', async () => {
    const first = await api.applyJob('hello', HELLO, 'yaml');
    assert.equal(first.created, true);
    assert.equal(first.job.version, 1);
    const second = await api.applyJob('hello', HELLO.replace('says hello', 'greets'), 'yaml');
    assert.equal(second.created, false);
    assert.equal(second.job.version, 2);
    assert.equal((await api.getJobVersion('hello', 1)).source, HELLO);
    const current = (await api.getJob('hello')) as { config: { description: string } };
    assert.equal(current.config.description, 'greets');
  });

  it('refuses an update based on a stale version (If-Match), so no write is silently lost', async () => {
    await assert.rejects(api.applyJob('hello', HELLO, 'yaml', { ifMatch: 1 }), rejects('conflict', 409));
    const ok = await api.applyJob('hello', HELLO, 'yaml', { ifMatch: 2 });
    assert.equal(ok.job.version, 3);
    await assert.rejects(api.applyJob('fresh', HELLO.replace('id: hello', 'id: fresh'), 'yaml', { ifMatch: 1 }), rejects('conflict', 409));
  });

  it('numbers versions on after a job is deleted and made again: an old version keeps its own config', async () => {
    const phoenix = (text: string) => HELLO.replace('id: hello', 'id: phoenix').replace('says hello', text);
    assert.equal((await api.applyJob('phoenix', phoenix('first life'), 'yaml')).job.version, 1);
    await api.deleteJob('phoenix');
    const again = await api.applyJob('phoenix', phoenix('second life'), 'yaml');
    assert.equal(again.created, true);
    assert.equal(again.job.version, 2);
    assert.match((await api.getJobVersion('phoenix', 1)).source, /first life/);
    assert.match((await api.getJobVersion('phoenix', 2)).source, /second life/);
    await api.deleteJob('phoenix');
  });

  it('points at the field when a config is invalid, and stores nothing', async () => {
    const bad = HELLO.replace('script: "echo hello $WHO"', 'scrpt: "echo"');
    await assert.rejects(api.applyJob('broken', bad.replace('id: hello', 'id: broken'), 'yaml'), (err: ApiError) => {
      assert.equal(err.status, 400);
      assert.match(err.message, /steps\[0\]\.params/);
      return true;
    });
    await assert.rejects(api.getJob('broken'), rejects('not_found', 404));
    await assert.rejects(api.applyJob('other-name', HELLO, 'yaml'), rejects('invalid_request', 400));
  });

  it('accepts the original DistCI JSON form', async () => {
    const original = JSON.stringify({ job_id: 'legacy', tasks: [{ type: 'execute-shell', params: { command: 'true' } }] });
    const { job } = await api.applyJob('legacy', original, 'json');
    assert.equal(job.version, 1);
  });

  it('lists and searches jobs with their last build', async () => {
    const all = await api.listJobs();
    assert.deepEqual(all.jobs.map((j) => j.id), ['hello', 'legacy']);
    const found = await api.listJobs({ q: 'SAYS' });
    assert.deepEqual(found.jobs.map((j) => j.id), ['hello']);
  });

  it('numbers 50 concurrent triggers 1..50 with no gap and no duplicate', async () => {
    await api.applyJob('burst', HELLO.replace('id: hello', 'id: burst'), 'yaml');
    const made = await Promise.all(Array.from({ length: 50 }, () => api.trigger('burst')));
    assert.deepEqual(made.map((m) => m.build.number).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
    const listed = await api.listBuilds('burst', { limit: 10 });
    assert.deepEqual(listed.builds.map((b) => b.number), [50, 49, 48, 47, 46, 45, 44, 43, 42, 41]);
    const next = await api.listBuilds('burst', { limit: 10, before: listed.next! });
    assert.equal(next.builds[0]!.number, 40);
    const controls = await fe.coordinator.list({ kind: 'build-control', job: 'burst', limit: 100 });
    assert.equal(controls.length, 50, 'each build has its build-control ticket');
  });

  it('returns the same build when a trigger is retried with its idempotency key', async () => {
    const first = await api.trigger('hello', { idempotencyKey: 'deploy-42', parameters: { WHO: 'you' } });
    const again = await api.trigger('hello', { idempotencyKey: 'deploy-42', parameters: { WHO: 'you' } });
    assert.equal(first.created, true);
    assert.equal(again.created, false);
    assert.equal(again.build.number, first.build.number);
    assert.deepEqual(first.build.parameters, { WHO: 'you' });
    assert.equal(first.build.configVersion, 3, 'a build records the config version it runs');
  });

  it('refuses unknown parameters and unknown jobs', async () => {
    await assert.rejects(api.trigger('hello', { parameters: { WHOM: 'x' } }), rejects('invalid_request', 400));
    await assert.rejects(api.trigger('nope'), rejects('not_found', 404));
    await assert.rejects(api.getBuild('hello', 999), rejects('not_found', 404));
  });

  it('records a cancel request on a queued build', async () => {
    const { build } = await api.trigger('hello');
    const cancelled = await api.cancelBuild('hello', build.number);
    assert.equal(cancelled.cancelRequested, true);
    assert.equal((await api.getBuild('hello', build.number)).cancelRequested, true);
  });
});
