import { join, resolve } from 'node:path';
import { ValidationError } from '../core/errors.js';
import type { Store } from './contract.js';
import { FsStore } from './fs/fs-store.js';
import { S3Store } from './s3/s3-store.js';
import { parseS3Url } from './s3/s3-url.js';

/** Default store URL for a data directory. */
export function defaultStoreUrl(dataDir: string): string {
  return `file:${join(resolve(dataDir), 'store')}`;
}

/**
 * Opens the store named by a URL: `file:PATH`, or
 * `s3://BUCKET/PREFIX?endpoint=http://host:7480&region=us-east-1&forcePathStyle=true` with
 * keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in `env`.
 */
export async function openStore(url: string, env: NodeJS.ProcessEnv = process.env): Promise<Store> {
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new ValidationError('store URL file: needs a directory, e.g. file:/var/lib/distci/store');
    if (path.startsWith('//')) {
      throw new ValidationError(`store URL '${url}' names a host; use file:/PATH or file:///PATH for a local or mounted directory`);
    }
    return new FsStore({ root: resolve(path) });
  }
  if (url.startsWith('s3://')) return new S3Store(parseS3Url(url, env));
  // The URL is not echoed: a mistyped one may carry credentials.
  throw new ValidationError(
    `store URL scheme '${url.split(':')[0] ?? ''}:' is not supported: use file:PATH or s3://BUCKET/PREFIX?endpoint=http://host:7480`,
  );
}
