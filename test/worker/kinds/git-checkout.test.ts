import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../support/embedded.js';
import { KindsHarness, stepPayload, writeTree } from './support.js';

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.org', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.org' };
const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8' }).trim();

/** A repository with main (2 commits, tag v1 on the first) and a feature branch. */
async function makeRepo(dir: string): Promise<{ c1: string; c2: string; c3: string }> {
  git(dir, 'init', '-q', '-b', 'main');
  await writeTree(dir, { 'version.txt': '1' });
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'one');
  const c1 = git(dir, 'rev-parse', 'HEAD');
  git(dir, 'tag', 'v1');
  await writeTree(dir, { 'version.txt': '2' });
  git(dir, 'commit', '-q', '-am', 'two');
  const c2 = git(dir, 'rev-parse', 'HEAD');
  git(dir, 'checkout', '-q', '-b', 'feature');
  await writeTree(dir, { 'version.txt': 'feature' });
  git(dir, 'commit', '-q', '-am', 'three');
  const c3 = git(dir, 'rev-parse', 'HEAD');
  git(dir, 'checkout', '-q', 'main');
  return { c1, c2, c3 };
}

describe('git-checkout', () => {
  let h: KindsHarness;
  let repoDir: Awaited<ReturnType<typeof tempDir>>;
  let repo: string;
  let commits: { c1: string; c2: string; c3: string };
  let n = 0;
  const checkout = async (params: Record<string, unknown>, more = {}) => {
    const step = `co${n++}`;
    const run = await h.run(stepPayload('git-checkout', step, { repository: repo, ...params }, more));
    return { ...run, dir: h.dirFor(step) };
  };
  const commitOf = (run: { result: { data?: unknown } }): string => (run.result.data as { commit: string }).commit;

  before(async () => {
    h = await KindsHarness.start();
    repoDir = await tempDir('distci-repo-');
    repo = repoDir.path;
    commits = await makeRepo(repo);
  });
  after(async () => {
    await h.close();
    await repoDir.remove();
  });

  it('clones the default branch of a local repository and records the commit', async () => {
    const run = await checkout({});
    assert.equal(run.result.outcome, 'success', run.console);
    assert.equal(commitOf(run), commits.c2);
    assert.equal(await readFile(join(run.dir, 'version.txt'), 'utf8'), '2');
    assert.match(run.console, new RegExp(`checked out ${commits.c2}`));
    // A local path without depth: git's local mode (the job config's default for local paths).
    assert.equal(git(run.dir, 'rev-parse', '--is-shallow-repository'), 'false');
    assert.doesNotMatch(run.console, /file:\/\//);
    // No git templates: no sample hooks travel with the workspace.
    assert.deepEqual(await readdir(join(run.dir, '.git')).then((names) => names.filter((n) => ['hooks', 'info', 'description'].includes(n))), []);
  });

  it('checks out a branch and a tag', async () => {
    const branch = await checkout({ ref: 'feature' });
    assert.equal(commitOf(branch), commits.c3);
    const tag = await checkout({ ref: 'v1', dir: 'src' });
    assert.equal(commitOf(tag), commits.c1);
    assert.equal(await readFile(join(tag.dir, 'src', 'version.txt'), 'utf8'), '1');
  });

  it('checks out a full commit sha, and an abbreviated one through a full fetch', async () => {
    const full = await checkout({ ref: commits.c1 });
    assert.equal(full.result.outcome, 'success', full.console);
    assert.equal(commitOf(full), commits.c1);
    assert.equal(existsSync(join(full.dir, '.git', 'hooks')), false, 'git init without templates');
    const short = await checkout({ ref: commits.c3.slice(0, 7) });
    assert.equal(short.result.outcome, 'success', short.console);
    assert.equal(commitOf(short), commits.c3);
    assert.match(short.console, /fetching all branches and tags/);
  });

  it('makes a shallow clone of a local path with depth (through file://)', async () => {
    const run = await checkout({ ref: 'main', depth: 1 });
    assert.equal(run.result.outcome, 'success', run.console);
    assert.equal(git(run.dir, 'rev-parse', '--is-shallow-repository'), 'true');
    assert.equal(git(run.dir, 'rev-list', '--count', 'HEAD'), '1');
    assert.match(run.console, /file:\/\//);
    const sha = await checkout({ ref: commits.c2, depth: 1 });
    assert.equal(commitOf(sha), commits.c2);
    assert.equal(git(sha.dir, 'rev-list', '--count', 'HEAD'), '1');
  });

  it("fails with git's own words when the ref does not exist", async () => {
    const run = await checkout({ ref: 'no-such-branch' });
    assert.equal(run.result.outcome, 'failure');
    assert.equal(run.result.code, 'git_failed');
    assert.match(run.result.message ?? '', /no-such-branch/);
    assert.match(run.console, /no-such-branch/);
  });

  it('refuses bad params', async () => {
    for (const params of [{ repository: '' }, { ref: '--upload-pack=touch /tmp/x' }, { dir: '../out' }, { depth: 0 }, { repository: '-oProxyCommand=x' }]) {
      const run = await checkout(params);
      assert.equal(run.result.code, 'bad_params', JSON.stringify(params));
    }
    const noSecret = await checkout({ credentialsSecret: 'GIT_TOKEN' });
    assert.equal(noSecret.result.code, 'bad_params');
  });

  it('sends credentials as an Authorization header, never in argv or the console', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(403).end('denied');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/repo.git`;
    h.api.secretValues = { GIT_TOKEN: 'ghp_TopSecretToken123' };
    try {
      const run = await h.run(stepPayload('git-checkout', 'auth', { repository: url, credentialsSecret: 'GIT_TOKEN' }, { secrets: ['GIT_TOKEN'] }));
      assert.equal(run.result.outcome, 'failure');
      const expected = `Basic ${Buffer.from('x-access-token:ghp_TopSecretToken123').toString('base64')}`;
      assert.ok(seen.some((headers) => headers.authorization === expected), JSON.stringify(seen));
      assert.ok(!run.console.includes('ghp_TopSecretToken123'));
      assert.ok(!run.console.includes(expected.slice(6)), run.console);
      assert.match(run.console, /\+ git clone -q --template= -- http:\/\/127\.0\.0\.1/);
      assert.ok(!(run.result.message ?? '').includes('TopSecret'));
    } finally {
      server.close();
      h.api.secretValues = {};
    }
  });
});
