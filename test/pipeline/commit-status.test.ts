/**
 * Commit status reporting end to end: webhook-triggered builds on real frontend and worker
 * processes report their start and result to a local GitHub / GitLab stand-in that checks
 * every request against the documented shapes. Forge outages (502) are retried, and a
 * final status whose POST outcome is unknown — the answer lost, or the reporting worker
 * SIGKILLed after the forge applied it — is still on the commit exactly once.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import { hmacSignature } from '../../src/core/webhooks/signatures.js';
import type { Ticket } from '../../src/core/ticket.js';
import { LocalCluster } from '../support/cluster.js';
import { FakeForge, type ForgeStatus } from '../support/fake-forge.js';
import { makeRepo } from '../support/git.js';
import { eventually } from '../support/wait.js';

const HOOK_SECRET = 'hook-secret-for-status-tests';
const FORGE_TOKEN = 'forge-token-do-not-leak-0123456789';
const ALL_KINDS = ['--kinds', 'build-control,commit-status,git-checkout,execute-shell'];

describe('commit status reporting', () => {
  let forge: FakeForge;
  let cluster: LocalCluster;
  let client: ApiClient;
  let api: BuildsApi;
  let tickets: TicketsApi;

  before(async () => {
    forge = await FakeForge.start(FORGE_TOKEN);
    cluster = await LocalCluster.start(1, ['--lease-ttl-ms', '1000', '--sweep-ms', '100', '--log-level', 'warn'], {
      APP_HOOK: HOOK_SECRET,
      DISTCI_SECRET_FORGE_TOKEN: FORGE_TOKEN,
    });
    client = new ApiClient({ servers: cluster.urls });
    api = new BuildsApi(client);
    tickets = new TicketsApi(client);
  });
  after(async () => {
    await client.close();
    await cluster.stop();
    await forge.close();
  });

  /** A repository of its own and jobs checking it out, so a push to it triggers only them. */
  async function setUp(name: string, jobs: { id: string; script: string; status: string }[]): Promise<{ repo: string; sha: string }> {
    const repo = join(cluster.dir, name);
    const sha = makeRepo(repo, { 'README.md': name });
    for (const job of jobs) {
      await api.applyJob(
        job.id,
        `
id: ${job.id}
triggers: {webhook: {secretEnv: APP_HOOK}}
steps:
  - {name: checkout, type: git-checkout, params: {repository: "${repo}", dir: src}}
  - {name: test, type: execute-shell, params: {script: "${job.script}"}}
status: ${job.status}
`,
        'yaml',
      );
    }
    return { repo, sha };
  }

  const github = (repo: string, sha: string, delivery: string) => {
    const body = JSON.stringify({ ref: 'refs/heads/main', after: sha, repository: { clone_url: repo } });
    return deliver('github', body, { 'x-github-event': 'push', 'x-github-delivery': delivery, 'x-hub-signature-256': hmacSignature(HOOK_SECRET, body) });
  };
  const gitlab = (repo: string, sha: string, delivery: string) => {
    const body = JSON.stringify({ object_kind: 'push', ref: 'refs/heads/main', after: sha, checkout_sha: sha, project: { git_http_url: repo } });
    return deliver('gitlab', body, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': delivery, 'x-gitlab-token': HOOK_SECRET });
  };
  async function deliver(path: string, body: string, headers: Record<string, string>): Promise<string[]> {
    const res = await fetch(`${cluster.urls[0]}/api/v1/webhooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    assert.equal(res.status, 202, await res.clone().text());
    return ((await res.json()) as { triggered: string[] }).triggered;
  }

  /** The job's commit-status tickets once both are done, start first. */
  async function reports(job: string): Promise<Ticket[]> {
    return eventually(async () => {
      const { tickets: list } = await tickets.list({ kind: 'commit-status', job });
      assert.equal(list.length, 2, `${job}: ${list.length} commit-status tickets`);
      assert.ok(list.every((t) => t.status === 'done'), `${job}: reports still running`);
      return list.sort((a, b) => (a.idempotencyKey ?? '').localeCompare(b.idempotencyKey ?? '')).reverse();
    }, 60_000, 50);
  }

  const states = (statuses: ForgeStatus[]) => statuses.map((s) => s.state);

  it('reports pending then the result on GitHub, retrying while the forge answers 502', async () => {
    const { repo, sha } = await setUp('gh-repo', [
      { id: 'gh-ok', script: 'true', status: `{provider: github, apiUrl: "${forge.url}", repository: acme/app, tokenSecret: FORGE_TOKEN}` },
      { id: 'gh-fail', script: 'exit 3', status: `{provider: github, apiUrl: "${forge.url}", repository: acme/app, tokenSecret: FORGE_TOKEN, context: ci/fail}` },
    ]);
    const worker = cluster.startWorker([...ALL_KINDS, '--worker-id', 'gh-worker']);
    forge.failNext(3);
    assert.deepEqual((await github(repo, sha, 'gh-delivery-1')).sort(), ['gh-fail#1', 'gh-ok#1']);
    const [okStart, okFinal] = await reports('gh-ok');
    await reports('gh-fail');
    assert.equal((await api.getBuild('gh-ok', 1)).status, 'success');
    assert.equal((await api.getBuild('gh-fail', 1)).status, 'failure');

    const ok = forge.of('distci/gh-ok');
    assert.deepEqual(states(ok), ['pending', 'success']);
    for (const s of ok) {
      assert.equal(s.repo, 'acme/app');
      assert.equal(s.sha, sha);
      assert.equal(s.targetUrl, `${cluster.urls[0]}/#/jobs/gh-ok/builds/1`);
    }
    assert.deepEqual(ok.map((s) => s.description), ['build #1 is running', 'build #1 succeeded']);
    assert.deepEqual(states(forge.of('ci/fail')), ['pending', 'failure']);
    assert.equal(forge.requests.filter((r) => r.answer === 502).length, 3, 'the first three requests failed');
    assert.deepEqual([okStart!.result?.outcome, okFinal!.result?.outcome], ['success', 'success']);
    assert.deepEqual(okFinal!.result?.data, { state: 'success' });
    assert.ok(!worker.stderr().includes(FORGE_TOKEN), 'the token is never logged');
    assert.ok(!JSON.stringify(await tickets.list({ kind: 'commit-status' })).includes(FORGE_TOKEN), 'nor in tickets');
    await worker.stop();
  });

  it('reports running then the result on GitLab (PRIVATE-TOKEN, project path in the URL, ref)', async () => {
    const { repo, sha } = await setUp('gl-repo', [
      { id: 'gl-ok', script: 'true', status: `{provider: gitlab, apiUrl: "${forge.url}/api/v4", repository: group/sub/app, tokenSecret: FORGE_TOKEN}` },
    ]);
    const worker = cluster.startWorker([...ALL_KINDS, '--worker-id', 'gl-worker']);
    assert.deepEqual(await gitlab(repo, sha, 'gl-delivery-1'), ['gl-ok#1']);
    await reports('gl-ok');
    const statuses = forge.of('distci/gl-ok');
    assert.deepEqual(states(statuses), ['running', 'success']);
    assert.ok(statuses.every((s) => s.repo === 'group/sub/app' && s.sha === sha && s.ref === 'main'));
    assert.ok(forge.requests.some((r) => r.path.startsWith('/api/v4/projects/group%2Fsub%2Fapp/statuses/') && r.answer === 201));
    await worker.stop();
  });

  it('posts the final status once when the answer to its POST is lost', async () => {
    const { repo, sha } = await setUp('lost-repo', [
      { id: 'lost-answer', script: 'true', status: `{provider: github, apiUrl: "${forge.url}", repository: acme/lost, tokenSecret: FORGE_TOKEN}` },
    ]);
    let dropped = 0;
    forge.postFate = (s) => (s.repo === 'acme/lost' && s.state === 'success' && dropped++ === 0 ? 'drop' : 'answer');
    const worker = cluster.startWorker([...ALL_KINDS, '--worker-id', 'lossy']);
    await github(repo, sha, 'lost-delivery-1');
    const [, final] = await reports('lost-answer');
    assert.equal(dropped, 1);
    assert.deepEqual(states(forge.of('distci/lost-answer')), ['pending', 'success']);
    assert.deepEqual(final!.result?.data, { state: 'success', skipped: 'already reported' });
    assert.equal(final!.attempt, 1, 'the same worker found its own status on the commit');
    await worker.stop();
  });

  it('posts the final status once when the reporting worker dies after the forge applied it', async () => {
    const { repo, sha } = await setUp('kill-repo', [
      { id: 'killed-reporter', script: 'true', status: `{provider: github, apiUrl: "${forge.url}", repository: acme/killed, tokenSecret: FORGE_TOKEN}` },
    ]);
    let held = 0;
    forge.postFate = (s) => (s.repo === 'acme/killed' && s.state === 'success' && held++ === 0 ? 'hold' : 'answer');
    const pipeline = cluster.startWorker(['--kinds', 'build-control,git-checkout,execute-shell', '--worker-id', 'pipeline']);
    const reporter = cluster.startWorker(['--kinds', 'commit-status', '--worker-id', 'doomed-reporter']);
    const applied = new Promise<void>((resolve) => forge.on('post', (s: ForgeStatus) => s.repo === 'acme/killed' && s.state === 'success' && resolve()));
    await github(repo, sha, 'kill-delivery-1');
    await applied;
    await reporter.kill();
    const survivor = cluster.startWorker(['--kinds', 'commit-status', '--worker-id', 'survivor-reporter']);
    const [, final] = await reports('killed-reporter');
    // The start report may skip itself when the one-line build finished first; the result is there once.
    assert.match(states(forge.of('distci/killed-reporter')).join(','), /^(pending,)?success$/);
    assert.equal(final!.attempt, 2, 'a second worker took the report over');
    assert.equal(final!.holder, 'survivor-reporter');
    assert.deepEqual(final!.result?.data, { state: 'success', skipped: 'already reported' });
    await Promise.all([pipeline.stop(), survivor.stop()]);
  });

  it('never lets a slow start report land after the result: the final report waits for it', async () => {
    const { repo, sha } = await setUp('slow-repo', [
      { id: 'slow-start', script: 'true', status: `{provider: github, apiUrl: "${forge.url}", repository: acme/slow, tokenSecret: FORGE_TOKEN}` },
    ]);
    forge.applyDelayMs = (s) => (s.repo === 'acme/slow' && s.state === 'pending' ? 3000 : 0);
    const worker = cluster.startWorker([...ALL_KINDS, '--worker-id', 'slow', '--concurrency', '2']);
    await github(repo, sha, 'slow-delivery-1');
    await eventually(async () => assert.equal((await api.getBuild('slow-start', 1)).status, 'success'), 30_000, 50);
    assert.deepEqual(states(forge.of('distci/slow-start')), [], 'the build finished while its start report was still on its way');
    await reports('slow-start');
    assert.deepEqual(states(forge.of('distci/slow-start')), ['pending', 'success']);
    await worker.stop();
  });
});
