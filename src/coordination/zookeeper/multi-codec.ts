/**
 * The wire format of ZooKeeper's two batch requests, written by hand for the claim path,
 * and of sync:
 * - multi (opcode 14): create, setData, check and delete, all or nothing;
 * - multiRead (opcode 22, ZooKeeper ≥ 3.6): many getData, each answered on its own (a
 *   missing node fails alone). node-zookeeper-client 1.1.3 does not know it;
 * - sync (opcode 9): the read barrier (`Session.barrier`); the library has no call for it.
 * Requests are built as the library's own `Request` (so the connection manager gives them
 * an xid and keeps their place among the session's requests) around a payload that
 * encodes itself straight into the request's buffer. Answers are decoded by replacing the
 * library's TransactionResponse decoder, which the library picks for every MULTI answer:
 * a multiRead says MULTI once serialised, so its answer comes the same way.
 *
 * Why by hand: the library's jute records describe every field at run time and allocate a
 * record object per field; in a frontend's profile of claims on ZooKeeper, encoding a
 * claim's four ops and decoding their results was ~12% of its busy time (BENCHMARKS.md,
 * ZooKeeper dispatch, session 5). `test/coordination/zookeeper-multi-codec.test.ts` checks
 * the bytes against the library's own records.
 *
 * The format (Jute, big-endian): int = 4 bytes, long = 8, boolean = 1, string and buffer =
 * int length + bytes (-1: null). Each op is a MultiHeader {int type, boolean done, int err}
 * then its request; a MultiHeader {-1, true, -1} ends the list. Answers: a MultiHeader per
 * result, then a path (create), a Stat (setData), data + Stat (getData), an int (error),
 * nothing (delete, check).
 */
import { createRequire } from 'node:module';
import type { CreateMode, Op, Stat } from './zk-client.js';

/** ZooKeeper op codes. */
const OP = { CREATE: 1, DELETE: 2, GET_DATA: 4, SET_DATA: 5, SYNC: 9, CHECK: 13, MULTI: 14, MULTI_READ: 22, ERROR: -1 } as const;
/** A getData result in a multiRead answer. */
export const GET_DATA = OP.GET_DATA;
/** A failed op's result. */
export const ERROR = OP.ERROR;

/** ZooKeeper's create flags by mode (for multis here, and ZkClient.create). */
export const CREATE_FLAGS: Record<CreateMode, number> = { persistent: 0, ephemeral: 1, 'persistent-sequential': 2, 'ephemeral-sequential': 3 };
/** Every znode is created with the ACL world:anyone, all permissions (OPEN_ACL_UNSAFE). */
const OPEN_ACL = { perms: 31, scheme: 'world', id: 'anyone' } as const;
const ACL_BYTES = 4 + 4 + (4 + OPEN_ACL.scheme.length) + (4 + OPEN_ACL.id.length);
const HEADER_BYTES = 9;
const STAT_BYTES = 68;

/** One result of a multi or multiRead, decoded. */
export interface MultiResult {
  type: number;
  path?: string;
  stat?: Stat;
  data?: Buffer;
  err?: number;
}

interface Jute {
  Request: new (header: unknown, payload: unknown) => { header: { type: number }; toBuffer(): Buffer };
  TransactionResponse: { prototype: { deserialize(this: { results: MultiResult[] }, buffer: Buffer, offset: number): number } };
  protocol: { RequestHeader: new () => { type: number } };
}
const library = createRequire(import.meta.url);
const jute = library('node-zookeeper-client/lib/jute/index.js') as Jute;
const Path = library('node-zookeeper-client/lib/Path.js') as { validate(path: string): void };

/** What a multi or multiRead request encodes: the ops as jute wants them. */
type Encoded = { type: number; path: string; data?: Buffer; version?: number; flags?: number };

function encodedOps(ops: readonly Op[]): Encoded[] {
  return ops.map((op): Encoded => {
    Path.validate(op.path); // throws before anything is sent, as the library's transaction does
    switch (op.op) {
      case 'create':
        return { type: OP.CREATE, path: op.path, data: op.data, flags: CREATE_FLAGS[op.mode ?? 'persistent'] };
      case 'set':
        return { type: OP.SET_DATA, path: op.path, data: op.data, version: op.version };
      case 'check':
        return { type: OP.CHECK, path: op.path, version: op.version };
      case 'remove':
        return { type: OP.DELETE, path: op.path, version: op.version };
    }
  });
}

function byteLength(ops: readonly Encoded[]): number {
  let n = HEADER_BYTES; // the closing header
  for (const op of ops) {
    n += HEADER_BYTES + 4 + Buffer.byteLength(op.path, 'utf8');
    switch (op.type) {
      case OP.CREATE:
        n += 4 + (op.data?.length ?? 0) + ACL_BYTES + 4;
        break;
      case OP.SET_DATA:
        n += 4 + (op.data?.length ?? 0) + 4;
        break;
      case OP.GET_DATA:
        n += 1; // watch
        break;
      default:
        n += 4; // version
    }
  }
  return n;
}

function serialize(ops: readonly Encoded[], buf: Buffer, start: number): number {
  let at = start;
  const int = (v: number): void => void (at = buf.writeInt32BE(v, at));
  const string = (s: string): void => {
    const len = buf.write(s, at + 4, 'utf8');
    int(len);
    at += len;
  };
  const bytes = (b: Buffer | undefined): void => {
    int(b?.length ?? 0);
    if (b) at += b.copy(buf, at);
  };
  const header = (type: number, done: boolean): void => {
    int(type);
    buf[at++] = done ? 1 : 0;
    int(-1);
  };
  for (const op of ops) {
    header(op.type, false);
    string(op.path);
    switch (op.type) {
      case OP.CREATE:
        bytes(op.data);
        int(1);
        int(OPEN_ACL.perms);
        string(OPEN_ACL.scheme);
        string(OPEN_ACL.id);
        int(op.flags!);
        break;
      case OP.SET_DATA:
        bytes(op.data);
        int(op.version!);
        break;
      case OP.GET_DATA:
        buf[at++] = 0; // no watch
        break;
      default:
        int(op.version!);
    }
  }
  header(-1, true);
  return at - start;
}

/** A payload that encodes itself straight into the request's buffer. */
interface Payload {
  byteLength(): number;
  serialize(buf: Buffer, offset: number): number;
}

/** A request of `type` for ConnectionManager.queue around a payload encoded by hand. */
function request(type: number, { byteLength, serialize }: Payload): { header: { type: number }; toBuffer(): Buffer } {
  const payload = {
    setChrootPath(chroot: string | undefined): void {
      // ZkClient connects without a chroot (the backend prefixes its own root).
      if (chroot) throw new Error('the multi codec does not support a chroot in the connect string');
    },
    byteLength,
    serialize,
  };
  const header = new jute.protocol.RequestHeader();
  header.type = type;
  return new jute.Request(header, payload);
}

/**
 * The library picks the decoder of an answer by the type in the request's header, and
 * knows neither multiRead nor sync: once the request is serialised, its header says
 * `type`, whose decoder reads the answer.
 */
function answeredAs(r: { header: { type: number }; toBuffer(): Buffer }, type: number): unknown {
  const serializeRequest = r.toBuffer.bind(r);
  r.toBuffer = () => {
    const bytes = serializeRequest();
    r.header.type = type;
    return bytes;
  };
  return r;
}

function opsPayload(ops: Encoded[]): Payload {
  return { byteLength: () => byteLength(ops), serialize: (buf, offset) => serialize(ops, buf, offset) };
}

/** A multi request of `ops` (throws on an invalid path before anything is sent). */
export function multiRequest(ops: readonly Op[]): unknown {
  return request(OP.MULTI, opsPayload(encodedOps(ops)));
}

/** A multiRead request of getData for `paths`, answered like a multi. */
export function multiReadRequest(paths: readonly string[]): unknown {
  return answeredAs(request(OP.MULTI_READ, opsPayload(paths.map((path) => ({ type: OP.GET_DATA, path })))), OP.MULTI);
}

/**
 * A sync request (opcode 9, `SyncRequest {ustring path}`): the server answers once it has
 * applied every write the leader committed before it saw the sync. Its answer (the path
 * again) is not needed, so it is read as a delete's, which has no body.
 */
export function syncRequest(path: string): unknown {
  Path.validate(path);
  const bytes = Buffer.from(path);
  const payload: Payload = {
    byteLength: () => 4 + bytes.length,
    serialize: (buf, offset) => {
      buf.writeInt32BE(bytes.length, offset);
      bytes.copy(buf, offset + 4);
      return 4 + bytes.length;
    },
  };
  return answeredAs(request(OP.SYNC, payload), OP.DELETE);
}

/** The error code of the op that failed a multi (ZooKeeper marks the ops after it), or 0. */
export function failure(results: readonly MultiResult[]): number {
  for (const r of results) if (r.type === OP.ERROR && r.err !== 0) return r.err!;
  return 0;
}

function long(buf: Buffer, at: number): number {
  return buf.readInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
}

function stat(buf: Buffer, at: number): Stat {
  // czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength, numChildren, pzxid
  return {
    ctime: long(buf, at + 16),
    mtime: long(buf, at + 24),
    version: buf.readInt32BE(at + 32),
    cversion: buf.readInt32BE(at + 36),
    ephemeralOwner: buf.toString('hex', at + 44, at + 52),
    numChildren: buf.readInt32BE(at + 56),
  };
}

/** Decodes a multi or multiRead answer at `offset`; returns the bytes read. */
export function decodeResults(buf: Buffer, offset: number, results: MultiResult[]): number {
  let at = offset;
  const int = (): number => {
    const v = buf.readInt32BE(at);
    at += 4;
    return v;
  };
  const bytes = (): Buffer | null => {
    const len = int();
    if (len < 0) return null;
    at += len;
    return buf.subarray(at - len, at);
  };
  for (;;) {
    const type = int();
    const done = buf[at++] !== 0;
    int(); // the header's err: an error result carries its own
    if (done) return at - offset;
    switch (type) {
      case OP.CREATE:
        results.push({ type, path: bytes()?.toString('utf8') ?? '' });
        break;
      case OP.DELETE:
      case OP.CHECK:
        results.push({ type });
        break;
      case OP.SET_DATA:
        results.push({ type, stat: stat(buf, at) });
        at += STAT_BYTES;
        break;
      case OP.GET_DATA: {
        // A copy: the answer's buffer is the socket's chunk, kept alive by any view of it.
        const data = Buffer.from(bytes() ?? Buffer.alloc(0));
        results.push({ type, data, stat: stat(buf, at) });
        at += STAT_BYTES;
        break;
      }
      case OP.ERROR:
        results.push({ type, err: int() });
        break;
      default:
        throw new Error(`Unknown type: ${type} in transaction response.`);
    }
  }
}

jute.TransactionResponse.prototype.deserialize = function (buf, offset) {
  return decodeResults(buf, offset, this.results);
};
