import { join, resolve } from 'node:path';
import { ValidationError } from '../core/errors.js';
import type { Store } from './contract.js';
import { FsStore } from './fs/fs-store.js';

/** Default store URL for a data directory. */
export function defaultStoreUrl(dataDir: string): string {
  return `file:${join(resolve(dataDir), 'store')}`;
}

/** Opens the store named by a URL: `file:PATH` (or, later, `s3://BUCKET/PREFIX?...`). */
export async function openStore(url: string): Promise<Store> {
  if (url.startsWith('file:')) {
    const path = url.slice('file:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new ValidationError('store URL file: needs a directory, e.g. file:/var/lib/distci/store');
    if (path.startsWith('//')) {
      throw new ValidationError(`store URL '${url}' names a host; use file:/PATH or file:///PATH for a local or mounted directory`);
    }
    return new FsStore({ root: resolve(path) });
  }
  throw new ValidationError(
    `store URL '${url}' is not supported: use file:PATH (s3:// arrives with the S3 backend)`,
  );
}
