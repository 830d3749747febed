/**
 * The `s3://BUCKET/PREFIX` store: object `a/b` is the S3 object `PREFIX/a/b` (an empty
 * PREFIX puts keys at the bucket's root). Works with Ceph RGW, MinIO and AWS S3; the
 * differences are settings (endpoint, region, path-style addressing).
 *
 * Why the contract holds on S3:
 * - all or nothing: S3 shows an object only once its PUT or CompleteMultipartUpload has
 *   finished, so readers see the old object or the new one, never part of one;
 * - create-only: `If-None-Match: *` on a single PUT is decided by the service, which
 *   answers 412 to every creator but one (see s3-upload.ts for bodies beyond one part);
 * - order: S3 lists in UTF-8 byte order, which is our key order (code points), and our
 *   `after` cursor is ListObjectsV2's StartAfter.
 */
import { Readable } from 'node:stream';
import { UnavailableError, ValidationError } from '../../core/errors.js';
import type { Body, ListOptions, ListPage, ObjectInfo, PutOptions, PutResult, Store, StoredObject } from '../contract.js';
import { MAX_LIST_LIMIT } from '../contract.js';
import { assertKey, assertPrefix, listLimit } from '../keys.js';
import { S3Calls, type S3ClientSettings } from './s3-client.js';
import { s3Error } from './s3-errors.js';
import { BodyFailure, upload, type UploadSettings } from './s3-upload.js';

export interface S3StoreOptions extends S3ClientSettings, Partial<UploadSettings> {
  /** Key prefix inside the bucket, e.g. `distci` (stored as `distci/`); '' for the whole bucket. */
  prefix: string;
}

const MiB = 1024 * 1024;
/** S3's minimum part size (all parts but the last). */
const MIN_PART_SIZE = 5 * MiB;
const DELETE_BATCH = MAX_LIST_LIMIT;

function isKey(key: string): boolean {
  try {
    assertKey(key);
    return true;
  } catch {
    return false;
  }
}

export class S3Store implements Store {
  readonly backend = 's3';
  /** `s3://bucket/prefix`, for messages and logs; never carries credentials. */
  readonly location: string;
  private readonly calls: S3Calls;
  private readonly root: string;
  private readonly upload: UploadSettings;
  private closed = false;
  /** Bodies handed out and not yet finished: close() waits for them before closing connections. */
  private readonly openBodies = new Set<Readable>();

  constructor(options: S3StoreOptions) {
    const prefix = options.prefix.replace(/^\/+|\/+$/g, '');
    if (prefix !== '') assertKey(prefix);
    this.root = prefix === '' ? '' : `${prefix}/`;
    this.location = `s3://${options.bucket}/${this.root}`;
    const partSize = options.partSize ?? 8 * MiB;
    if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE) {
      throw new ValidationError(`S3 part size ${partSize} is invalid: use at least 5 MiB, S3's minimum`, { field: 'partSize' });
    }
    this.upload = { partSize, partConcurrency: Math.max(1, options.partConcurrency ?? 4), ...(options.spoolDir ? { spoolDir: options.spoolDir } : {}) };
    this.calls = new S3Calls(options);
  }

  async ready(): Promise<void> {
    this.assertOpen();
    try {
      await this.calls.ensureBucket();
    } catch (err) {
      const translated = s3Error(err, { store: this.location, op: 'checking the bucket' });
      if (translated instanceof UnavailableError) throw translated;
      throw new UnavailableError(`store ${this.location} cannot be used: ${translated.message}`, { store: this.location });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.openBodies.size === 0) this.calls.destroy();
  }

  async put(key: string, body: Body, options: PutOptions = {}): Promise<PutResult> {
    const { signal } = options;
    try {
      this.assertOpen();
      assertKey(key);
      signal?.throwIfAborted();
      const request = { key: this.root + key, ifNoneMatch: options.ifNoneMatch === true, contentType: options.contentType, signal };
      const { size } = await upload(this.calls, this.upload, request, body);
      // No etag: RGW answers CompleteMultipartUpload without one, and the suite expects {key, size}.
      return { key, size };
    } catch (err) {
      if (body instanceof Readable && !body.destroyed) body.destroy();
      if (signal?.aborted) throw signal.reason;
      if (err instanceof BodyFailure) throw err.cause;
      throw s3Error(err, { store: this.location, op: 'put', key });
    }
  }

  async get(key: string): Promise<StoredObject> {
    this.check(key);
    let got: { body: Readable; size: number };
    try {
      got = await this.calls.getObject(this.root + key);
    } catch (err) {
      throw s3Error(err, { store: this.location, op: 'get', key });
    }
    this.openBodies.add(got.body);
    got.body.once('close', () => {
      this.openBodies.delete(got.body);
      if (this.closed && this.openBodies.size === 0) this.calls.destroy();
    });
    return got;
  }

  async getBuffer(key: string): Promise<Buffer> {
    this.check(key);
    try {
      const { body } = await this.calls.getObject(this.root + key);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (err) {
      throw s3Error(err, { store: this.location, op: 'get', key });
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    this.check(key);
    try {
      const head = await this.calls.headObject(this.root + key);
      return head === null ? null : { size: head.size, modifiedAt: head.modifiedAt };
    } catch (err) {
      throw s3Error(err, { store: this.location, op: 'head', key });
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    this.assertOpen();
    assertPrefix(prefix);
    const limit = listLimit(options.limit);
    const after = options.after;
    if (after !== undefined && typeof after !== 'string') {
      throw new ValidationError('list cursor `after` must be a string: pass the `next` of the previous page');
    }
    try {
      const page = await this.calls.listObjects(this.root + prefix, after ? this.root + after : undefined, limit);
      const keys = page.objects.map((o) => ({ key: o.key.slice(this.root.length), size: o.size }));
      const last = keys[keys.length - 1];
      // Objects whose names are not valid keys (written by other tools) are skipped, but the
      // cursor still moves past them.
      return { keys: keys.filter((k) => isKey(k.key)), next: page.truncated && last !== undefined ? last.key : null };
    } catch (err) {
      throw s3Error(err, { store: this.location, op: `list '${prefix}'` });
    }
  }

  async delete(key: string): Promise<void> {
    this.check(key);
    try {
      // S3 answers 204 for an absent key too, which makes retries safe.
      await this.calls.deleteObject(this.root + key);
    } catch (err) {
      throw s3Error(err, { store: this.location, op: 'delete', key });
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen();
    if (prefix === '') {
      throw new ValidationError('refusing to delete every object of the store: pass a non-empty prefix, e.g. "jobs/hello/"');
    }
    assertPrefix(prefix);
    let removed = 0;
    let after: string | undefined;
    try {
      for (;;) {
        const page = await this.calls.listObjects(this.root + prefix, after, DELETE_BATCH);
        const keys = page.objects.map((o) => o.key).filter((k) => isKey(k.slice(this.root.length)));
        if (keys.length > 0) {
          const failed = await this.calls.deleteObjects(keys);
          const first = failed[0];
          if (first !== undefined) {
            throw new UnavailableError(
              `deletePrefix '${prefix}' in store ${this.location} failed: ${failed.length} objects were not deleted (${first.code} for '${first.key.slice(this.root.length)}'); retry`,
              { store: this.location, cause: first.code },
            );
          }
          removed += keys.length;
        }
        const last = page.objects[page.objects.length - 1];
        if (!page.truncated || last === undefined) return removed;
        after = last.key;
      }
    } catch (err) {
      throw s3Error(err, { store: this.location, op: `deletePrefix '${prefix}'` });
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new UnavailableError(`the store ${this.location} is closed`, { store: this.location });
  }

  private check(key: string): void {
    this.assertOpen();
    assertKey(key);
  }
}
