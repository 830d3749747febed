import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { ConsoleWriter } from '../../../src/worker/step/console-writer.js';
import { SecretMasker } from '../../../src/worker/step/mask.js';

const SECRET = 's3cr3t-P@ss';

/** A writer over an in-memory sink; `flushMs` large so only explicit flushes cut chunks. */
function writer(secrets: string[], opts: { flushMs?: number; maxChunkBytes?: number; send?: (seq: number, text: string) => Promise<void> } = {}) {
  const chunks: { seq: number; text: string }[] = [];
  const w = new ConsoleWriter({
    masker: new SecretMasker(secrets),
    flushMs: opts.flushMs ?? 60_000,
    ...(opts.maxChunkBytes ? { maxChunkBytes: opts.maxChunkBytes } : {}),
    send: async (seq, text) => {
      await opts.send?.(seq, text);
      chunks.push({ seq, text });
    },
  });
  return { w, chunks, text: () => chunks.map((c) => c.text).join('') };
}

describe('secret masking', () => {
  it('masks a secret split into two writes at every position, with a chunk cut between them', async () => {
    const line = `user=${SECRET}; done\n`;
    for (let i = 0; i <= line.length; i++) {
      const { w, chunks, text } = writer([SECRET]);
      w.write(line.slice(0, i));
      await w.flush();
      w.write(line.slice(i));
      await w.close();
      assert.equal(text(), 'user=***; done\n', `split at ${i}`);
      for (const c of chunks) {
        for (let n = 2; n <= SECRET.length; n++) assert.ok(!c.text.includes(SECRET.slice(0, n)) || 'user=***; done\n'.includes(SECRET.slice(0, n)), `chunk leaks a prefix at split ${i}`);
      }
    }
  });

  it('masks a secret split into three writes at every pair of positions', async () => {
    const line = `>${SECRET}<`;
    for (let i = 0; i <= line.length; i++) {
      for (let j = i; j <= line.length; j++) {
        const { w, text } = writer([SECRET]);
        w.write(line.slice(0, i));
        await w.flush();
        w.write(line.slice(i, j));
        await w.flush();
        w.write(line.slice(j));
        await w.close();
        assert.equal(text(), '>***<', `splits at ${i}, ${j}`);
      }
    }
  });

  it('masks the base64 encoding of a secret, alone and inside a longer encoded string at every alignment', async () => {
    const { w, text } = writer([SECRET]);
    w.line(`plain ${Buffer.from(SECRET).toString('base64')}`);
    for (const prefix of ['', 'u:', 'us:', 'user:']) w.line(`Authorization: Basic ${Buffer.from(prefix + SECRET).toString('base64')}`);
    await w.close();
    const out = text();
    assert.ok(!out.includes(Buffer.from(SECRET).toString('base64').slice(0, 12)), out);
    for (const prefix of ['', 'u:', 'us:', 'user:']) {
      const decoded = out
        .split('\n')
        .filter((l) => l.startsWith('Authorization'))
        .map((l) => Buffer.from(l.replace('Authorization: Basic ', '').replace('***', ''), 'base64').toString('latin1'));
      assert.ok(decoded.every((d) => !d.includes(SECRET.slice(2))), `prefix '${prefix}': ${out}`);
    }
    assert.match(out, /^plain \*\*\*/);
  });

  it('masks the base64 form split across writes', async () => {
    const encoded = Buffer.from(SECRET).toString('base64');
    for (let i = 0; i <= encoded.length; i++) {
      const { w, text } = writer([SECRET]);
      w.write(`[${encoded.slice(0, i)}`);
      await w.flush();
      w.write(`${encoded.slice(i)}]`);
      await w.close();
      assert.equal(text(), '[***]', `split at ${i}`);
    }
  });

  it('masks overlapping secrets as one run, even when they are split', async () => {
    const a = 'abcdef';
    const b = 'defghi';
    const line = 'x abcdefghi y';
    for (let i = 0; i <= line.length; i++) {
      const { w, text } = writer([a, b]);
      w.write(line.slice(0, i));
      await w.flush();
      w.write(line.slice(i));
      await w.close();
      const out = text();
      assert.match(out, /^x (\*\*\*)+ y$/, `split at ${i}: ${out}`);
    }
  });

  it('holds back only a possible start of a secret, and releases it on close', async () => {
    const { w, text } = writer([SECRET]);
    w.write('ordinary output ');
    await w.flush();
    assert.equal(text(), 'ordinary output ', 'nothing held back when no secret could start');
    w.write('ends with s3c');
    await w.flush();
    assert.equal(text(), 'ordinary output ends with ', 'a possible secret start waits');
    await w.close();
    assert.equal(text(), 'ordinary output ends with s3c');
  });

  it('masks a secret that appears many times and adjacent to itself', async () => {
    const { w, text } = writer(['tok3n']);
    w.write('tok3ntok3n and tok');
    w.write('3n, tok3n');
    await w.close();
    assert.equal(text(), '*** and ***, ***');
  });
});

describe('console chunks', () => {
  it('sends chunks with seq 0, 1, 2... in order, one at a time, even when sends are slow', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const { w, chunks, text } = writer([], {
      maxChunkBytes: 100,
      send: async () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
      },
    });
    let expected = '';
    for (let i = 0; i < 200; i++) {
      const line = `line ${i} ${'x'.repeat(i % 17)}\n`;
      expected += line;
      w.write(line);
      if (i % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    await w.close();
    assert.equal(text(), expected);
    assert.deepEqual(chunks.map((c) => c.seq), chunks.map((_, i) => i));
    assert.ok(chunks.every((c) => Buffer.byteLength(c.text) <= 100));
    assert.equal(maxInFlight, 1);
  });

  it('never splits a multi-byte character between chunks', async () => {
    const { w, chunks, text } = writer([], { maxChunkBytes: 7 });
    const input = 'héllo wörld — ✓ 𝄞 done'.repeat(5);
    w.write(input);
    await w.close();
    assert.equal(text(), input);
    for (const c of chunks) {
      assert.ok(Buffer.byteLength(c.text) <= 7);
      assert.ok(!c.text.includes('\uFFFD'));
      assert.equal(Buffer.from(c.text).toString('utf8'), c.text);
    }
  });

  it('sends output after flushMs without waiting for close', async () => {
    const { w, chunks } = writer([], { flushMs: 20 });
    w.write('early output\n');
    const [seq, text] = await once(w, 'chunk');
    assert.equal(seq, 0);
    assert.equal(text, 'early output\n');
    assert.equal(chunks.length, 1);
    await w.close();
  });

  it('sends at once when a chunk is full', async () => {
    const { w } = writer([], { flushMs: 60_000, maxChunkBytes: 10 });
    const sent = once(w, 'chunk');
    w.write('0123456789abc');
    const [seq, text] = await sent;
    assert.deepEqual([seq, text], [0, '0123456789']);
    await w.close();
  });

  it('drops everything after a send fails for good, and close still resolves', async () => {
    const { w, chunks } = writer([], {
      send: async (seq) => {
        if (seq === 1) throw new Error('lease lost');
      },
    });
    const failed = once(w, 'failed');
    w.write('first\n');
    await w.flush();
    w.write('second\n');
    await w.flush();
    const [err] = await failed;
    assert.equal((err as Error).message, 'lease lost');
    w.write('third\n');
    await w.close();
    assert.deepEqual(chunks.map((c) => c.text), ['first\n']);
    assert.equal(w.failed?.message, 'lease lost');
  });

  it('reports back-pressure above the high-water mark and drains', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new ConsoleWriter({ masker: new SecretMasker(), maxChunkBytes: 10, highWaterMark: 50, send: () => gate });
    assert.equal(w.write('x'.repeat(40)), true);
    assert.equal(w.write('y'.repeat(40)), false);
    const drained = once(w, 'drain');
    release();
    await drained;
    await w.close();
  });
});
