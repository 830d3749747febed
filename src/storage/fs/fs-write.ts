/** Writing helpers of the `file:` store: body chunks, complete writes, durable renames. */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ValidationError } from '../../core/errors.js';
import type { Body } from '../contract.js';
import { errnoCode } from './fs-errors.js';

/** Marks an error thrown by the caller's body stream, which is not ours to translate. */
export class BodyFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('the body stream failed');
  }
}

export async function* chunksOf(body: Body): AsyncGenerator<Buffer> {
  if (!(body instanceof Readable)) {
    yield typeof body === 'string' ? Buffer.from(body) : body;
    return;
  }
  try {
    for await (const chunk of body as AsyncIterable<unknown>) {
      if (typeof chunk === 'string') yield Buffer.from(chunk);
      else if (chunk instanceof Uint8Array) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      else throw new ValidationError('the body stream yielded something other than bytes or text; send a byte stream');
    }
  } catch (err) {
    throw new BodyFailure(err);
  }
}

export async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  for (let offset = 0; offset < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}

/** Makes a rename or link durable: the new directory entry is on disk before we report success. */
export async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some file systems cannot fsync a directory; the data itself was already synced.
    const code = errnoCode(err);
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EBADF' && code !== 'ENOTSUP') throw err;
  } finally {
    await handle?.close();
  }
}
