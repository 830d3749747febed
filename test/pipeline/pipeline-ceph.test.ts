/**
 * The pipeline suite on the `s3://` store against a real Ceph RADOS Gateway (started by
 * scripts/ceph.sh): frontends started with `--store s3://BUCKET/PREFIX?endpoint=...` and
 * the keys in their environment, as a deployment runs them. The suite checks, behind the
 * frontends' backs, that the builds' objects are in the bucket under the prefix.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { freshBucket, sharedCeph } from '../support/ceph.js';
import { pipelineSuite } from './pipeline-suite.js';

const ceph = sharedCeph();
const bucket = freshBucket('pipeline');
const PREFIX = 'ci/pipelines';
let started = false;

after(async () => {
  // The frontends create the bucket when they start (S3Store.ready); if none started, there is none.
  if (started) await (await ceph.get()).removeBucket(bucket).catch((err: Error) => assert.equal(err.name, 'NoSuchBucket', err.message));
  await ceph.stop();
});

pipelineSuite('s3 store on Ceph RGW', async () => {
  const cluster = await ceph.get();
  started = true;
  return {
    frontendArgs: ['--store', cluster.storeUrl(bucket, PREFIX)],
    env: cluster.env(),
    keys: async (prefix) => {
      const s3 = cluster.client();
      const keys: string[] = [];
      for (let token: string | undefined; ; ) {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${PREFIX}/${prefix}`, ContinuationToken: token }));
        keys.push(...(page.Contents ?? []).map((o) => o.Key!.slice(PREFIX.length + 1)));
        if (!page.IsTruncated) break;
        token = page.NextContinuationToken;
      }
      return keys;
    },
  };
});
