import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ApiClient } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { stepTicket } from '../../src/core/builds/tickets.js';
import { hmacSignature } from '../../src/core/webhooks/signatures.js';
import { startTestFrontend, type TestFrontend } from '../support/embedded.js';

const SECRET = 'webhook-secret-for-tests';
const SHA = 'a'.repeat(40);

const job = (id: string, extra = '') => `
id: ${id}
triggers: {webhook: {secretEnv: APP_HOOK, branches: [main]}}${extra}
steps:
  - {name: checkout, type: git-checkout, params: {repository: "https://github.com/Acme/App.git", ref: main}}
  - {name: test, type: execute-shell, params: {script: "make test"}}
`;

function githubPush(branch: string, commit = SHA) {
  return {
    ref: `refs/heads/${branch}`,
    after: commit,
    repository: { clone_url: 'https://github.com/acme/app.git', ssh_url: 'git@github.com:acme/app.git', html_url: 'https://github.com/acme/app' },
  };
}

describe('webhooks', () => {
  let fe: TestFrontend;
  let api: BuildsApi;
  let client: ApiClient;
  before(async () => {
    fe = await startTestFrontend({ env: { APP_HOOK: SECRET } });
    client = new ApiClient({ servers: [fe.url] });
    api = new BuildsApi(client);
    await api.applyJob('app', job('app'), 'yaml');
    await api.applyJob('no-hooks', job('no-hooks').replace(/triggers:.*\n/, ''), 'yaml');
  });
  after(async () => {
    await client.close();
    await fe.close();
  });

  async function post(path: string, body: unknown, headers: Record<string, string>) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const res = await request(`${fe.url}/api/v1/webhooks/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
    return { status: res.statusCode, body: (await res.body.json()) as { triggered?: string[]; skipped?: string[]; error?: { code: string } } };
  }
  const github = (event: string, body: unknown, delivery: string, secret = SECRET) =>
    post('github', body, { 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': hmacSignature(secret, JSON.stringify(body)) });
  const buildCount = async (name: string) => (await api.listBuilds(name)).builds.length;

  it('builds the pushed commit of the jobs that check out the repository and accept webhooks', async () => {
    const res = await github('push', githubPush('main'), 'delivery-1');
    assert.equal(res.status, 202);
    assert.deepEqual(res.body.triggered, ['app#1']);
    const build = await api.getBuild('app', 1);
    assert.equal(build.trigger.kind, 'webhook');
    assert.deepEqual(build.revision, { repository: 'https://github.com/acme/app.git', branch: 'main', commit: SHA });
    const checkout = stepTicket(build, build.plan[0]!);
    assert.equal((checkout.payload as { params: { ref: string } }).params.ref, SHA, 'the checkout step builds the pushed commit');
    assert.equal((checkout.payload as { env: Record<string, string> }).env.DISTCI_COMMIT, SHA);
    assert.equal(await buildCount('no-hooks'), 0);
  });

  it('builds nothing new when the same delivery comes again', async () => {
    const again = await github('push', githubPush('main'), 'delivery-1');
    assert.deepEqual(again.body.triggered, ['app#1']);
    assert.equal(await buildCount('app'), 1);
  });

  it('refuses a bad or missing signature with 401 and triggers nothing', async () => {
    const bad = await github('push', githubPush('main', 'b'.repeat(40)), 'delivery-2', 'not-the-secret');
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error?.code, 'unauthorized');
    const missing = await post('github', githubPush('main'), { 'x-github-event': 'push', 'x-github-delivery': 'delivery-3' });
    assert.equal(missing.status, 401);
    const tampered = JSON.stringify(githubPush('main', 'c'.repeat(40)));
    const forged = await post('github', tampered, { 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(SECRET, JSON.stringify(githubPush('main'))) });
    assert.equal(forged.status, 401);
    assert.equal(await buildCount('app'), 1);
  });

  it('skips jobs whose branch filter does not match', async () => {
    const res = await github('push', githubPush('feature/x'), 'delivery-4');
    assert.equal(res.status, 202);
    assert.deepEqual(res.body.triggered, []);
    assert.deepEqual(res.body.skipped, ['app']);
  });

  it('builds pull requests against a matching target branch, with the PR number', async () => {
    const pr = {
      action: 'opened',
      number: 42,
      pull_request: { head: { sha: 'd'.repeat(40) }, base: { ref: 'main' } },
      repository: { clone_url: 'https://github.com/acme/app.git' },
    };
    const res = await github('pull_request', pr, 'delivery-5');
    assert.deepEqual(res.body.triggered, ['app#2']);
    assert.equal((await api.getBuild('app', 2)).revision?.pr, 42);
  });

  it('answers a ping and ignores events that build nothing', async () => {
    assert.equal((await github('ping', { zen: 'hi' }, 'delivery-6')).status, 200);
    const deletion = await github('push', { ...githubPush('main'), after: '0'.repeat(40) }, 'delivery-7');
    assert.deepEqual(deletion.body.triggered, []);
  });

  it('accepts GitLab pushes with the right token, and refuses a wrong one', async () => {
    const body = {
      ref: 'refs/heads/main',
      checkout_sha: 'e'.repeat(40),
      project: { git_http_url: 'https://GITHUB.com/acme/app', git_ssh_url: 'git@github.com:acme/app.git' },
    };
    const wrong = await post('gitlab', body, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'nope' });
    assert.equal(wrong.status, 401);
    const ok = await post('gitlab', body, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'gl-1' });
    assert.deepEqual(ok.body.triggered, ['app#3']);
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await post('github', '{"ref":', { 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(SECRET, '{"ref":') });
    assert.equal(res.status, 400);
    assert.equal(res.body.error?.code, 'malformed_json');
  });
});
