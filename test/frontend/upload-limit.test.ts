import assert from 'node:assert/strict';
import { createServer, request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { limitBytes } from '../../src/frontend/services/upload-limit.js';

describe('upload body limit', () => {
  it('passes a body through and refuses one past the limit with body_too_large', async () => {
    assert.equal(await text(limitBytes(Readable.from([Buffer.from('abc'), Buffer.from('def')]), 6, 'the body')), 'abcdef');
    await assert.rejects(text(limitBytes(Readable.from([Buffer.from('abc'), Buffer.from('defg')]), 6, 'the body')), { code: 'body_too_large' });
  });

  it('keeps an upload the client aborted before the store began reading from crashing the process', { timeout: 10_000 }, async () => {
    // The store opens its temp file before it reads: a client that hangs up meanwhile
    // destroyed the limiter with no listener yet, an unhandled 'error' that killed a
    // frontend in the scale benchmark ("Error: aborted ... Emitted 'error' event on Transform").
    const failures: unknown[] = [];
    let settle!: (outcome: unknown) => void;
    const outcome = new Promise<unknown>((resolve) => (settle = resolve));
    const onUncaught = (err: unknown): void => {
      failures.push(err);
      settle('an uncaught error');
    };
    let client: ClientRequest | undefined;
    const server = createServer((req: IncomingMessage, res) => {
      const body = limitBytes(req, 1 << 20, 'the workspace');
      // The store starts reading only once the limiter failed; waiting on 'close' adds no
      // 'error' listener.
      body.once('close', () => void text(body).then(() => settle('read to the end'), settle).finally(() => res.destroy()));
      client?.destroy(); // the client hangs up as soon as the server has the upload
    });
    process.on('uncaughtException', onUncaught);
    try {
      await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
      const { port } = server.address() as AddressInfo;
      client = request({ port, method: 'PUT', path: '/', headers: { 'content-length': '100000' } });
      client.on('error', () => undefined);
      client.write(Buffer.alloc(1000));
      const result = await outcome;
      assert.deepEqual(failures, [], 'no uncaught error');
      assert.ok(result instanceof Error, `the reader learns the upload failed (got ${String(result)})`);
    } finally {
      process.off('uncaughtException', onUncaught);
      server.closeAllConnections();
      server.close();
    }
  });
});
