/**
 * The forge adapters against the GitHub / GitLab stand-in: the requests distci sends are
 * the documented ones (the stand-in refuses anything else, as shown here), 5xx answers are
 * retried with backoff and 4xx ones are final.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { forgeFor, type Target } from '../../../src/worker/kinds/commit-status/forges.js';
import { DEFAULT_RETRY, ForgeRejected, send, withBackoff } from '../../../src/worker/kinds/commit-status/delivery.js';
import { FakeForge } from '../../support/fake-forge.js';

const TOKEN = 'forge-token-for-adapter-tests';
const SHA = 'b'.repeat(40);
const FAST = { ...DEFAULT_RETRY, baseBackoffMs: 5, maxBackoffMs: 20, giveUpAfterMs: 5000 };
const report = { state: 'running' as const, description: 'build #1 is running', targetUrl: 'http://ci.example/#/jobs/app/builds/1' };

describe('commit status forges', () => {
  let forge: FakeForge;
  const signal = new AbortController().signal;
  before(async () => {
    forge = await FakeForge.start(TOKEN);
  });
  after(() => forge.close());

  const target = (provider: 'github' | 'gitlab', over: Partial<Target> = {}): Target => ({
    config: { provider, apiUrl: provider === 'github' ? forge.url : `${forge.url}/api/v4`, tokenSecret: 'T', context: `ctx-${provider}` },
    repository: provider === 'github' ? 'acme/app' : 'group/app',
    commit: SHA,
    branch: 'main',
    token: TOKEN,
    ...over,
  });

  it('posts and lists GitHub statuses in the documented shape', async () => {
    const gh = forgeFor(target('github'));
    await send(gh.post(report), FAST, signal);
    const listed = gh.parseList(await send(gh.list(), FAST, signal));
    assert.deepEqual(listed, [{ name: 'ctx-github', state: 'pending', targetUrl: report.targetUrl }]);
  });

  it('posts and lists GitLab statuses, and GitLab refuses the same running state twice', async () => {
    const gl = forgeFor(target('gitlab'));
    await send(gl.post(report), FAST, signal);
    assert.deepEqual(gl.parseList(await send(gl.list(), FAST, signal)), [{ name: 'ctx-gitlab', state: 'running', targetUrl: report.targetUrl }]);
    await assert.rejects(send(gl.post(report), FAST, signal), (err: unknown) => err instanceof ForgeRejected && err.status === 400 && /Cannot transition/.test(err.message));
  });

  it('the stand-in refuses wrong tokens, headers and bodies as the forges do, and no message carries the token', async () => {
    const wrong = forgeFor(target('github', { token: 'not-the-token' }));
    await assert.rejects(send(wrong.post(report), FAST, signal), (err: unknown) => err instanceof ForgeRejected && err.status === 401 && !err.message.includes('not-the-token'));
    const gh = forgeFor(target('github')).post(report);
    const { accept: _accept, ...noAccept } = gh.headers;
    await assert.rejects(send({ ...gh, headers: noAccept }, FAST, signal), (err: unknown) => err instanceof ForgeRejected && err.status === 415);
    await assert.rejects(send({ ...gh, body: JSON.stringify({ state: 'running' }) }, FAST, signal), (err: unknown) => err instanceof ForgeRejected && err.status === 422);
    await assert.rejects(send({ ...gh, body: JSON.stringify({ state: 'success', colour: 'red' }) }, FAST, signal), (err: unknown) => err instanceof ForgeRejected && err.status === 422);
    const gl = forgeFor(target('gitlab')).post(report);
    await assert.rejects(send({ ...gl, body: JSON.stringify({ state: 'failure' }) }, FAST, signal), (err: unknown) => err instanceof ForgeRejected && err.status === 400);
    const { 'private-token': _token, ...noToken } = gl.headers;
    await assert.rejects(send({ ...gl, headers: noToken }, FAST, signal), (err: unknown) => err instanceof ForgeRejected && err.status === 401);
  });

  it('retries 5xx answers with backoff until accepted, and gives up at once on a 4xx', async () => {
    const gh = forgeFor(target('github', { commit: 'c'.repeat(40) }));
    forge.failNext(3, 503);
    const retries: number[] = [];
    await withBackoff(() => send(gh.post({ ...report, state: 'success' }), FAST, signal), FAST, signal, (_err, waitMs) => retries.push(waitMs));
    assert.equal(retries.length, 3);
    assert.deepEqual(gh.parseList(await send(gh.list(), FAST, signal)).map((s) => s.state), ['success']);
    let tries = 0;
    const bad = forgeFor(target('github', { repository: 'acme/app', token: 'wrong' }));
    await assert.rejects(withBackoff(() => (tries++, send(bad.list(), FAST, signal)), FAST, signal, () => undefined), ForgeRejected);
    assert.equal(tries, 1);
  });
});
