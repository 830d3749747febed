/**
 * The hand-written jute of multi, multiRead and sync (`multi-codec.ts`) against the library's own
 * records: a request encodes to the bytes the library's TransactionRequest would (except
 * that version 0 stays 0), and an answer the library's records encode decodes to the same
 * results. The real ensemble tests (zookeeper.test.ts, the contract suite) use it for
 * every claim, post and completion.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { decodeResults, failure, multiReadRequest, multiRequest, syncRequest, type MultiResult } from '../../src/coordination/zookeeper/multi-codec.js';
import type { Op } from '../../src/coordination/zookeeper/zk-client.js';

interface Rec {
  byteLength(): number;
  serialize(buf: Buffer, at: number): number;
  [field: string]: unknown;
}
const lib = createRequire(import.meta.url);
const zookeeper = lib('node-zookeeper-client') as { ACL: { OPEN_ACL_UNSAFE: unknown[] } };
const jute = lib('node-zookeeper-client/lib/jute/index.js') as {
  Request: new (header: unknown, payload: unknown) => { toBuffer(): Buffer };
  TransactionRequest: new (ops: unknown[]) => unknown;
  protocol: Record<string, new (...args: unknown[]) => Rec>;
  data: Record<string, new () => Rec>;
};

const toBuffer = (r: unknown): Buffer => (r as { toBuffer(): Buffer }).toBuffer();

function libraryMulti(ops: unknown[]): Buffer {
  const header = new jute.protocol.RequestHeader!();
  header.type = 14;
  return new jute.Request(header, new jute.TransactionRequest(ops)).toBuffer();
}

test('a multi encodes to the library transaction bytes, with version 0 kept', () => {
  const data = Buffer.from('{"status":"leased","ü":1}');
  const ops: Op[] = [
    { op: 'remove', path: '/r/queues/k/-/0999-0000000012', version: -1 },
    { op: 'set', path: '/r/tickets/12', data, version: 7 },
    { op: 'create', path: '/r/leases/12', data: Buffer.from('{"ttl":15000}') },
    { op: 'create', path: '/r/members/m', mode: 'ephemeral-sequential' },
    { op: 'check', path: '/r/tickets/ü', version: 3 },
  ];
  const acls = zookeeper.ACL.OPEN_ACL_UNSAFE;
  const expected = libraryMulti([
    { type: 2, path: '/r/queues/k/-/0999-0000000012', version: -1 },
    { type: 5, path: '/r/tickets/12', data, version: 7 },
    { type: 1, path: '/r/leases/12', data: Buffer.from('{"ttl":15000}'), acls, mode: 0 },
    { type: 1, path: '/r/members/m', data: Buffer.alloc(0), acls, mode: 3 },
    { type: 13, path: '/r/tickets/ü', version: 3 },
  ]);
  assert.deepEqual(toBuffer(multiRequest(ops)), expected);

  // The library would send -1 ("any version") for 0; ours sends 0.
  const zero = toBuffer(multiRequest([{ op: 'check', path: '/a', version: 0 }]));
  assert.equal(zero.readInt32BE(zero.length - 9 - 4), 0);
});

test('a multiRead encodes getData requests and is sent as opcode 22, decoded as a multi', () => {
  const r = multiReadRequest(['/a', '/b/c']) as { header: { type: number }; toBuffer(): Buffer };
  const bytes = r.toBuffer();
  assert.equal(bytes.readInt32BE(8), 22, 'the opcode on the wire');
  assert.equal(r.header.type, 14, 'the library decodes the answer as a multi');
  const parts: Rec[] = [];
  for (const path of ['/a', '/b/c']) {
    parts.push(new jute.protocol.MultiHeader!(4, false, -1));
    const get = new jute.protocol.GetDataRequest!();
    get.path = path;
    get.watch = false;
    parts.push(get);
  }
  parts.push(new jute.protocol.MultiHeader!(-1, true, -1));
  assert.deepEqual(bytes.subarray(12), encode(parts));
});

test('a sync encodes its path and is sent as opcode 9, its answer read as one without a body', () => {
  const r = syncRequest('/distci/ü') as { header: { type: number }; toBuffer(): Buffer };
  const bytes = r.toBuffer();
  const path = Buffer.from('/distci/ü');
  assert.equal(bytes.readInt32BE(0), bytes.length - 4, 'the length prefix');
  assert.equal(bytes.readInt32BE(8), 9, 'the opcode on the wire');
  assert.equal(bytes.readInt32BE(12), path.length);
  assert.deepEqual(bytes.subarray(16), path);
  assert.equal(r.header.type, 2, 'the library decodes the answer like a delete (no body)');
  assert.throws(() => syncRequest('no-slash'), 'an invalid path fails before anything is sent');
});

function encode(records: Rec[]): Buffer {
  const buf = Buffer.alloc(records.reduce((n, r) => n + r.byteLength(), 0));
  let at = 0;
  for (const r of records) at += r.serialize(buf, at);
  return buf;
}

function long(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(v));
  return b;
}

function libraryStat(version: number, mtime: number, owner: string): Rec {
  const s = new jute.data.Stat!();
  Object.assign(s, {
    czxid: long(1),
    mzxid: long(2),
    ctime: long(mtime - 1000),
    mtime: long(mtime),
    version,
    cversion: version + 1,
    aversion: 0,
    ephemeralOwner: Buffer.from(owner, 'hex'),
    dataLength: 3,
    numChildren: 4,
    pzxid: long(5),
  });
  return s;
}

test('an answer decodes to the results the library records encode', () => {
  const p = jute.protocol;
  const created = new p.CreateResponse!();
  created.path = '/r/leases/12';
  const set = new p.SetDataResponse!();
  set.stat = libraryStat(9, 1_764_300_000_123, '0000000000000000');
  const got = new p.GetDataResponse!();
  got.data = Buffer.from('{"x":1}');
  got.stat = libraryStat(2, 2 ** 41 + 5, '0123456789abcdef');
  const error = new p.ErrorResponse!();
  error.err = -101;
  const later = new p.ErrorResponse!();
  later.err = -2;
  const answer = encode([
    new p.MultiHeader!(1, false, -1),
    created,
    new p.MultiHeader!(5, false, -1),
    set,
    new p.MultiHeader!(2, false, -1),
    new p.MultiHeader!(13, false, -1),
    new p.MultiHeader!(4, false, -1),
    got,
    new p.MultiHeader!(-1, false, -101),
    error,
    new p.MultiHeader!(-1, false, -2),
    later,
    new p.MultiHeader!(-1, true, -1),
  ]);
  const padded = Buffer.concat([Buffer.from([7, 7, 7]), answer, Buffer.from([9])]);
  const results: MultiResult[] = [];
  assert.equal(decodeResults(padded, 3, results), answer.length);
  assert.deepEqual(results, [
    { type: 1, path: '/r/leases/12' },
    { type: 5, stat: { ctime: 1_764_299_999_123, mtime: 1_764_300_000_123, version: 9, cversion: 10, ephemeralOwner: '0000000000000000', numChildren: 4 } },
    { type: 2 },
    { type: 13 },
    { type: 4, data: Buffer.from('{"x":1}'), stat: { ctime: 2 ** 41 - 995, mtime: 2 ** 41 + 5, version: 2, cversion: 3, ephemeralOwner: '0123456789abcdef', numChildren: 4 } },
    { type: -1, err: -101 },
    { type: -1, err: -2 },
  ]);
  assert.equal(failure(results), -101);
  assert.equal(failure(results.slice(0, 5)), 0);
});

test('an invalid path fails before anything is encoded', () => {
  assert.throws(() => multiRequest([{ op: 'check', path: 'no-slash', version: 1 }]));
  assert.throws(() => multiRequest([{ op: 'check', path: '/a//b', version: 1 }]));
});
