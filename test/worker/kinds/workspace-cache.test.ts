import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { snapshotTree } from '../../../src/worker/step/tree-snapshot.js';
import { WorkspaceCache } from '../../../src/worker/step/workspace-cache.js';
import { tempDir } from '../../support/embedded.js';

describe('workspace cache', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (tmp = await tempDir()));
  after(() => tmp.remove());

  async function made(cache: WorkspaceCache, step: string, files: number): Promise<string> {
    const dir = cache.dirFor('app', 1, step, 1);
    await mkdir(dir, { recursive: true });
    for (let i = 0; i < files; i++) await writeFile(join(dir, `f${i}`), 'x');
    return dir;
  }

  it('hands the snapshot back with the directory, dropping the oldest snapshots past the entry budget', async () => {
    const cache = new WorkspaceCache(join(tmp.path, 'a'), { snapshotEntries: 5 });
    for (const step of ['one', 'two']) {
      const dir = await made(cache, step, 3);
      await cache.keep('app', 1, { step, attempt: 1 }, dir, await snapshotTree(dir, dirname(dir)));
    }
    const one = await cache.takeOver('app', 1, { step: 'one', attempt: 1 }, join(tmp.path, 'a-one'));
    const two = await cache.takeOver('app', 1, { step: 'two', attempt: 1 }, join(tmp.path, 'a-two'));
    assert.deepEqual(one, { snapshot: null }, 'the oldest snapshot went to stay within 5 entries');
    assert.equal(two?.snapshot?.entries.size, 3);
    assert.equal(await cache.takeOver('app', 1, { step: 'two', attempt: 1 }, join(tmp.path, 'again')), null, 'taken over once');
  });

  it('evicts the oldest workspace past the byte budget, keeping at least the newest', async () => {
    const cache = new WorkspaceCache(join(tmp.path, 'b'), { bytes: 4 });
    const dirs: string[] = [];
    for (const step of ['one', 'two']) {
      const dir = await made(cache, step, 3);
      dirs.push(dir);
      await cache.keep('app', 1, { step, attempt: 1 }, dir, await snapshotTree(dir, dirname(dir)));
    }
    assert.equal(cache.size, 1);
    assert.equal(existsSync(dirs[0]!), false);
    assert.equal(existsSync(dirs[1]!), true);
  });

  it('keeps one directory per stored workspace: a second copy of the same ref replaces the first', async () => {
    const cache = new WorkspaceCache(join(tmp.path, 'c'));
    const first = await made(cache, 'reader-a', 1);
    const second = await made(cache, 'reader-b', 1);
    const ref = { step: 'producer', attempt: 1 };
    await cache.keep('app', 1, ref, first, await snapshotTree(first, dirname(first)));
    await cache.keep('app', 1, ref, second, await snapshotTree(second, dirname(second)));
    assert.equal(cache.size, 1);
    assert.equal(existsSync(first), false);
    assert.ok(await cache.takeOver('app', 1, ref, join(tmp.path, 'c-taken')));
    assert.equal(existsSync(join(tmp.path, 'c-taken', 'f0')), true);
  });
});
