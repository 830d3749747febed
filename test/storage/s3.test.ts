/**
 * The `s3://` store against a real Ceph RADOS Gateway (started by scripts/ceph.sh): the
 * store contract unchanged, then what only S3 has: multipart uploads, bodies of unknown
 * length, create-only writes beyond one part, and where the objects live in the bucket.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { ConflictError, NotFoundError } from '../../src/core/errors.js';
import { S3Store } from '../../src/storage/s3/s3-store.js';
import { freshBucket, sharedCeph, type CephCluster } from '../support/ceph.js';
import { eventually } from '../support/wait.js';
import { handFedBody, readAll, storeContract } from './store-suite.js';

const MiB = 1024 * 1024;
const ceph = sharedCeph();
after(() => ceph.stop());

storeContract('s3 on Ceph RGW', async () => {
  const cluster = await ceph.get();
  const bucket = freshBucket('contract');
  return {
    open: async () => new S3Store(cluster.storeOptions(bucket, 'contract')),
    cleanup: () => cluster.removeBucket(bucket),
  };
});

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** `data` as a stream of slices of varying sizes, with no length anywhere. */
function unknownLength(data: Buffer): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0, n = 0; i < data.length; n++) {
        const size = [1, 4096, 65_536, 1 * MiB + 7][n % 4]!;
        yield data.subarray(i, i + size);
        i += size;
      }
    })(),
  );
}

describe('s3 store on Ceph RGW', () => {
  let cluster: CephCluster;
  let bucket: string;
  let store: S3Store;
  let n = 0;
  const fresh = (): string => `t${++n}/`;

  before(async () => {
    cluster = await ceph.get();
    bucket = freshBucket('s3');
    store = new S3Store(cluster.storeOptions(bucket, 'ci/v1'));
    await store.ready();
  });
  after(async () => {
    await store.close();
    await cluster.removeBucket(bucket);
  });

  const rawHead = (key: string) => cluster.client().send(new HeadObjectCommand({ Bucket: bucket, Key: `ci/v1/${key}` }));

  it('streams 64 MiB in through a multipart upload and out again, byte-identical', { timeout: 120_000 }, async (t) => {
    const key = `${fresh()}workspace.tar`;
    const data = randomBytes(64 * MiB);
    const slices = Array.from({ length: 64 }, (_, i) => data.subarray(i * MiB, (i + 1) * MiB));
    let started = performance.now();
    const put = await store.put(key, Readable.from(slices), { contentType: 'application/x-tar' });
    const upMs = performance.now() - started;
    assert.equal(put.size, data.length);
    const head = await rawHead(key);
    assert.match(head.ETag ?? '', /-8"?$/, 'eight 8 MiB parts');
    assert.equal(head.ContentType, 'application/x-tar');
    started = performance.now();
    const got = await store.get(key);
    assert.equal(got.size, data.length);
    const back = await readAll(got.body);
    const downMs = performance.now() - started;
    assert.equal(sha256(back), sha256(data));
    t.diagnostic(`64 MiB: up ${(64_000 / upMs).toFixed(0)} MiB/s, down ${(64_000 / downMs).toFixed(0)} MiB/s`);
  });

  it('stores bodies of unknown length, below one part, at a part boundary and above', { timeout: 60_000 }, async () => {
    const base = fresh();
    for (const size of [0, 3 * MiB + 1, 8 * MiB, 16 * MiB, 19 * MiB + 3]) {
      const data = randomBytes(size);
      assert.equal((await store.put(`${base}${size}`, unknownLength(data))).size, size);
      assert.equal(sha256(await store.getBuffer(`${base}${size}`)), sha256(data), `${size} bytes`);
    }
  });

  it('creates a body larger than one part only once: one of four concurrent creators wins, intact', { timeout: 60_000 }, async () => {
    const key = `${fresh()}artifact.bin`;
    const bodies = Array.from({ length: 4 }, () => randomBytes(10 * MiB));
    const outcomes = await Promise.allSettled(bodies.map((b) => store.put(key, unknownLength(b), { ifNoneMatch: true })));
    const winners = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    assert.equal(winners.length, 1);
    for (const o of outcomes) if (o.status === 'rejected') assert.ok(o.reason instanceof ConflictError, String(o.reason));
    assert.equal(sha256(await store.getBuffer(key)), sha256(bodies[winners[0]!]!));
    await assert.rejects(store.put(key, unknownLength(randomBytes(9 * MiB)), { ifNoneMatch: true }), ConflictError);
  });

  it('never shows a reader part of a multipart or create-only upload in progress', { timeout: 120_000 }, async () => {
    const base = fresh();
    const old = Buffer.alloc(MiB, 'o');
    await store.put(`${base}replaced`, old);
    for (const [name, ifNoneMatch] of [['replaced', false], ['created', true]] as const) {
      const key = `${base}${name}`;
      const feed = handFedBody();
      const putting = store.put(key, feed.body, { ifNoneMatch });
      for (let i = 0; i < 20; i++) {
        const pulled = feed.pulled();
        feed.push(Buffer.alloc(MiB, i));
        await pulled;
      }
      if (!ifNoneMatch) {
        // Parts are in the gateway: the upload is under way, not buffered in our process.
        const s3 = cluster.client();
        await eventually(async () => {
          const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `ci/v1/${key}` }));
          const upload = uploads.Uploads?.[0];
          assert.ok(upload);
          const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
          assert.ok((parts.Parts ?? []).length >= 1);
        }, 20_000, 100);
      }
      const seen = await store.getBuffer(key).catch((err: unknown) => err);
      if (ifNoneMatch) assert.ok(seen instanceof NotFoundError, 'no object yet');
      else assert.ok(Buffer.isBuffer(seen) && seen.equals(old), 'the whole old object');
      assert.equal((await store.head(key))?.size, ifNoneMatch ? undefined : old.length);
      assert.deepEqual((await store.list(key)).keys, ifNoneMatch ? [] : [{ key, size: old.length }]);
      feed.push(Buffer.alloc(3 * MiB, 'e'));
      feed.push(null);
      assert.equal((await putting).size, 23 * MiB);
      assert.equal((await store.head(key))?.size, 23 * MiB);
    }
  });

  it('leaves no object and no unfinished upload when a multipart put fails or is aborted', { timeout: 60_000 }, async () => {
    const base = fresh();
    const boom = new Error('runner died');
    const failing = Readable.from(
      (async function* () {
        for (let i = 0; i < 20; i++) yield Buffer.alloc(MiB, 'x');
        throw boom;
      })(),
    );
    await assert.rejects(store.put(`${base}failed`, failing), (err) => err === boom);
    const controller = new AbortController();
    const feed = handFedBody();
    const putting = store.put(`${base}aborted`, feed.body, { signal: controller.signal });
    for (let i = 0; i < 18; i++) {
      const pulled = feed.pulled();
      feed.push(Buffer.alloc(MiB, 'y'));
      await pulled;
    }
    const reason = new Error('build cancelled');
    controller.abort(reason);
    await assert.rejects(putting, (err) => err === reason);
    assert.deepEqual((await store.list(base)).keys, []);
    const uploads = await cluster.client().send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `ci/v1/${base}` }));
    assert.deepEqual(uploads.Uploads ?? [], []);
  });

  it('keeps objects under its prefix in the bucket and lists only valid keys of its own', async () => {
    const base = fresh();
    await store.put(`${base}builds/7/console`, 'log');
    const s3 = cluster.client();
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `ci/v1/${base}a//b`, Body: 'foreign' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `ci/v1-other/${base}x`, Body: 'other store' }));
    const raw = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `ci/v1/${base}` }));
    assert.deepEqual(raw.Contents?.map((o) => o.Key), [`ci/v1/${base}a//b`, `ci/v1/${base}builds/7/console`]);
    assert.deepEqual((await store.list(base)).keys, [{ key: `${base}builds/7/console`, size: 3 }]);
    assert.equal(await store.deletePrefix(base), 1);
    const other = new S3Store(cluster.storeOptions(bucket, 'ci/v1-other'));
    assert.equal((await other.getBuffer(`${base}x`)).toString(), 'other store');
    await other.close();
  });

  it('lets a body handed out before close be read to the end', async () => {
    const base = fresh();
    const data = randomBytes(4 * MiB);
    const other = new S3Store(cluster.storeOptions(bucket, 'ci/v1'));
    await other.put(`${base}obj`, data);
    const got = await other.get(`${base}obj`);
    await other.close();
    await assert.rejects(other.head(`${base}obj`), /closed/);
    assert.equal(sha256(await readAll(got.body)), sha256(data));
  });
});
