/**
 * The `file:PATH` store: objects are files under one directory, which may be a local disk
 * or a CephFS/NFS mount shared by several frontends (layout in ./layout.ts).
 *
 * Why writes are safe across machines: every put writes a temp file with a unique name
 * next to its target, fsyncs it, then publishes it in one atomic step: `rename` to
 * replace, or `link` to create only, which fails with EEXIST on the server if the name
 * exists, so of N concurrent creators on any number of machines exactly one wins.
 * Readers open the final name only, so they see the old file or the new one, never a
 * partial one; an open reader keeps its file even when it is replaced meanwhile.
 */
import { constants } from 'node:fs';
import { access, link, mkdir, open, readFile, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { ConflictError, NotFoundError, UnavailableError, ValidationError } from '../../core/errors.js';
import type { Body, ListOptions, ListPage, ObjectInfo, PutOptions, PutResult, Store, StoredObject } from '../contract.js';
import { assertKey, assertPrefix, listLimit } from '../keys.js';
import { errnoCode, fsError } from './fs-errors.js';
import { keysUnder, listPage, type Candidate } from './fs-list.js';
import { BodyFailure, chunksOf, syncDir, writeAll } from './fs-write.js';
import { objectPath, tempPath } from './layout.js';

export interface FsStoreOptions {
  /** The store's directory; every process given the same directory is one store. */
  root: string;
}

/** How often a put retries when a concurrent delete removes the (empty) directory it is writing into. */
const DIR_RACE_RETRIES = 8;
const DELETE_BATCH = 32;

function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export class FsStore implements Store {
  readonly backend = 'file';
  readonly root: string;
  private closed = false;

  constructor(options: FsStoreOptions) {
    this.root = resolve(options.root);
  }

  async ready(): Promise<void> {
    this.assertOpen();
    try {
      await mkdir(this.root, { recursive: true });
      if (!(await stat(this.root)).isDirectory()) {
        throw new UnavailableError(`store path ${this.root} is not a directory: point file: at a directory`, { root: this.root });
      }
      await access(this.root, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      const translated = fsError(err, { root: this.root, op: 'opening the store' });
      if (translated instanceof UnavailableError) throw translated;
      throw new UnavailableError(
        `store directory ${this.root} cannot be used (${errnoCode(err) ?? String(err)}): point file: at a writable directory`,
        { root: this.root },
      );
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async put(key: string, body: Body, options: PutOptions = {}): Promise<PutResult> {
    let temp: string | undefined;
    try {
      this.assertOpen();
      assertKey(key);
      options.signal?.throwIfAborted();
      // Wakes a put that waits on a stalled body when the caller gives up.
      if (options.signal && body instanceof Readable) addAbortSignal(options.signal, body);
      const { dir, file } = objectPath(this.root, key);
      const opened = await this.openTemp(dir);
      temp = opened.path;
      let size = 0;
      try {
        for await (const chunk of chunksOf(body)) {
          options.signal?.throwIfAborted();
          await writeAll(opened.handle, chunk);
          size += chunk.length;
        }
        await opened.handle.sync();
      } finally {
        await opened.handle.close();
      }
      options.signal?.throwIfAborted();
      if (options.ifNoneMatch) {
        await this.linkNew(temp, file, key);
      } else {
        await rename(temp, file);
        temp = undefined;
      }
      await syncDir(dir);
      return { key, size };
    } catch (err) {
      if (body instanceof Readable && !body.destroyed) body.destroy();
      if (options.signal?.aborted) throw options.signal.reason;
      throw fsError(err instanceof BodyFailure ? err.cause : err, { root: this.root, op: 'put', key });
    } finally {
      if (temp !== undefined) await unlink(temp).catch(() => undefined);
    }
  }

  async get(key: string): Promise<StoredObject> {
    const file = this.fileOf(key);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (err) {
      throw isMissing(err) ? new NotFoundError('object', key) : fsError(err, { root: this.root, op: 'get', key });
    }
    try {
      const { size } = await handle.stat();
      return { body: handle.createReadStream(), size };
    } catch (err) {
      await handle.close();
      throw fsError(err, { root: this.root, op: 'get', key });
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    const file = this.fileOf(key);
    try {
      return await readFile(file);
    } catch (err) {
      throw isMissing(err) ? new NotFoundError('object', key) : fsError(err, { root: this.root, op: 'get', key });
    }
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const file = this.fileOf(key);
    try {
      const info = await stat(file);
      return { size: info.size, modifiedAt: Math.floor(info.mtimeMs) };
    } catch (err) {
      if (isMissing(err)) return null;
      throw fsError(err, { root: this.root, op: 'head', key });
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    this.assertOpen();
    assertPrefix(prefix);
    const limit = listLimit(options.limit);
    if (options.after !== undefined && typeof options.after !== 'string') {
      throw new ValidationError('list cursor `after` must be a string: pass the `next` of the previous page');
    }
    try {
      return await listPage(this.root, prefix, options.after ?? null, limit);
    } catch (err) {
      throw fsError(err, { root: this.root, op: `list '${prefix}'` });
    }
  }

  async delete(key: string): Promise<void> {
    const file = this.fileOf(key);
    try {
      await unlink(file);
    } catch (err) {
      if (isMissing(err)) return;
      throw fsError(err, { root: this.root, op: 'delete', key });
    }
    await this.prune(dirname(file));
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.assertOpen();
    if (prefix === '') {
      throw new ValidationError('refusing to delete every object of the store: pass a non-empty prefix, e.g. "jobs/hello/"');
    }
    assertPrefix(prefix);
    const dirs = new Set<string>();
    let removed = 0;
    let batch: Candidate[] = [];
    const flush = async (): Promise<void> => {
      const done = await Promise.all(batch.map((c) => this.unlinkIfPresent(c.path)));
      removed += done.filter(Boolean).length;
      for (const c of batch) dirs.add(dirname(c.path));
      batch = [];
    };
    try {
      for await (const candidate of keysUnder(this.root, prefix, null)) {
        batch.push(candidate);
        if (batch.length >= DELETE_BATCH) await flush();
      }
      await flush();
    } catch (err) {
      throw fsError(err, { root: this.root, op: `deletePrefix '${prefix}'` });
    }
    for (const dir of [...dirs].sort((a, b) => b.length - a.length)) await this.prune(dir);
    return removed;
  }

  private assertOpen(): void {
    if (this.closed) throw new UnavailableError(`the store ${this.root} is closed`, { root: this.root });
  }

  /** Checks the key, then maps it to its file. */
  private fileOf(key: string): string {
    this.assertOpen();
    assertKey(key);
    return objectPath(this.root, key).file;
  }

  /** Creates `dir` and a fresh temp file in it, retrying when a concurrent prune removes the directory. */
  private async openTemp(dir: string): Promise<{ path: string; handle: FileHandle }> {
    for (let attempt = 0; ; attempt++) {
      const path = tempPath(dir);
      try {
        await mkdir(dir, { recursive: true });
        return { path, handle: await open(path, 'wx') };
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT' || attempt >= DIR_RACE_RETRIES) throw err;
      }
    }
  }

  /**
   * Publishes `temp` under `file` only if `file` does not exist. As open(2) advises for
   * NFS, a failed link() is checked by the temp file's link count, since a retransmitted
   * request can report EEXIST for a link that the first request made.
   */
  private async linkNew(temp: string, file: string, key: string): Promise<void> {
    try {
      await link(temp, file);
      return;
    } catch (err) {
      const linked = await stat(temp).then((s) => s.nlink >= 2, () => false);
      if (linked) return;
      const code = errnoCode(err);
      if (code === 'EEXIST') {
        throw new ConflictError(`object '${key}' already exists and this put was create-only; read it, or write under a new key`, {
          key,
        });
      }
      if (code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EPERM') {
        throw new UnavailableError(
          `store ${this.root} does not support hard links (${code}), which create-only writes need; use a local disk, NFS or CephFS`,
          { root: this.root, key, cause: code },
        );
      }
      throw err;
    }
  }

  /** True when this call removed the file. */
  private async unlinkIfPresent(path: string): Promise<boolean> {
    try {
      await unlink(path);
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }

  /** Removes empty key directories from `dir` up to (not including) the root; best effort. */
  private async prune(dir: string): Promise<void> {
    for (let d = dir; d.startsWith(this.root + sep); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') return;
      }
    }
  }
}
