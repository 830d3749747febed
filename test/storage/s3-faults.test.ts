/**
 * Store faults on a real Ceph RADOS Gateway: while the gateway is stopped every call fails
 * fast with a retryable `unavailable` error, and the same store works again once the
 * gateway is back; refused credentials say which variables to check, never their values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UnavailableError } from '../../src/core/errors.js';
import type { Store } from '../../src/storage/contract.js';
import { openStore } from '../../src/storage/open.js';
import { S3Store } from '../../src/storage/s3/s3-store.js';
import { freshBucket, sharedCeph, type CephCluster } from '../support/ceph.js';
import { eventually } from '../support/wait.js';

const ceph = sharedCeph();
after(() => ceph.stop());

function isRetryableUnavailable(err: unknown): boolean {
  assert.ok(err instanceof UnavailableError, `expected UnavailableError, got ${String(err)}`);
  assert.equal(err.code, 'unavailable');
  assert.equal(err.retryable, true);
  return true;
}

describe('s3 store faults on Ceph RGW', () => {
  let cluster: CephCluster;
  let bucket: string;

  before(async () => {
    cluster = await ceph.get();
    bucket = freshBucket('faults');
  });
  after(() => cluster.removeBucket(bucket));

  it('fails fast with retryable unavailable while the gateway is stopped, and recovers when it is back', { timeout: 120_000 }, async (t) => {
    const store = new S3Store(cluster.storeOptions(bucket, 'faults', { connectTimeoutMs: 1000, maxAttempts: 2 }));
    await store.ready();
    await store.put('before', 'stored before the outage');
    await cluster.stopGateway();
    try {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['put', () => store.put('during', 'x')],
        ['create-only put', () => store.put('during', 'x', { ifNoneMatch: true })],
        ['get', () => store.get('before')],
        ['getBuffer', () => store.getBuffer('before')],
        ['head', () => store.head('before')],
        ['list', () => store.list('')],
        ['delete', () => store.delete('before')],
        ['deletePrefix', () => store.deletePrefix('b')],
        ['ready', () => store.ready()],
      ];
      for (const [name, call] of calls) {
        const started = Date.now();
        await assert.rejects(call(), isRetryableUnavailable, name);
        const ms = Date.now() - started;
        assert.ok(ms < 5000, `${name} failed after ${ms} ms; it should fail within seconds`);
        t.diagnostic(`${name}: unavailable after ${ms} ms`);
      }
      const err = await store.head('before').catch((e: unknown) => e);
      assert.match((err as Error).message, /cannot reach the S3 endpoint \(ECONNREFUSED\).*gateway is running/);
    } finally {
      await cluster.startGateway();
    }
    // Pooled connections to the old gateway are dead; the store must not stay broken.
    await eventually(async () => assert.equal((await store.getBuffer('before')).toString(), 'stored before the outage'), 30_000, 200);
    await store.put('after', 'stored after the outage', { ifNoneMatch: true });
    assert.deepEqual((await store.list('')).keys.map((k) => k.key), ['after', 'before']);
    await store.close();
  });

  it('reports refused credentials as unavailable, naming the variables and not their values', async () => {
    const secret = 'wrong-secret-0123456789abcdefghijklmnopqr';
    const store = new S3Store(cluster.storeOptions(bucket, 'creds', { credentials: { accessKeyId: cluster.accessKeyId, secretAccessKey: secret } }));
    for (const call of [() => store.ready(), () => store.put('x', 'x'), () => store.list('')]) {
      const err = await call().catch((e: unknown) => e);
      assert.ok(err instanceof UnavailableError, String(err));
      assert.match(err.message, /refused our credentials \((SignatureDoesNotMatch|HTTP 403)\).*AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
      const shown = `${err.message} ${JSON.stringify(err.details)}`;
      assert.ok(!shown.includes(secret) && !shown.includes(cluster.accessKeyId), 'credentials are not shown');
    }
    await store.close();
  });

  it('opens an s3:// URL with keys from the environment and creates its bucket', async () => {
    const own = freshBucket('url');
    const store: Store = await openStore(`s3://${own}/distci/prod?endpoint=${cluster.endpoint}&region=${cluster.region}&forcePathStyle=true`, {
      AWS_ACCESS_KEY_ID: cluster.accessKeyId,
      AWS_SECRET_ACCESS_KEY: cluster.secretAccessKey,
    });
    assert.equal(store.backend, 's3');
    await store.ready();
    await store.put('jobs/hello/config.json', '{}', { ifNoneMatch: true });
    assert.equal((await store.getBuffer('jobs/hello/config.json')).toString(), '{}');
    assert.equal(await store.deletePrefix('jobs/'), 1);
    await store.close();
    await cluster.removeBucket(own);
  });
});
