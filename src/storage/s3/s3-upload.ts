/**
 * Writing one object to S3 from a body of any length, known or not, with bounded memory:
 *
 * - a body that fits in one part (or a Buffer/string) → one PutObject;
 * - a larger body → a multipart upload, a few parts in flight; the object appears whole
 *   at CompleteMultipartUpload, and any failure aborts the upload, leaving nothing;
 * - a larger create-only body → spooled to a temp file, then one PutObject with
 *   `If-None-Match: *` and a Content-Length. Ceph Pacific's RGW ignores `If-None-Match`
 *   on CompleteMultipartUpload (it overwrote an existing object in our trials), and a
 *   single PUT is the one conditional write every S3 service decides atomically.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addAbortSignal, Readable } from 'node:stream';
import { ValidationError } from '../../core/errors.js';
import type { Body } from '../contract.js';
import type { CompletedPart, S3Calls } from './s3-client.js';

/** S3's limit for one PutObject, which create-only writes of large bodies use. */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;
const MAX_PARTS = 10_000;

export interface UploadSettings {
  /** Bytes per part (at least 5 MiB, S3's minimum); parts grow past part 1,000 so that 10,000 parts reach far. */
  partSize: number;
  /** Parts uploading at once; memory use is about (partConcurrency + 1) × partSize. */
  partConcurrency: number;
  /** Where create-only bodies larger than one part wait for their single PUT. */
  spoolDir?: string;
}

export interface UploadRequest {
  key: string;
  ifNoneMatch: boolean;
  contentType?: string;
  signal?: AbortSignal;
}

/** Marks an error thrown by the caller's body stream, which is not ours to translate. */
export class BodyFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('the body stream failed');
  }
}

/** Reads a byte stream in pieces of a chosen size. */
class PieceReader {
  private readonly chunks: AsyncIterator<unknown>;
  private held: Buffer[] = [];
  private heldBytes = 0;
  ended = false;

  constructor(body: Readable) {
    this.chunks = (body as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  }

  /** Up to `size` bytes; fewer only at the end of the stream. */
  async read(size: number): Promise<Buffer> {
    while (this.heldBytes < size && !this.ended) {
      let next: IteratorResult<unknown>;
      try {
        next = await this.chunks.next();
      } catch (err) {
        throw new BodyFailure(err);
      }
      if (next.done) {
        this.ended = true;
        break;
      }
      const chunk = toBuffer(next.value);
      this.held.push(chunk);
      this.heldBytes += chunk.length;
    }
    const all = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
    const piece = all.subarray(0, size);
    const rest = all.subarray(piece.length);
    this.held = rest.length > 0 ? [rest] : [];
    this.heldBytes = rest.length;
    return piece;
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new BodyFailure(new ValidationError('the body stream yielded something other than bytes or text; send a byte stream'));
}

function partSizeFor(settings: UploadSettings, partNumber: number): number {
  return settings.partSize * (1 + Math.floor((partNumber - 1) / 1000));
}

/** Stores `body` under the S3 key `req.key`; resolves with the bytes stored. */
export async function upload(calls: S3Calls, settings: UploadSettings, req: UploadRequest, body: Body): Promise<{ size: number }> {
  if (!(body instanceof Readable)) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    await putBytes(calls, req, bytes);
    return { size: bytes.length };
  }
  // Wakes an upload that waits on a stalled body when the caller gives up.
  if (req.signal) addAbortSignal(req.signal, body);
  const reader = new PieceReader(body);
  const first = await reader.read(settings.partSize);
  const second = reader.ended ? Buffer.alloc(0) : await reader.read(partSizeFor(settings, 2));
  if (second.length === 0) {
    await putBytes(calls, req, first);
    return { size: first.length };
  }
  if (req.ifNoneMatch) return spoolAndPut(calls, settings, req, [first, second], reader);
  return multipart(calls, settings, req, [first, second], reader, body);
}

async function putBytes(calls: S3Calls, req: UploadRequest, bytes: Buffer): Promise<void> {
  await calls.putObject({ key: req.key, body: bytes, length: bytes.length, ifNoneMatch: req.ifNoneMatch, contentType: req.contentType, signal: req.signal });
}

/** Hands out the pieces already read, then reads more of `size(n)` bytes for piece n; undefined at the end. */
function pieces(firstParts: Buffer[], reader: PieceReader, size: (partNumber: number) => number): () => Promise<Buffer | undefined> {
  const queued = [...firstParts];
  let partNumber = 0;
  return async () => {
    partNumber++;
    const piece = queued.shift() ?? (reader.ended ? undefined : await reader.read(size(partNumber)));
    return piece !== undefined && piece.length > 0 ? piece : undefined;
  };
}

async function multipart(
  calls: S3Calls,
  settings: UploadSettings,
  req: UploadRequest,
  firstParts: Buffer[],
  reader: PieceReader,
  body: Readable,
): Promise<{ size: number }> {
  const stop = new AbortController();
  const signal = req.signal ? AbortSignal.any([req.signal, stop.signal]) : stop.signal;
  const uploadId = await calls.createMultipartUpload(req.key, req.contentType, signal);
  const parts: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  const state: { failure?: { error: unknown } } = {};
  const send = (partNumber: number, bytes: Buffer): void => {
    const sending: Promise<void> = calls.uploadPart(req.key, uploadId, partNumber, bytes, signal).then(
      (etag) => {
        parts[partNumber - 1] = { PartNumber: partNumber, ETag: etag };
      },
      (error: unknown) => {
        state.failure ??= { error };
        // Wakes a read that waits on the body; the part's error is the one reported.
        body.destroy();
      },
    );
    inFlight.add(sending);
    void sending.finally(() => inFlight.delete(sending));
  };
  try {
    const next = pieces(firstParts, reader, (n) => partSizeFor(settings, n));
    let size = 0;
    for (let partNumber = 1; ; partNumber++) {
      const piece = await next();
      if (piece === undefined || state.failure) break;
      if (partNumber > MAX_PARTS) throw new ValidationError(`the body is larger than ${MAX_PARTS} parts; raise the store's partSizeMiB`);
      size += piece.length;
      send(partNumber, piece);
      while (inFlight.size >= settings.partConcurrency && !state.failure) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    if (state.failure) throw state.failure.error;
    await calls.completeMultipartUpload(req.key, uploadId, parts, signal);
    return { size };
  } catch (err) {
    // A failed part destroys the body to stop the reading; then the part's error is the cause.
    const cause = state.failure && err instanceof BodyFailure ? state.failure.error : err;
    stop.abort();
    await Promise.all(inFlight);
    // Best effort: an upload never completed is invisible, and a lifecycle rule can reap it.
    await calls.abortMultipartUpload(req.key, uploadId).catch(() => undefined);
    throw cause;
  }
}

async function spoolAndPut(
  calls: S3Calls,
  settings: UploadSettings,
  req: UploadRequest,
  firstParts: Buffer[],
  reader: PieceReader,
): Promise<{ size: number }> {
  const path = join(settings.spoolDir ?? tmpdir(), `distci-s3-spool-${randomUUID()}`);
  const handle = await open(path, 'wx', 0o600);
  try {
    let size = 0;
    try {
      const next = pieces(firstParts, reader, () => settings.partSize);
      for (let piece = await next(); piece !== undefined; piece = await next()) {
        size += piece.length;
        if (size > MAX_SINGLE_PUT_BYTES) {
          throw new ValidationError(
            `create-only objects are limited to ${MAX_SINGLE_PUT_BYTES} bytes on S3 (one PUT); write '${req.key}' without ifNoneMatch`,
          );
        }
        await handle.writeFile(piece);
      }
    } finally {
      await handle.close();
    }
    await calls.putObject({
      key: req.key,
      body: createReadStream(path),
      length: size,
      ifNoneMatch: true,
      contentType: req.contentType,
      signal: req.signal,
    });
    return { size };
  } finally {
    await unlink(path).catch(() => undefined);
  }
}
