import { Transform, type Readable } from 'node:stream';
import { DistciError } from '../../core/errors.js';

/** Passes a request body through, failing with body_too_large past `maxBytes`. */
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
  return body.pipe(limiter);
}
