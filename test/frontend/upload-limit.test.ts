import assert from 'node:assert/strict';
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { limitBytes } from '../../src/frontend/services/upload-limit.js';

describe('upload body limit', () => {
  it('passes a body through and refuses one past the limit with body_too_large', async () => {
    assert.equal(await text(limitBytes(Readable.from([Buffer.from('abc'), Buffer.from('def')]), 6, 'the body')), 'abcdef');
    await assert.rejects(text(limitBytes(Readable.from([Buffer.from('abc'), Buffer.from('defg')]), 6, 'the body')), { code: 'body_too_large' });
  });

  it('keeps an upload the client aborted before the store began reading from crashing the process', async () => {
    // The store opens its temp file before it reads: a client that hangs up meanwhile
    // destroyed the limiter with no listener yet, an unhandled 'error' that killed a
    // frontend in the scale benchmark ("Error: aborted ... Emitted 'error' event on Transform").
    const failures: unknown[] = [];
    const read = new Promise<unknown>((resolve) => {
      const server = createServer((req: IncomingMessage, res) => {
        const body = limitBytes(req, 1 << 20, 'the workspace');
        req.once('aborted', () => {
          // The store starts reading only now, after the client is gone.
          void delay(20)
            .then(() => text(body))
            .then(
              () => resolve('read to the end'),
              (err: unknown) => resolve(err),
            )
            .finally(() => {
              res.destroy();
              server.close();
            });
        });
      });
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        const req = request({ port, method: 'PUT', path: '/', headers: { 'content-length': '100000' } });
        req.on('error', () => undefined);
        req.write(Buffer.alloc(1000));
        setTimeout(() => req.destroy(), 50);
      });
    });
    const onUncaught = (err: unknown): void => void failures.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      const outcome = await read;
      await delay(50);
      assert.deepEqual(failures, [], 'no uncaught error');
      assert.ok(outcome instanceof Error, `the reader learns the upload failed (got ${String(outcome)})`);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
