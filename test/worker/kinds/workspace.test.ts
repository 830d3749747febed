import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readFile, readlink, readdir, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { StepFailure } from '../../../src/worker/step/failure.js';
import { packWorkspace, unpackWorkspace } from '../../../src/worker/step/workspace.js';
import { tempDir } from '../../support/embedded.js';
import { craftTar, writeTree, type RawEntry } from './support.js';

describe('workspace archives', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  const fresh = async (): Promise<string> => {
    const dir = join(tmp.path, `x${n++}`, 'ws');
    await mkdir(dir, { recursive: true });
    return dir;
  };
  before(async () => (tmp = await tempDir()));
  after(() => tmp.remove());

  /** Extracts a crafted archive and expects `unsafe_archive`. */
  async function refused(entries: RawEntry[], pattern: RegExp): Promise<string> {
    const dir = await fresh();
    await assert.rejects(unpackWorkspace(Readable.from(craftTar(entries)), dir), (err: unknown) => {
      assert.ok(err instanceof StepFailure, String(err));
      assert.equal(err.code, 'unsafe_archive');
      assert.equal(err.outcome, 'failure');
      assert.match(err.message, pattern);
      return true;
    });
    return dir;
  }

  it('round-trips files, directories, modes, mtimes and relative symlinks', async () => {
    const src = await fresh();
    await writeTree(src, {
      'a.txt': 'alpha',
      'bin/run.sh': '#!/bin/sh\necho hi\n',
      'node_modules/pkg/index.js': 'module.exports = 1;\n',
      'node_modules/.bin/pkg': { symlink: '../pkg/index.js' },
      '.hidden': 'dot',
    });
    await chmod(join(src, 'bin/run.sh'), 0o755);
    const mtime = new Date('2020-01-02T03:04:05Z');
    await utimes(join(src, 'a.txt'), mtime, mtime);
    const dest = await fresh();
    await unpackWorkspace(packWorkspace(src), dest);
    assert.equal(await readFile(join(dest, 'a.txt'), 'utf8'), 'alpha');
    assert.equal(await readFile(join(dest, '.hidden'), 'utf8'), 'dot');
    assert.equal((await stat(join(dest, 'bin/run.sh'))).mode & 0o111, 0o111);
    assert.equal((await stat(join(dest, 'a.txt'))).mtime.getTime(), mtime.getTime());
    assert.equal(await readlink(join(dest, 'node_modules/.bin/pkg')), '../pkg/index.js');
    assert.equal(await readFile(join(dest, 'node_modules/.bin/pkg'), 'utf8'), 'module.exports = 1;\n');
  });

  it("refuses an entry climbing out with '..' and writes nothing outside", async () => {
    const dir = await refused([{ path: 'ok.txt', body: 'fine' }, { path: '../escaped.txt', body: 'pwned' }], /'\.\.'/);
    assert.equal(existsSync(join(dir, '..', 'escaped.txt')), false);
  });

  it('refuses an entry with an absolute path', async () => {
    const target = join(tmp.path, 'absolute-target.txt');
    await refused([{ path: target, body: 'pwned' }], /absolute/);
    assert.equal(existsSync(target), false);
  });

  it('refuses a symlink to /etc, so a file "through" it is never written', async () => {
    const dir = await refused([{ path: 'etc', type: 'SymbolicLink', linkpath: '/etc' }, { path: 'etc/distci-pwned', body: 'pwned' }], /outside/);
    assert.equal(existsSync('/etc/distci-pwned'), false);
    assert.deepEqual(await readdir(dir), []);
  });

  it('refuses a relative symlink leading out, then a file through it', async () => {
    const outside = join(tmp.path, 'outside-dir');
    await mkdir(outside);
    const dir = await refused([{ path: 'out', type: 'SymbolicLink', linkpath: '../../outside-dir' }, { path: 'out/pwned', body: 'pwned' }], /outside/);
    assert.deepEqual(await readdir(outside), []);
    assert.equal(existsSync(join(dir, 'out')), false);
  });

  it('refuses a hardlink to a file outside the workspace', async () => {
    const secret = join(tmp.path, 'secret.txt');
    await writeTree(tmp.path, { 'secret.txt': 'keep out' });
    await refused([{ path: 'h', type: 'Link', linkpath: '../../secret.txt' }], /hardlink/);
    await refused([{ path: 'h', type: 'Link', linkpath: secret }], /hardlink/);
    assert.equal((await stat(secret)).nlink, 1, 'no link to the outside file was made');
  });

  it('refuses to extract through a symlink even when each link alone stays inside', async () => {
    // `a` -> `.` is inside; `a/b` -> `..` is lexically inside too, but really leaves the workspace.
    const dir = await refused([{ path: 'a', type: 'SymbolicLink', linkpath: '.' }, { path: 'a/b', type: 'SymbolicLink', linkpath: '..' }], /symbolic link/);
    assert.equal(existsSync(join(dir, 'b')), false);
  });

  it('refuses devices and FIFOs', async () => {
    await refused([{ path: 'pipe', type: 'FIFO' }], /unsupported/);
  });

  it('extracts later inputs over earlier ones', async () => {
    const first = await fresh();
    const second = await fresh();
    await writeTree(first, { 'shared.txt': 'first', 'only-first.txt': '1', link: { symlink: 'only-first.txt' } });
    await writeTree(second, { 'shared.txt': 'second', link: 'now a file' });
    const dest = await fresh();
    await unpackWorkspace(packWorkspace(first), dest);
    await unpackWorkspace(packWorkspace(second), dest);
    assert.equal(await readFile(join(dest, 'shared.txt'), 'utf8'), 'second');
    assert.equal(await readFile(join(dest, 'only-first.txt'), 'utf8'), '1', 'the link was replaced, not written through');
    assert.equal((await lstat(join(dest, 'link'))).isFile(), true);
  });

  it('packs a workspace holding a FIFO by leaving the FIFO out (tar would wait on it forever)', async () => {
    const src = await fresh();
    await writeTree(src, { 'kept.txt': 'kept' });
    execFileSync('mkfifo', [join(src, 'pipe')]);
    const dest = await fresh();
    await unpackWorkspace(packWorkspace(src), dest);
    assert.deepEqual(await readdir(dest), ['kept.txt']);
  });

  it('reports a damaged archive as an infrastructure error', async () => {
    const dir = await fresh();
    const good = craftTar([{ path: 'big.txt', body: 'x'.repeat(2000) }]);
    await assert.rejects(unpackWorkspace(Readable.from(good.subarray(0, 1024)), dir), (err: unknown) => {
      assert.ok(err instanceof StepFailure);
      assert.equal(err.code, 'workspace_corrupt');
      assert.equal(err.outcome, 'error');
      return true;
    });
  });
});
