import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readHead } from '../../../src/worker/kinds/git-head.js';
import { tempDir } from '../../support/embedded.js';
import { writeTree } from './support.js';

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

describe("git-checkout reads the cloned commit from git's files", () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (tmp = await tempDir()));
  after(() => tmp.remove());

  it('agrees with git rev-parse on a branch (loose or packed ref) and a detached head', async () => {
    const repo = join(tmp.path, 'repo');
    await writeTree(repo, { 'a.txt': 'a' });
    git(repo, 'init', '-q', '-b', 'main');
    git(repo, 'add', '.');
    git(repo, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'one');
    assert.equal(await readHead(repo), git(repo, 'rev-parse', 'HEAD'), 'loose ref');
    git(repo, 'pack-refs', '--all');
    assert.equal(await readHead(repo), git(repo, 'rev-parse', 'HEAD'), 'packed ref');
    git(repo, 'checkout', '-q', '--detach');
    assert.equal(await readHead(repo), git(repo, 'rev-parse', 'HEAD'), 'detached');
  });

  it('gives up (null) where git must be asked: no .git directory, an unborn branch, a ref outside refs/heads', async () => {
    assert.equal(await readHead(join(tmp.path, 'nothing')), null);
    const unborn = join(tmp.path, 'unborn');
    await writeTree(unborn, { 'x': '' });
    git(unborn, 'init', '-q', '-b', 'main');
    assert.equal(await readHead(unborn), null);
    await writeTree(unborn, { '.git/HEAD': 'ref: refs/remotes/../../../etc/passwd\n' });
    assert.equal(await readHead(unborn), null);
  });
});
