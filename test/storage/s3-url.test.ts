import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError, DistciError, NotFoundError, UnavailableError, ValidationError } from '../../src/core/errors.js';
import { openStore } from '../../src/storage/open.js';
import { s3Error } from '../../src/storage/s3/s3-errors.js';
import { S3Store } from '../../src/storage/s3/s3-store.js';
import { parseS3Url } from '../../src/storage/s3/s3-url.js';

const keys = { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret-example' };

describe('s3:// store URLs', () => {
  it('reads bucket, prefix, endpoint, region and path style, with keys from the environment', () => {
    const options = parseS3Url('s3://distci/ci/prod/?endpoint=http://127.0.0.1:7480&region=eu-west-1&forcePathStyle=true', keys);
    assert.equal(options.bucket, 'distci');
    assert.equal(options.prefix, 'ci/prod');
    assert.equal(options.endpoint, 'http://127.0.0.1:7480');
    assert.equal(options.region, 'eu-west-1');
    assert.equal(options.forcePathStyle, true);
    assert.deepEqual(options.credentials, { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret-example' });
    assert.equal(options.partSize, 8 * 1024 * 1024);
  });

  it('defaults to path style, us-east-1 (or AWS_REGION) and the SDK credential chain', () => {
    const options = parseS3Url('s3://distci', { AWS_REGION: 'eu-north-1' });
    assert.equal(options.prefix, '');
    assert.equal(options.endpoint, undefined);
    assert.equal(options.region, 'eu-north-1');
    assert.equal(options.forcePathStyle, true);
    assert.equal(options.credentials, undefined);
    assert.equal(parseS3Url('s3://distci/x', {}).region, 'us-east-1');
    assert.equal(parseS3Url('s3://distci/x?forcePathStyle=false', {}).forcePathStyle, false);
  });

  it('refuses credentials in the URL, unknown parameters and bad buckets without echoing secrets', async () => {
    for (const url of [
      's3://AKID:topsecret@distci/x',
      's3://distci/x?endpont=http://h:1',
      's3://Distci_Bucket/x',
      's3://distci/x?endpoint=ftp://h',
      's3://distci/x?partSizeMiB=0',
      's3://distci/x?forcePathStyle=yes',
      's3://distci/a//b',
    ]) {
      await assert.rejects(openStore(url, keys), (err: ValidationError) => {
        assert.ok(err instanceof ValidationError, url);
        assert.ok(!err.message.includes('topsecret'), 'the secret is not echoed');
        return true;
      });
    }
    await assert.rejects(openStore('s3://distci/x', { AWS_ACCESS_KEY_ID: 'only-the-id' }), /set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
    await assert.rejects(openStore('ftp://user:pw@x'), (err: ValidationError) => !err.message.includes('pw') && /not supported/.test(err.message));
  });

  it('opens s3:// URLs as S3 stores without contacting the service', async () => {
    const store = await openStore('s3://distci/ci?endpoint=http://127.0.0.1:9', keys);
    assert.ok(store instanceof S3Store);
    assert.equal(store.location, 's3://distci/ci/');
    await store.close();
  });
});

describe('s3 error translation', () => {
  const ctx = { store: 's3://b/p/', op: 'put', key: 'a/b' };
  const sdk = (name: string, status: number | undefined, extra: Record<string, unknown> = {}): Error =>
    Object.assign(new Error(`${name} happened`), { name, ...(status === undefined ? {} : { $metadata: { httpStatusCode: status } }), ...extra });

  it('maps answers and network failures to our errors, in one place', () => {
    assert.ok(s3Error(sdk('NoSuchKey', 404), ctx) instanceof NotFoundError);
    assert.ok(s3Error(sdk('PreconditionFailed', 412), ctx) instanceof ConflictError);
    for (const err of [sdk('InternalError', 500), sdk('SlowDown', 503), sdk('Error', undefined, { code: 'ECONNREFUSED' }), sdk('TimeoutError', undefined)]) {
      const out = s3Error(err, ctx);
      assert.ok(out instanceof UnavailableError, err.name);
      assert.equal(out.retryable, true);
      assert.match(out.message, /'a\/b'/);
    }
    const denied = s3Error(sdk('AccessDenied', 403), ctx);
    assert.ok(denied instanceof UnavailableError);
    assert.match(denied.message, /AWS_SECRET_ACCESS_KEY/);
    assert.ok(s3Error(sdk('NoSuchBucket', 404), ctx) instanceof UnavailableError);
    assert.equal((s3Error(sdk('InvalidArgument', 400), ctx) as DistciError).code, 'internal');
    const ours = new ValidationError('x');
    assert.equal(s3Error(ours, ctx), ours);
  });
});
