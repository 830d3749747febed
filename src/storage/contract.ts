/**
 * The object store contract, in CI terms. The store keeps everything that is too big or
 * too numerous for the coordinator: job configs, build records, console logs, artifacts
 * and workspaces. Every backend (`file:` directory, `s3://` bucket) implements it and
 * must pass `test/storage/store-suite.ts` unchanged.
 *
 * Glossary:
 * - key: a `/`-separated relative path naming one object, e.g. `jobs/hello/builds/7/console`.
 *   Checked by `assertKey` (src/storage/keys.ts); an object may share its name with the
 *   prefix of others (`builds/7` and `builds/7/console` coexist, as in S3).
 * - prefix: a plain string prefix of keys, as in S3. `builds/7` selects `builds/7`,
 *   `builds/7/console` and `builds/70`; end it with `/` to select one "folder" only.
 * - key order: Unicode code point order, which is the UTF-8 byte order S3 lists in
 *   (see `compareKeys`).
 *
 * Guarantees every backend gives:
 * - a put is all or nothing: a reader sees the previous object (or none) until the put
 *   completes, then the whole new object; never a partial one, even across machines.
 * - a create-only put (`ifNoneMatch`) is decided atomically by the backend: of any number
 *   of concurrent creators of a key, on any frontend, exactly one wins.
 * - calls fail with `UnavailableError` when the backend cannot serve them (disk full, I/O
 *   error, permissions, network); any other native error is translated into a
 *   `DistciError` in the backend, in one place. Keys are checked before any I/O, so an
 *   invalid key never writes anything.
 */
import type { Readable } from 'node:stream';

export type Body = Readable | Buffer | string;

export interface PutOptions {
  /**
   * Create only: fail with ConflictError if the key already exists. Build numbers,
   * console chunks and content-addressed blobs use it so that two writers never
   * replace each other's object.
   */
  ifNoneMatch?: boolean;
  /** Served back by backends that keep it (S3); the `file:` backend ignores it. */
  contentType?: string;
  /** Aborts a long upload; nothing is stored and the put rejects with the abort reason. */
  signal?: AbortSignal;
}

export interface PutResult {
  key: string;
  /** Bytes stored. */
  size: number;
  /** Backend-specific version tag when the backend has one (S3 ETag); opaque. */
  etag?: string;
}

export interface StoredObject {
  /** The object's bytes. Consume or destroy it: it holds an open file or connection. */
  body: Readable;
  size: number;
}

export interface ObjectInfo {
  size: number;
  /** Epoch milliseconds of the last completed put, by the backend's clock. */
  modifiedAt: number;
}

export interface ListOptions {
  /** Cursor: return only keys after this one in key order (the `next` of the previous page). */
  after?: string;
  /** At most this many keys per page; 1 to MAX_LIST_LIMIT, default MAX_LIST_LIMIT. */
  limit?: number;
}

export interface ListedKey {
  key: string;
  size: number;
}

export interface ListPage {
  /** Keys in key order. A page may hold fewer than `limit` keys and still not be the last. */
  keys: ListedKey[];
  /** Pass as `after` to get the next page; null when the listing is complete. */
  next: string | null;
}

export const MAX_LIST_LIMIT = 1000;

export interface Store {
  /** Backend name for logs and /readyz, e.g. `file` or `s3`. */
  readonly backend: string;

  /** Resolves when the store serves requests (creating its root if needed); rejects with UnavailableError otherwise. */
  ready(): Promise<void>;
  /** Ends the store; later calls reject with UnavailableError. Bodies already returned stay readable. */
  close(): Promise<void>;

  /**
   * Stores `body` under `key`, replacing any previous object atomically, or creating it
   * only if absent with `ifNoneMatch` (ConflictError when it exists). A streamed body is
   * consumed (and destroyed on failure).
   */
  put(key: string, body: Body, options?: PutOptions): Promise<PutResult>;
  /** Streams an object; NotFoundError when there is none. */
  get(key: string): Promise<StoredObject>;
  /** Reads a whole (small) object into memory; NotFoundError when there is none. */
  getBuffer(key: string): Promise<Buffer>;
  /** Size and time of an object, or null when there is none. */
  head(key: string): Promise<ObjectInfo | null>;
  /** One page of the keys starting with `prefix` (`''` for all), in key order. */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Removes an object; removing an absent one succeeds (retries are safe). */
  delete(key: string): Promise<void>;
  /**
   * Removes every object whose key starts with `prefix` (same matching as `list`) and
   * returns how many it removed. Objects written while it runs may survive. An empty
   * prefix is refused: wiping a whole store is not a CI operation.
   */
  deletePrefix(prefix: string): Promise<number>;
}
