/**
 * The store contract: every backend must pass this suite unchanged. `open()` returns a
 * new store instance sharing objects with the others of the same backend (what a second
 * frontend process would see). Each test writes under its own prefix of a run prefix, so
 * a shared bucket or directory is fine; everything is removed through the store's API.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from '../../src/core/errors.js';
import type { ListedKey, Store } from '../../src/storage/contract.js';

export interface StoreBackend {
  open(): Promise<Store>;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

const digest = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A stream of `data` in 64 KiB slices. */
function streamOf(data: Buffer): Readable {
  const slices: Buffer[] = [];
  for (let i = 0; i < data.length; i += 64 * 1024) slices.push(data.subarray(i, i + 64 * 1024));
  return Readable.from(slices);
}

/**
 * A body the test feeds by hand. `pulled()` resolves at the store's next request for
 * data: after `push(x)` and `await pulled()`, the store has taken `x`, and the chunk
 * before `x` has gone wherever the backend puts data in progress.
 */
export function handFedBody(): { body: Readable; push(chunk: Buffer | null): void; pulled(): Promise<void> } {
  let waiting: Array<() => void> = [];
  const body = new Readable({
    highWaterMark: 16 * 1024,
    read() {
      const wake = waiting;
      waiting = [];
      for (const resolve of wake) resolve();
    },
  });
  return {
    body,
    push: (chunk) => body.push(chunk),
    pulled: () => new Promise<void>((resolve) => waiting.push(resolve)),
  };
}

/** Every key under `prefix`, following `next` to the end. */
async function listAll(store: Store, prefix: string, limit?: number): Promise<{ keys: ListedKey[]; pages: number }> {
  const keys: ListedKey[] = [];
  let after: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await store.list(prefix, { after, limit });
    pages++;
    if (limit !== undefined) assert.ok(page.keys.length <= limit, `page of ${page.keys.length} keys exceeds limit ${limit}`);
    keys.push(...page.keys);
    if (page.next === null) return { keys, pages };
    after = page.next;
  }
}

const keysOf = (listed: ListedKey[], base: string): string[] => listed.map((k) => k.key.slice(base.length));

export function storeContract(name: string, makeBackend: () => Promise<StoreBackend>): void {
  describe(`store contract: ${name}`, () => {
    let backend: StoreBackend;
    let a: Store;
    let b: Store;
    const run = `store-suite-${randomBytes(4).toString('hex')}/`;
    let n = 0;
    /** A prefix no other test uses. */
    const fresh = (): string => `${run}t${++n}/`;

    before(async () => {
      backend = await makeBackend();
      a = await backend.open();
      b = await backend.open();
      await a.ready();
      await b.ready();
    });
    after(async () => {
      await a.deletePrefix(run);
      await a.close();
      await b.close();
      await backend.cleanup();
    });

    describe('writing and reading objects', () => {
      it('round-trips text, bytes and an empty object, and reports their sizes', async () => {
        const base = fresh();
        const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
        assert.deepEqual(await a.put(`${base}text`, 'héllo ✓'), { key: `${base}text`, size: Buffer.byteLength('héllo ✓') });
        assert.equal((await a.put(`${base}bytes`, bytes)).size, 256);
        assert.equal((await a.put(`${base}empty`, '')).size, 0);
        assert.equal((await b.getBuffer(`${base}text`)).toString(), 'héllo ✓');
        assert.ok((await b.getBuffer(`${base}bytes`)).equals(bytes));
        assert.equal((await b.getBuffer(`${base}empty`)).length, 0);
        const got = await b.get(`${base}bytes`);
        assert.equal(got.size, 256);
        assert.ok((await readAll(got.body)).equals(bytes));
      });

      it('streams a 5 MiB object in and out intact', async () => {
        const base = fresh();
        const data = randomBytes(5 * MiB);
        const put = await a.put(`${base}big.bin`, streamOf(data), { contentType: 'application/octet-stream' });
        assert.equal(put.size, data.length);
        const got = await b.get(`${base}big.bin`);
        assert.equal(got.size, data.length);
        assert.equal(digest(await readAll(got.body)), digest(data));
      });

      it('answers not_found for a missing object and null from head', async () => {
        const base = fresh();
        await assert.rejects(a.get(`${base}missing`), NotFoundError);
        await assert.rejects(a.getBuffer(`${base}missing`), (err: NotFoundError) => err.code === 'not_found');
        assert.equal(await a.head(`${base}missing`), null);
      });

      it('describes an object with head: size and a recent modification time', async () => {
        const base = fresh();
        await a.put(`${base}obj`, 'x'.repeat(1234));
        const info = await b.head(`${base}obj`);
        assert.ok(info);
        assert.equal(info.size, 1234);
        assert.ok(Number.isFinite(info.modifiedAt));
        assert.ok(Math.abs(info.modifiedAt - Date.now()) < 10 * 60_000, 'modifiedAt is within ten minutes of now');
      });

      it('replaces an object on a plain put, shorter content included', async () => {
        const base = fresh();
        await a.put(`${base}obj`, 'a much longer first version');
        await b.put(`${base}obj`, 'short');
        assert.equal((await a.getBuffer(`${base}obj`)).toString(), 'short');
        assert.equal((await a.head(`${base}obj`))?.size, 5);
      });

      it('lets an object and objects under its name coexist', async () => {
        const base = fresh();
        await a.put(`${base}builds/7`, 'record');
        await a.put(`${base}builds/7/console`, 'log');
        assert.equal((await a.getBuffer(`${base}builds/7`)).toString(), 'record');
        assert.equal((await a.getBuffer(`${base}builds/7/console`)).toString(), 'log');
        await a.delete(`${base}builds/7`);
        assert.equal((await a.getBuffer(`${base}builds/7/console`)).toString(), 'log');
        assert.equal(await a.head(`${base}builds/7`), null);
      });

      it('round-trips keys with unusual but valid characters', async () => {
        const base = fresh();
        const names = ['.hidden', '..dots', '%', '%2E', 'a%2F', 'sp ace', 'x:y*?"<>|', 'é', '～', '😀', '.tmp-x'];
        for (const name of names) await a.put(`${base}${name}/${name}`, name);
        for (const name of names) assert.equal((await b.getBuffer(`${base}${name}/${name}`)).toString(), name);
        assert.equal((await listAll(a, base)).keys.length, names.length);
      });
    });

    describe('create-only puts', () => {
      it('creates once, then refuses with conflict and keeps the first content', async () => {
        const base = fresh();
        assert.equal((await a.put(`${base}n`, 'first', { ifNoneMatch: true })).size, 5);
        await assert.rejects(b.put(`${base}n`, 'second', { ifNoneMatch: true }), (err: ConflictError) => {
          assert.ok(err instanceof ConflictError);
          assert.equal(err.code, 'conflict');
          return true;
        });
        assert.equal((await a.getBuffer(`${base}n`)).toString(), 'first');
        await a.delete(`${base}n`);
        await b.put(`${base}n`, 'again', { ifNoneMatch: true });
        assert.equal((await a.getBuffer(`${base}n`)).toString(), 'again');
      });

      it('lets exactly one of 20 concurrent creators on two instances win, intact', async () => {
        const base = fresh();
        const contents = Array.from({ length: 20 }, (_, i) => Buffer.from(`writer ${i};`.repeat(20_000)));
        const outcomes = await Promise.allSettled(
          contents.map((body, i) => (i % 2 ? a : b).put(`${base}number`, i % 4 < 2 ? body : streamOf(body), { ifNoneMatch: true })),
        );
        const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
        assert.equal(winners.length, 1, `exactly one creator wins, got ${winners.length}`);
        for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof ConflictError, String(o.reason));
        const stored = await a.getBuffer(`${base}number`);
        assert.equal(digest(stored), digest(contents[winners[0]!]!));
      });
    });

    describe('all or nothing', () => {
      it('shows readers the old object or none while a large put is in progress, never part of it', { timeout: 30_000 }, async () => {
        const base = fresh();
        const old = Buffer.alloc(300 * 1024, 'o');
        await a.put(`${base}replaced`, old);
        for (const key of [`${base}replaced`, `${base}created`]) {
          const feed = handFedBody();
          const started = feed.pulled();
          const putting = a.put(key, feed.body);
          await started;
          for (let i = 0; i < 4; i++) {
            const pulled = feed.pulled();
            feed.push(Buffer.alloc(256 * 1024, 'n'));
            await pulled;
          }
          const expectOld = key.endsWith('replaced');
          const seen = await b.getBuffer(key).catch((err: unknown) => err);
          if (expectOld) assert.ok(Buffer.isBuffer(seen) && seen.equals(old), 'a reader sees the whole old object');
          else assert.ok(seen instanceof NotFoundError, 'a reader sees no object');
          assert.equal((await b.head(key))?.size, expectOld ? old.length : undefined);
          assert.deepEqual(keysOf((await b.list(key)).keys, base), expectOld ? ['replaced'] : []);
          feed.push(Buffer.alloc(256 * 1024, 'n'));
          feed.push(null);
          assert.equal((await putting).size, 5 * 256 * 1024);
          const done = await b.getBuffer(key);
          assert.ok(done.equals(Buffer.alloc(5 * 256 * 1024, 'n')));
        }
      });

      it('stores nothing when the body stream fails, and rejects with its error', async () => {
        const base = fresh();
        const boom = new Error('client went away');
        const failing = Readable.from(
          (async function* () {
            yield Buffer.alloc(64 * 1024, 'x');
            throw boom;
          })(),
        );
        await assert.rejects(a.put(`${base}obj`, failing), (err) => err === boom);
        assert.equal(await a.head(`${base}obj`), null);
        assert.deepEqual((await a.list(base)).keys, []);
      });

      it('stores nothing when the put is aborted mid-stream', { timeout: 30_000 }, async () => {
        const base = fresh();
        const feed = handFedBody();
        const controller = new AbortController();
        const started = feed.pulled();
        const putting = a.put(`${base}obj`, feed.body, { signal: controller.signal });
        await started;
        const pulled = feed.pulled();
        feed.push(Buffer.alloc(64 * 1024, 'x'));
        await pulled;
        const reason = new Error('build cancelled');
        controller.abort(reason);
        await assert.rejects(putting, (err) => err === reason);
        assert.equal(await a.head(`${base}obj`), null);
        assert.deepEqual((await a.list(base)).keys, []);
      });
    });

    describe('listing', () => {
      it('lists by string prefix in code point order, with sizes', async () => {
        const base = fresh();
        const names = ['a/c', 'a/bc/x', 'a/b/x', 'a/b-c', 'a/b', 'b', '～', '😀', 'é', 'A', 'a b', 'a%2F'];
        for (const name of names) await a.put(`${base}${name}`, name);
        const all = await listAll(b, base);
        assert.deepEqual(keysOf(all.keys, base), ['A', 'a b', 'a%2F', 'a/b', 'a/b-c', 'a/b/x', 'a/bc/x', 'a/c', 'b', 'é', '～', '😀']);
        assert.deepEqual(all.keys.find((k) => k.key === `${base}a/b-c`)?.size, 5);
        const under = async (prefix: string): Promise<string[]> => keysOf((await listAll(b, `${base}${prefix}`)).keys, base);
        assert.deepEqual(await under('a/b'), ['a/b', 'a/b-c', 'a/b/x', 'a/bc/x'], "'a/b' matches like a string prefix");
        assert.deepEqual(await under('a/b/'), ['a/b/x'], "a prefix ending in '/' selects one folder only");
        assert.deepEqual(await under('a/bc'), ['a/bc/x']);
        assert.deepEqual(await under('a/b/x'), ['a/b/x'], 'a whole key is a prefix of itself');
        assert.deepEqual(await under('nothing/'), []);
        const byOne = await listAll(b, base, 1);
        assert.deepEqual(byOne.keys, all.keys, 'pages of one key walk the same order');
      });

      it('pages 25 keys by 10 into three pages without duplicates or gaps', async () => {
        const base = fresh();
        const expected = Array.from({ length: 25 }, (_, i) => (i % 5 === 0 ? `k${i + 10}` : `d${i % 4}/k${i + 10}`)).sort();
        await Promise.all(expected.map((name) => a.put(`${base}${name}`, name)));
        const first = await b.list(base, { limit: 10 });
        assert.equal(first.keys.length, 10);
        assert.equal(first.next, first.keys[9]?.key);
        const { keys, pages } = await listAll(b, base, 10);
        assert.equal(pages, 3);
        assert.deepEqual(keysOf(keys, base), expected);
      });

      it('resumes after any cursor, present as a key or not', async () => {
        const base = fresh();
        for (const name of ['a', 'b/1', 'b/2', 'c']) await a.put(`${base}${name}`, name);
        const after = async (cursor: string): Promise<string[]> => keysOf((await a.list(base, { after: cursor })).keys, base);
        assert.deepEqual(await after(`${base}b/1`), ['b/2', 'c']);
        assert.deepEqual(await after(`${base}b`), ['b/1', 'b/2', 'c']);
        assert.deepEqual(await after(`${base}b/3`), ['c']);
        assert.deepEqual(await after(''), ['a', 'b/1', 'b/2', 'c']);
        const end = await a.list(base, { after: `${base}c` });
        assert.deepEqual(end, { keys: [], next: null });
      });

      it('lists the whole store from the empty prefix', async () => {
        const base = fresh();
        await a.put(`${base}x`, 'x');
        const page = await a.list('', { after: base, limit: 1 });
        assert.deepEqual(page.keys.map((k) => k.key), [`${base}x`]);
      });

      it('rejects invalid prefixes and page sizes', async () => {
        for (const prefix of ['/abs', 'a//b', 'a/../b', '../', 'a\\b', 'nul\0']) {
          await assert.rejects(a.list(prefix), ValidationError, `prefix ${JSON.stringify(prefix)}`);
          await assert.rejects(a.deletePrefix(prefix), ValidationError, `prefix ${JSON.stringify(prefix)}`);
        }
        for (const limit of [0, -1, 1.5, Number.NaN]) await assert.rejects(a.list(fresh(), { limit }), ValidationError);
      });
    });

    describe('deleting', () => {
      it('deletes idempotently', async () => {
        const base = fresh();
        await a.put(`${base}obj`, 'x');
        await a.delete(`${base}obj`);
        await assert.rejects(b.get(`${base}obj`), NotFoundError);
        await b.delete(`${base}obj`);
        await b.delete(`${base}never-was`);
        assert.deepEqual((await a.list(base)).keys, []);
        await a.put(`${base}obj`, 'back');
        assert.equal((await b.getBuffer(`${base}obj`)).toString(), 'back');
      });

      it('deletes by prefix with the same matching as list, and counts', async () => {
        const base = fresh();
        for (const name of ['d/a', 'd/a/1', 'd/a/b/2', 'd/ab/3', 'd/b']) await a.put(`${base}${name}`, name);
        assert.equal(await b.deletePrefix(`${base}d/a/`), 2);
        assert.deepEqual(keysOf((await listAll(a, base)).keys, base), ['d/a', 'd/ab/3', 'd/b']);
        assert.equal(await b.deletePrefix(`${base}d/a`), 2);
        assert.deepEqual(keysOf((await listAll(a, base)).keys, base), ['d/b']);
        assert.equal(await b.deletePrefix(`${base}nothing/`), 0);
        await a.put(`${base}d/a/b/2`, 'again');
        assert.equal((await a.getBuffer(`${base}d/a/b/2`)).toString(), 'again');
      });

      it('deletes a large tree by prefix', async () => {
        const base = fresh();
        const names = Array.from({ length: 150 }, (_, i) => `ws/${i % 7}/${i % 3}/f${i}`);
        await Promise.all(names.map((name) => a.put(`${base}${name}`, name)));
        assert.equal(await a.deletePrefix(`${base}ws/`), 150);
        assert.deepEqual(await a.list(base), { keys: [], next: null });
      });

      it('refuses to delete the whole store', async () => {
        await assert.rejects(a.deletePrefix(''), ValidationError);
      });
    });

    describe('keys', () => {
      it('rejects every invalid key form, says what to fix, and writes nothing', async () => {
        const base = fresh();
        const bad = [
          '',
          '/abs',
          '..',
          '.',
          `${base}a//b`,
          `${base}a/../b`,
          `${base}./x`,
          `${base}a/./b`,
          `${base}a/.`,
          `${base}trailing/`,
          `${base}back\\slash`,
          `${base}nul\0`,
          `${base}new\nline`,
          `${base}tab\t`,
          `${base}del\x7f`,
          `${base}c1\u0085`,
          `${base}lone\ud800`,
          `${base}${'x'.repeat(1025)}`,
          `${base}${'s'.repeat(241)}`,
        ];
        for (const key of bad) {
          const why = `key ${JSON.stringify(key.slice(0, 60))}`;
          const invalid = (err: ValidationError): boolean => {
            assert.ok(err instanceof ValidationError, why);
            assert.equal(err.code, 'invalid_name', why);
            assert.match(err.message, /is invalid: .+/, why);
            return true;
          };
          await assert.rejects(a.put(key, 'x'), invalid);
          await assert.rejects(a.put(key, Readable.from([Buffer.from('x')]), { ifNoneMatch: true }), invalid);
          await assert.rejects(a.get(key), invalid);
          await assert.rejects(a.getBuffer(key), invalid);
          await assert.rejects(a.head(key), invalid);
          await assert.rejects(a.delete(key), invalid);
        }
        assert.deepEqual(await a.list(base), { keys: [], next: null });
      });
    });

    describe('lifecycle', () => {
      it('refuses calls after close with unavailable', async () => {
        const store = await backend.open();
        await store.ready();
        await store.close();
        await assert.rejects(store.put(`${fresh()}x`, 'x'), UnavailableError);
        await assert.rejects(store.get(`${fresh()}x`), UnavailableError);
        await assert.rejects(store.list(fresh()), UnavailableError);
      });
    });
  });
}
