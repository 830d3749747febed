import assert from 'node:assert/strict';
import { chmod, mkdir, rm, stat, symlink, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sameTree, snapshotTree, type SnapshotOptions } from '../../../src/worker/step/tree-snapshot.js';
import { tempDir } from '../../support/embedded.js';
import { writeTree } from './support.js';

describe('workspace tree snapshots (is a workspace unchanged after a step?)', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  before(async () => (tmp = await tempDir()));
  after(() => tmp.remove());

  async function tree(): Promise<string> {
    const dir = join(tmp.path, `t${n++}`, 'ws');
    await mkdir(dir, { recursive: true });
    await writeTree(dir, { 'a.txt': 'alpha', 'sub/b.txt': 'bravo', 'sub/deep/c.txt': 'charlie', 'link': { symlink: 'a.txt' } });
    return dir;
  }

  /** Snapshot, change, snapshot again the way a step's hand-off does. */
  async function unchangedAfter(change: (dir: string) => Promise<void>, opts: SnapshotOptions = {}): Promise<boolean> {
    const dir = await tree();
    const first = await snapshotTree(dir, dirname(dir), opts);
    await change(dir);
    const second = await snapshotTree(dir, dirname(dir), { ...opts, contentFor: first.racy });
    return sameTree(first, second);
  }

  it('sees a tree that was only read as unchanged, and counts its bytes', async () => {
    const dir = await tree();
    const first = await snapshotTree(dir, dirname(dir));
    assert.equal(first.bytes, 'alpha'.length + 'bravo'.length + 'charlie'.length);
    assert.deepEqual([...first.entries.keys()].sort(), ['a.txt', 'link', 'sub', 'sub/b.txt', 'sub/deep', 'sub/deep/c.txt']);
    assert.equal(await unchangedAfter(async () => undefined), true);
  });

  it('compares entries changed in the current clock tick ("racy") by content too, and still sees them unchanged when only read', async () => {
    const dir = await tree();
    const racy = await snapshotTree(dir, dirname(dir), { now: 0 });
    assert.deepEqual([...racy.racy].sort(), ['a.txt', 'link', 'sub', 'sub/b.txt', 'sub/deep', 'sub/deep/c.txt']);
    assert.equal(await unchangedAfter(async () => undefined, { now: 0 }), true);
  });

  it('sees a rewrite of the same size with the old mtime put back', async () => {
    const same = async (dir: string): Promise<void> => {
      const file = join(dir, 'sub/b.txt');
      const { atime, mtime } = await stat(file);
      await writeFile(file, 'BRAVO');
      await utimes(file, atime, mtime);
    };
    assert.equal(await unchangedAfter(same), false);
    assert.equal(await unchangedAfter(same, { now: 0 }), false);
  });

  it('sees new, removed and re-created files, a mode change and a symlink pointed elsewhere', async () => {
    assert.equal(await unchangedAfter((dir) => writeFile(join(dir, 'sub/new.txt'), '')), false, 'new empty file');
    assert.equal(await unchangedAfter((dir) => mkdir(join(dir, 'empty'))), false, 'new empty directory');
    assert.equal(await unchangedAfter((dir) => unlink(join(dir, 'sub/deep/c.txt'))), false, 'removed');
    assert.equal(await unchangedAfter((dir) => rm(join(dir, 'sub/deep'), { recursive: true })), false, 'removed directory');
    assert.equal(await unchangedAfter((dir) => chmod(join(dir, 'a.txt'), 0o755)), false, 'chmod');
    assert.equal(
      await unchangedAfter(async (dir) => {
        await unlink(join(dir, 'a.txt'));
        await writeFile(join(dir, 'a.txt'), 'alpha');
      }),
      false,
      're-created with the same content',
    );
    assert.equal(
      await unchangedAfter(async (dir) => {
        await unlink(join(dir, 'link'));
        await symlink('sub/b.txt', join(dir, 'link'));
      }),
      false,
      'symlink retargeted',
    );
  });
});
