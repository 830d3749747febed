import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DistciError, NotFoundError, UnavailableError, ValidationError } from '../../src/core/errors.js';
import { fsError } from '../../src/storage/fs/fs-errors.js';
import { FsStore } from '../../src/storage/fs/fs-store.js';
import { objectPath } from '../../src/storage/fs/layout.js';
import { defaultStoreUrl, openStore } from '../../src/storage/open.js';
import { readAll, storeContract } from './store-suite.js';

storeContract('file: directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'distci-store-'));
  return {
    open: async () => new FsStore({ root: join(dir, 'store') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

/** Every path under `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.sort();
}

describe('file: store specifics', () => {
  let dir: string;
  let root: string;
  let store: FsStore;
  let n = 0;
  const freshRoot = (): string => join(dir, `s${++n}`);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'distci-fs-store-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const openFresh = async (): Promise<FsStore> => {
    root = freshRoot();
    store = new FsStore({ root });
    await store.ready();
    return store;
  };

  it('lays objects out as documented: prefix segments are directories ending in %2F', async () => {
    await openFresh();
    await store.put('builds/7', 'record');
    await store.put('builds/7/console', 'log');
    await store.put('.cfg/100%', 'x');
    assert.deepEqual(await tree(root), ['%2Ecfg%2F', '%2Ecfg%2F/100%25', 'builds%2F', 'builds%2F/7', 'builds%2F/7%2F', 'builds%2F/7%2F/console']);
  });

  it('does not list, read or count temp and other dot files', async () => {
    await openFresh();
    await store.put('j/a', 'a');
    const { dir: jobDir } = objectPath(root, 'j/x');
    await writeFile(join(jobDir, '.tmp-1234'), 'half a write');
    await writeFile(join(jobDir, '.nfs000000001'), 'silly rename');
    await writeFile(join(jobDir, 'not%ours'), 'foreign');
    assert.deepEqual((await store.list('j/')).keys, [{ key: 'j/a', size: 1 }]);
    assert.deepEqual((await store.list('')).keys, [{ key: 'j/a', size: 1 }]);
    await assert.rejects(store.get('j/.tmp-1234'), NotFoundError);
    assert.equal(await store.deletePrefix('j/'), 1);
  });

  it('leaves no visible object after a crash mid-write, and a later put succeeds', async () => {
    await openFresh();
    const { dir: jobDir } = objectPath(root, 'j/crashed');
    await mkdir(jobDir, { recursive: true });
    await writeFile(join(jobDir, '.tmp-0b8e4c1e-crashed'), 'partial cont');
    assert.equal(await store.head('j/crashed'), null);
    await assert.rejects(store.get('j/crashed'), NotFoundError);
    assert.deepEqual((await store.list('j/')).keys, []);
    await store.put('j/crashed', 'complete content', { ifNoneMatch: true });
    assert.equal((await store.getBuffer('j/crashed')).toString(), 'complete content');
  });

  it('leaves no temp file behind after successful, conflicting and failed puts', async () => {
    await openFresh();
    await store.put('k/a', 'one');
    await store.put('k/a', 'two');
    await store.put('k/b', 'one', { ifNoneMatch: true });
    await assert.rejects(store.put('k/b', 'two', { ifNoneMatch: true }));
    await assert.rejects(store.put('k/c', 'x', { signal: AbortSignal.abort() }));
    assert.deepEqual(await tree(root), ['k%2F', 'k%2F/a', 'k%2F/b']);
  });

  it('writes nothing to disk for invalid keys', async () => {
    await openFresh();
    for (const key of ['../escape', '/etc/passwd', 'a/../../x', 'a\\..\\x']) await assert.rejects(store.put(key, 'x'), ValidationError);
    assert.deepEqual(await tree(root), []);
    assert.deepEqual(await readdir(dir).then((names) => names.filter((name) => !name.startsWith('s'))), []);
  });

  it('removes directories emptied by delete and deletePrefix', async () => {
    await openFresh();
    await store.put('deep/a/b/c', 'x');
    await store.put('deep/a/keep', 'x');
    await store.delete('deep/a/b/c');
    assert.deepEqual(await tree(root), ['deep%2F', 'deep%2F/a%2F', 'deep%2F/a%2F/keep']);
    await store.deletePrefix('deep/');
    assert.deepEqual(await tree(root), []);
  });

  it('lands every put that races deletes emptying its directory', async () => {
    await openFresh();
    const other = new FsStore({ root });
    for (let i = 1; i <= 300; i++) {
      await Promise.all([store.put(`race/d/k${i}`, `v${i}`), other.delete(`race/d/k${i - 1}`)]);
      assert.equal((await store.getBuffer(`race/d/k${i}`)).toString(), `v${i}`);
    }
    assert.deepEqual((await store.list('race/')).keys, [{ key: 'race/d/k300', size: 4 }]);
  });

  it('keeps serving an open reader the old content when the object is replaced', async () => {
    await openFresh();
    await store.put('log', Buffer.alloc(1024 * 1024, 'o'));
    const reading = await store.get('log');
    await store.put('log', 'new');
    assert.ok((await readAll(reading.body)).equals(Buffer.alloc(1024 * 1024, 'o')));
    assert.equal((await store.getBuffer('log')).toString(), 'new');
  });

  it('creates its directory on ready and refuses a path that is a file', async () => {
    const fresh = freshRoot();
    await new FsStore({ root: join(fresh, 'nested') }).ready();
    assert.ok((await stat(join(fresh, 'nested'))).isDirectory());
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    await assert.rejects(new FsStore({ root: file }).ready(), UnavailableError);
  });

  it('reports an unwritable directory as unavailable', { skip: process.getuid?.() === 0 && 'root ignores permissions' }, async () => {
    await openFresh();
    await chmod(root, 0o500);
    try {
      await assert.rejects(store.put('x', 'x'), (err: UnavailableError) => err instanceof UnavailableError && /permission/.test(err.message));
      await assert.rejects(store.ready(), UnavailableError);
    } finally {
      await chmod(root, 0o700);
    }
  });

  it('translates native errors in one place, with a fix in the message', () => {
    const native = (code: string): Error => Object.assign(new Error(`${code}: boom`), { code, errno: -1, syscall: 'write' });
    const ctx = { root: '/data/store', op: 'put', key: 'a/b' };
    for (const [code, hint] of [
      ['ENOSPC', /free space/],
      ['EIO', /check the disk/],
      ['EACCES', /readable and writable/],
    ] as const) {
      const err = fsError(native(code), ctx);
      assert.ok(err instanceof UnavailableError, code);
      assert.equal(err.retryable, true);
      assert.match(err.message, hint);
      assert.match(err.message, /'a\/b'/);
    }
    assert.ok(fsError(native('ENAMETOOLONG'), ctx) instanceof ValidationError);
    assert.equal((fsError(native('EWHATEVER'), ctx) as DistciError).code, 'internal');
    const notNative = new Error('client went away');
    assert.equal(fsError(notNative, ctx), notNative);
  });
});

describe('openStore', () => {
  it('opens file: URLs as directory stores', async () => {
    const store = await openStore('file:/var/lib/distci/store');
    assert.ok(store instanceof FsStore);
    assert.equal(store.root, '/var/lib/distci/store');
    assert.equal(((await openStore('file:///srv/store')) as FsStore).root, '/srv/store');
    assert.equal(((await openStore('file:rel/store')) as FsStore).root, resolve('rel/store'));
  });

  it('rejects missing paths, hosts and unknown schemes with a clear message', async () => {
    await assert.rejects(openStore('file:'), ValidationError);
    await assert.rejects(openStore('file://host/x'), ValidationError);
    await assert.rejects(openStore('ftp://x'), ValidationError);
  });

  it('defaults to the store directory inside the data directory', () => {
    assert.equal(defaultStoreUrl('data'), `file:${resolve('data')}/store`);
  });
});
