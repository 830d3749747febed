import { Transform, type Readable } from 'node:stream';
import { DistciError } from '../../core/errors.js';

/** Passes a request body through, failing with body_too_large past `maxBytes` (or with the body's own error). */
export function limitBytes(body: Readable, maxBytes: number, what: string): Readable {
  let seen = 0;
  const limiter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen > maxBytes) {
        callback(new DistciError('body_too_large', `${what} is larger than ${maxBytes} bytes; raise maxUploadBytes or make it smaller`));
      } else callback(null, chunk);
    },
  });
  body.on('error', (err) => limiter.destroy(err));
  // The body can fail (the client hangs up) before the store reads the limiter — a store
  // opens its temp file or multipart upload first — or after it stopped reading: an
  // 'error' event with no listener would then kill the whole frontend. The reader still
  // gets the error: a destroyed stream fails every read that comes after.
  limiter.on('error', () => undefined);
  return body.pipe(limiter);
}
