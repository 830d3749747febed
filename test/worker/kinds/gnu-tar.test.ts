import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, link, mkdir, readdir, readFile, readlink, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gnuTarPack, hasGnuTar } from '../../../src/worker/step/gnu-tar.js';
import { snapshotTree } from '../../../src/worker/step/tree-snapshot.js';
import { unpackWorkspace } from '../../../src/worker/step/workspace.js';
import { tempDir } from '../../support/embedded.js';
import { writeTree } from './support.js';

describe('workspace archives packed by GNU tar', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  const fresh = async (): Promise<string> => {
    const dir = join(tmp.path, `x${n++}`, 'ws');
    await mkdir(dir, { recursive: true });
    return dir;
  };
  const pack = async (dir: string): Promise<Readable> => gnuTarPack(dir, [...(await snapshotTree(dir, dirname(dir))).entries.keys()]);
  before(async () => (tmp = await tempDir()));
  after(() => tmp.remove());

  it('is there on this worker', async () => {
    assert.equal(await hasGnuTar(), true);
  });

  it('round-trips through the checked extraction: modes, mtimes, symlinks, hardlinks, long names, names like options; FIFOs left out', async () => {
    const src = await fresh();
    const long = `${'d'.repeat(90)}/${'f'.repeat(120)}.txt`;
    await writeTree(src, {
      'a.txt': 'alpha',
      'bin/run.sh': '#!/bin/sh\necho hi\n',
      'node_modules/pkg/index.js': 'module.exports = 1;\n',
      'node_modules/.bin/pkg': { symlink: '../pkg/index.js' },
      '--checkpoint-action=exec=touch pwned': 'not an option',
      'line\nbreak.txt': 'newline in the name',
      [long]: 'long',
    });
    await link(join(src, 'a.txt'), join(src, 'hard.txt'));
    await chmod(join(src, 'bin/run.sh'), 0o755);
    const mtime = new Date('2020-01-02T03:04:05Z');
    await utimes(join(src, 'a.txt'), mtime, mtime);
    execFileSync('mkfifo', [join(src, 'pipe')]);
    const dest = await fresh();
    await unpackWorkspace(await pack(src), dest);
    assert.equal(await readFile(join(dest, 'a.txt'), 'utf8'), 'alpha');
    assert.equal(await readFile(join(dest, 'hard.txt'), 'utf8'), 'alpha');
    assert.equal((await stat(join(dest, 'bin/run.sh'))).mode & 0o111, 0o111);
    assert.equal((await stat(join(dest, 'a.txt'))).mtime.getTime(), mtime.getTime());
    assert.equal(await readlink(join(dest, 'node_modules/.bin/pkg')), '../pkg/index.js');
    assert.equal(await readFile(join(dest, '--checkpoint-action=exec=touch pwned'), 'utf8'), 'not an option');
    assert.equal(await readFile(join(dest, 'line\nbreak.txt'), 'utf8'), 'newline in the name');
    assert.equal(await readFile(join(dest, long), 'utf8'), 'long');
    await assert.rejects(stat(join(dest, 'pipe')), /ENOENT/);
    await assert.rejects(stat(join(src, 'pwned')), /ENOENT/);
  });

  it('packs an empty workspace as an archive the extraction accepts', async () => {
    const dest = await fresh();
    await unpackWorkspace(await pack(await fresh()), dest);
    assert.deepEqual(await readdir(dest), []);
  });

  it('fails the stream, never ends it cleanly, when tar cannot archive a listed path', async () => {
    const src = await fresh();
    await writeTree(src, { 'a.txt': 'alpha' });
    const stream = gnuTarPack(src, ['a.txt', 'vanished.txt']);
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) void chunk;
      })(),
      /tar failed \(2\).*vanished/,
    );
  });
});
