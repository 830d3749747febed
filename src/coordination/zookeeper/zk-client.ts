/**
 * A small typed promise wrapper over node-zookeeper-client 1.1.3 (callbacks, untyped).
 * It fixes what the rest of the backend must not have to know:
 * - inside a transaction the library turns version 0 into -1 ("any version") for
 *   check/setData/remove (its issue #67), so a stale write at version 0 would commit:
 *   multis are encoded here (`multi-codec.ts`), with exactly the versions asked for;
 * - calls queue forever while disconnected; each call here fails after `opTimeoutMs` with
 *   OPERATION_TIMEOUT (outcome unknown, like CONNECTION_LOSS);
 * - stats carry 64-bit longs as 8-byte buffers; they become numbers (ms since the epoch);
 * - getData calls without a watcher made one after another in the same iteration of the
 *   event loop go out as one multiRead (`multi-codec.ts`) at the end of it, or as soon as
 *   another call is made, so requests keep their order on the wire.
 * One ZkClient is one ZooKeeper session; after it expires, make a new one.
 */
import { createRequire } from 'node:module';
import { isZk, ZK, ZkError, type Meaning } from './errors.js';
import { CREATE_FLAGS, failure, GET_DATA, multiReadRequest, multiRequest, syncRequest, type MultiResult } from './multi-codec.js';

export interface Stat {
  version: number;
  cversion: number;
  /** Milliseconds since the epoch, stamped by the ZooKeeper leader. */
  ctime: number;
  mtime: number;
  /** Session id (hex) of an ephemeral node's owner; '0000000000000000' when persistent. */
  ephemeralOwner: string;
  numChildren: number;
}

export type CreateMode = 'persistent' | 'ephemeral' | 'persistent-sequential' | 'ephemeral-sequential';

export type Op = (
  | { op: 'create'; path: string; data?: Buffer; mode?: CreateMode }
  | { op: 'set'; path: string; data: Buffer; version: number }
  | { op: 'check'; path: string; version: number }
  | { op: 'remove'; path: string; version: number }
) & { meaning?: Meaning };

export type OpResult = { op: 'create'; path: string } | { op: 'set'; stat: Stat } | { op: 'check' } | { op: 'remove' };

export type Watcher = () => void;
export type SessionState = 'connected' | 'disconnected' | 'expired';

// --- the untyped library, described as much as we use it ---------------------------
interface RawStat {
  version: number;
  cversion: number;
  ctime: Buffer;
  mtime: Buffer;
  ephemeralOwner: Buffer;
  numChildren: number;
}
interface RawError extends Error {
  getCode(): number;
}
type Cb<T extends unknown[]> = (err: RawError | null | undefined, ...rest: T) => void;
interface RawClient {
  connect(): void;
  close(): void;
  on(event: 'state', listener: (state: { name: string }) => void): void;
  getSessionId(): Buffer;
  getSessionPassword(): Buffer;
  getSessionTimeout(): number;
  create(path: string, data: Buffer, acls: unknown[], mode: number, cb: Cb<[string]>): void;
  remove(path: string, version: number, cb: Cb<[]>): void;
  setData(path: string, data: Buffer, version: number, cb: Cb<[RawStat]>): void;
  getData(path: string, watcher: Watcher | undefined, cb: Cb<[Buffer | null, RawStat]>): void;
  exists(path: string, watcher: Watcher | undefined, cb: Cb<[RawStat | null]>): void;
  getChildren(path: string, watcher: Watcher | undefined, cb: Cb<[string[], RawStat]>): void;
  connectionManager: {
    state: number;
    /** Watch callbacks by path; a reconnect sets every path in them again (one SetWatches). */
    watcherManager: { dataWatchers: object; childWatchers: object; existenceWatchers: object; isEmpty(): boolean };
    socket?: { destroy(): void; on(event: 'data', fn: () => void): void; remotePort?: number; cork(): void; uncork(): void };
    connectTimeoutHandler?: NodeJS.Timeout | null;
    /** Bytes of a reply not complete yet; the library keeps them across connections. */
    pendingBuffer: Buffer | null;
    on(event: 'state', listener: (state: number) => void): void;
    queue(request: unknown, cb: (err: RawError | null | undefined, response: { payload: { results: MultiResult[] } }) => void): void;
  };
}
interface RawModule {
  createClient(connect: string, options: Record<string, unknown>): RawClient;
  ACL: { OPEN_ACL_UNSAFE: unknown[] };
}
const zookeeper = createRequire(import.meta.url)('node-zookeeper-client') as RawModule;
const CLOSING = -1; // ConnectionManager.STATES.CLOSING: a closed socket is not reconnected.
const CONNECTING = 1; // ConnectionManager.STATES.CONNECTING: a new socket is about to open.
const EMPTY = Buffer.alloc(0);
const noop = (): void => undefined;


function long(buf: Buffer): number {
  return Number(buf.readBigInt64BE(0));
}

function toStat(raw: RawStat): Stat {
  return {
    version: raw.version,
    cversion: raw.cversion,
    ctime: long(raw.ctime),
    mtime: long(raw.mtime),
    ephemeralOwner: raw.ephemeralOwner.toString('hex'),
    numChildren: raw.numChildren,
  };
}

export interface ZkClientOptions {
  /** host:port,host:port (no chroot: the backend prefixes its own root). */
  servers: string;
  sessionTimeoutMs: number;
  opTimeoutMs: number;
  /** Counts the requests sent, by kind (`multi.ops` and `multiRead.reads` count what they carry). */
  requests?: Map<string, number>;
}

/** getData calls waiting for the end of the turn, to go out as one multiRead. */
interface PendingRead {
  path: string;
  resolve(value: { data: Buffer; stat: Stat }): void;
  reject(err: unknown): void;
}
/** Reads per multiRead: answers of up to ~4 KiB headers stay well under a MiB. */
const MAX_BATCHED_READS = 128;

export class ZkClient {
  private readonly raw: RawClient;
  private readonly listeners = new Set<(state: SessionState) => void>();
  private state: SessionState | 'connecting' | 'closed' = 'connecting';
  private lastHeard = Date.now();
  private endOfTurn = false;
  private corkedSocket: { uncork(): void } | null = null;
  private reads: PendingRead[] = [];
  /** Requests sent by kind, and what the batches carried (`multi.ops`, `multiRead.reads`). */
  readonly requests: Map<string, number>;
  private readonly watchdog: NodeJS.Timeout;

  constructor(private readonly options: ZkClientOptions) {
    this.requests = options.requests ?? new Map();
    this.raw = zookeeper.createClient(options.servers, {
      sessionTimeout: options.sessionTimeoutMs,
      spinDelay: 200,
      retries: 0,
    });
    // The library pings an idle connection every third of the session timeout but never
    // notices a server that stops answering (the Java client does): past two thirds
    // without a byte, drop the connection so that the library moves to another server.
    let lastTick = Date.now();
    this.watchdog = setInterval(() => {
      const now = Date.now();
      // After a stall of our own event loop, let the bytes that arrived meanwhile be read first.
      const stalled = now - lastTick > 1000;
      lastTick = now;
      if (!stalled && this.state === 'connected' && now - this.lastHeard > (this.raw.getSessionTimeout() * 2) / 3) {
        this.raw.connectionManager.socket?.destroy();
      }
    }, 250);
    this.watchdog.unref();
    // The library keeps the unread part of a reply cut off by a dying server and reads the
    // next server's connect answer behind it: a garbled length that waits for bytes that
    // never come, a session that never connects again. Every connection attempt starts
    // with CONNECTING, before its socket exists: start it with nothing left over.
    this.raw.connectionManager.on('state', (state) => {
      if (state === CONNECTING) this.raw.connectionManager.pendingBuffer = null;
    });
    this.raw.on('state', ({ name }) => {
      if (name === 'SYNC_CONNECTED') {
        this.lastHeard = Date.now();
        this.raw.connectionManager.socket?.on('data', () => (this.lastHeard = Date.now()));
      }
      const next: SessionState | null =
        name === 'SYNC_CONNECTED' ? 'connected' : name === 'DISCONNECTED' ? 'disconnected' : name === 'EXPIRED' ? 'expired' : null;
      if (next === null || this.state === 'closed' || this.state === 'expired') return;
      this.state = next;
      for (const listener of this.listeners) listener(next);
    });
    this.raw.connect();
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  get expired(): boolean {
    return this.state === 'expired';
  }

  /** The session id in hex, as ZooKeeper shows it in an ephemeral node's owner. */
  get sessionId(): string {
    return this.raw.getSessionId().toString('hex');
  }

  get sessionPassword(): Buffer {
    return this.raw.getSessionPassword();
  }

  /** The session timeout the ensemble granted (it clamps the one asked for). */
  get sessionTimeoutMs(): number {
    return this.raw.getSessionTimeout();
  }

  /** The client port of the server this session talks to now (diagnostics and tests). */
  get serverPort(): number | null {
    return this.connected ? (this.raw.connectionManager.socket?.remotePort ?? null) : null;
  }

  onState(listener: (state: SessionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once connected; rejects with OPERATION_TIMEOUT after `timeoutMs`, SESSION_EXPIRED if it expires. */
  whenConnected(timeoutMs: number): Promise<void> {
    if (this.state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: ZkError): void => {
        clearTimeout(timer);
        off();
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new ZkError(ZK.OPERATION_TIMEOUT, undefined)), timeoutMs);
      const off = this.onState((s) => {
        if (s === 'connected') done();
        else if (s === 'expired') done(new ZkError(ZK.SESSION_EXPIRED, undefined));
      });
      if (this.state === 'closed' || this.state === 'expired') done(new ZkError(ZK.SESSION_EXPIRED, undefined));
    });
  }

  create(path: string, data: Buffer = EMPTY, mode: CreateMode = 'persistent'): Promise<string> {
    return this.call<[string]>('create', path, (cb) => this.raw.create(path, data, zookeeper.ACL.OPEN_ACL_UNSAFE, CREATE_FLAGS[mode], cb)).then(
      ([created]) => created,
    );
  }

  remove(path: string, version: number): Promise<void> {
    return this.call<[]>('remove', path, (cb) => this.raw.remove(path, version, cb)).then(() => undefined);
  }

  setData(path: string, data: Buffer, version: number): Promise<Stat> {
    return this.call<[RawStat]>('setData', path, (cb) => this.raw.setData(path, data, version, cb)).then(([stat]) => toStat(stat));
  }

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer; stat: Stat }> {
    if (watcher) return this.getDataNow(path, watcher);
    return new Promise((resolve, reject) => {
      this.reads.push({ path, resolve, reject });
      this.atEndOfTurn();
      if (this.reads.length >= MAX_BATCHED_READS) this.flushReads();
    });
  }

  private getDataNow(path: string, watcher?: Watcher): Promise<{ data: Buffer; stat: Stat }> {
    return this.call<[Buffer | null, RawStat]>('getData', path, (cb) => this.raw.getData(path, watcher, cb)).then(([data, stat]) => ({
      data: data ?? EMPTY,
      stat: toStat(stat),
    }));
  }

  /** Sends the reads waiting for the end of the turn: one getData alone, more as one multiRead. */
  private flushReads(): void {
    const reads = this.reads;
    if (reads.length === 0) return;
    this.reads = [];
    if (reads.length === 1) {
      const [only] = reads as [PendingRead];
      this.getDataNow(only.path).then(only.resolve, only.reject);
      return;
    }
    this.count('multiRead.reads', reads.length);
    const paths = reads.map((r) => r.path);
    this.sendBatch('multiRead', paths[0], () => multiReadRequest(paths), false).then(
      ([results]) => {
        for (const [i, read] of reads.entries()) {
          const r = results[i];
          if (r?.type === GET_DATA && r.stat) read.resolve({ data: r.data ?? EMPTY, stat: r.stat });
          else read.reject(new ZkError(r?.err ?? ZK.SYSTEM_ERROR, read.path));
        }
      },
      (err: unknown) => {
        for (const read of reads) read.reject(err instanceof ZkError ? new ZkError(err.code, read.path) : err);
      },
    );
  }

  /**
   * The node's stat, or null when it does not exist: a getData whose data is dropped, so it
   * goes out with the turn's other reads as one multiRead (`exists` cannot be in one). For
   * nodes with little data: directories, counters. Claims check a queue's directories this
   * way; as `exists` they were ~3,000 requests/s at 1,000 builds in flight.
   */
  stat(path: string): Promise<Stat | null> {
    return this.getData(path).then(
      ({ stat }) => stat,
      (err: unknown) => (isZk(err, ZK.NO_NODE) ? null : Promise.reject(err)),
    );
  }

  /** The node's stat, or null; with a watcher, fires on its creation, change or deletion. */
  exists(path: string, watcher?: Watcher): Promise<Stat | null> {
    return this.call<[RawStat | null]>('exists', path, (cb) => this.raw.exists(path, watcher, cb)).then(([stat]) => (stat ? toStat(stat) : null));
  }

  getChildren(path: string, watcher?: Watcher): Promise<string[]> {
    return this.call<[string[], RawStat]>('getChildren', path, (cb) => this.raw.getChildren(path, watcher, cb)).then(([children]) => children);
  }

  /**
   * The children and the parent's stat as of that listing (its cversion and numChildren
   * tell later changes apart); with a watcher, fires once a child is created or deleted,
   * or the node is.
   */
  listChildren(path: string, watcher?: Watcher): Promise<{ children: string[]; stat: Stat }> {
    return this.call<[string[], RawStat]>('getChildren', path, (cb) => this.raw.getChildren(path, watcher, cb)).then(([children, stat]) => ({
      children,
      stat: toStat(stat),
    }));
  }

  /**
   * Resolves once the server this session talks to has applied every write the leader
   * committed before the sync reached it; reads sent after it (same session, in order) see
   * all of them. Not a transaction: nothing is logged or fsynced, unlike a write.
   */
  sync(path: string): Promise<void> {
    return this.call<[]>('sync', path, (cb) => this.raw.connectionManager.queue(syncRequest(path), (err) => cb(err))).then(() => undefined);
  }

  /**
   * Applies all ops atomically or none. On failure throws ZkError with the index and
   * meaning of the op that failed (ZooKeeper marks the ops after it RUNTIME_INCONSISTENCY).
   */
  async multi(ops: Op[]): Promise<OpResult[]> {
    let results: MultiResult[];
    try {
      this.count('multi.ops', ops.length);
      [results] = await this.sendBatch('multi', ops[0]?.path, () => multiRequest(ops), true);
    } catch (err) {
      if (!(err instanceof ZkError) || err.code === ZK.CONNECTION_LOSS || err.code === ZK.OPERATION_TIMEOUT) throw err;
      throw this.failedOp(ops, err, (err as ZkError & { results?: MultiResult[] }).results);
    }
    return ops.map((op, i): OpResult => {
      const r = results[i];
      switch (op.op) {
        case 'create':
          return { op: 'create', path: r?.path ?? op.path };
        case 'set':
          return { op: 'set', stat: r!.stat! };
        case 'check':
          return { op: 'check' };
        case 'remove':
          return { op: 'remove' };
      }
    });
  }

  private failedOp(ops: Op[], err: ZkError, results: { err?: number }[] | undefined): ZkError {
    const codes = (results ?? []).map((r) => r.err ?? ZK.OK);
    let index = codes.findIndex((c) => c !== ZK.OK && c !== ZK.RUNTIME_INCONSISTENCY);
    if (index < 0) index = codes.findIndex((c) => c !== ZK.OK);
    const op = index >= 0 ? ops[index] : undefined;
    return new ZkError(index >= 0 ? codes[index]! : err.code, op?.path ?? err.path, index >= 0 ? index : undefined, op?.meaning);
  }

  /** Ends the session (its ephemeral nodes go at once) and leaves no socket or timer behind. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    clearInterval(this.watchdog);
    const wasConnected = this.state === 'connected';
    this.state = 'closed';
    this.listeners.clear();
    const manager = this.raw.connectionManager;
    if (wasConnected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.raw.on('state', ({ name }) => {
          if (name === 'DISCONNECTED') {
            clearTimeout(timer);
            resolve();
          }
        });
        this.raw.close();
      });
    }
    // Not connected: the library's close() would write to a socket that may not exist yet.
    // CLOSING makes it give up the connection attempt in flight instead of retrying.
    manager.state = CLOSING;
    manager.socket?.destroy();
    if (manager.connectTimeoutHandler) clearTimeout(manager.connectTimeoutHandler);
  }

  /**
   * The library writes every request to the socket by itself; requests sent in the same
   * iteration of the event loop (the reads of every claim whose HTTP request arrived in
   * one poll, many claims resuming at once) go out in one write instead, after the I/O
   * callbacks of that iteration. A write to a loopback socket was the largest single cost
   * of a claim in a frontend's profile.
   */
  private cork(): void {
    this.atEndOfTurn();
    const socket = this.raw.connectionManager.socket;
    if (this.corkedSocket !== null || !socket) return;
    socket.cork();
    this.corkedSocket = socket;
  }

  /** At the end of this turn: send the reads waiting for it, then uncork. */
  private atEndOfTurn(): void {
    if (this.endOfTurn) return;
    this.endOfTurn = true;
    setImmediate(() => {
      this.flushReads(); // still this turn's: written into the corked socket
      this.endOfTurn = false;
      const socket = this.corkedSocket;
      this.corkedSocket = null;
      socket?.uncork();
    });
  }

  /**
   * Sends a multi or multiRead request built by `multi-codec.ts` (built inside the call, so
   * an invalid path fails before anything is sent). `allOrNothing`: a failed op fails the
   * request, with every op's result beside the error (a multi); else each result stands
   * alone (a multiRead).
   */
  private sendBatch(kind: string, path: string | undefined, build: () => unknown, allOrNothing: boolean): Promise<[MultiResult[]]> {
    return this.call<[MultiResult[]]>(kind, path, (cb) =>
      this.raw.connectionManager.queue(build(), (err, response) => {
        if (err) return cb(err, []);
        const results = response.payload.results;
        const code = allOrNothing ? failure(results) : ZK.OK;
        cb(code === ZK.OK ? null : { name: 'ZkError', message: `multi failed: ${code}`, getCode: () => code }, results);
      }),
    );
  }

  private count(kind: string, n = 1): void {
    this.requests.set(kind, (this.requests.get(kind) ?? 0) + n);
  }

  /**
   * Forgets every watch registered through this client, so that the next connection does
   * not set them again: the library sends them all in one SetWatches, which the server
   * refuses past its jute.maxbuffer (1 MB: ~25,000 paths) — the session could not reconnect.
   * Only for a session whose watches are all given up on a connection event anyway (the
   * reader's, `WatchedReads`).
   */
  dropWatches(): void {
    const watchers = this.raw.connectionManager.watcherManager;
    watchers.dataWatchers = {};
    watchers.childWatchers = {};
    watchers.existenceWatchers = {};
  }

  /** Whether any watch is registered through this client (tests). */
  get watching(): boolean {
    return !this.raw.connectionManager.watcherManager.isEmpty();
  }

  /**
   * Settles once every request sent so far (reads still waiting for the end of the turn
   * not included) was answered or failed: ZooKeeper answers a session's requests in order,
   * so that is once the last one sent is.
   */
  answeredSoFar(): Promise<void> {
    return this.lastSent.then(noop, noop);
  }

  /** The last request sent (its own caller handles its failure). */
  private lastSent: Promise<unknown> = Promise.resolve();

  /** Runs one library call with a deadline; library exceptions become ZkErrors. */
  private call<T extends unknown[]>(kind: string, path: string | undefined, start: (cb: Cb<T>) => void): Promise<T> {
    this.count(kind);
    this.flushReads(); // reads asked for before this call go out before it
    this.cork();
    const answer = this.send(path, start);
    this.lastSent = answer;
    return answer;
  }

  private send<T extends unknown[]>(path: string | undefined, start: (cb: Cb<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ZkError(ZK.OPERATION_TIMEOUT, path)), this.options.opTimeoutMs);
      try {
        start((err, ...rest) => {
          clearTimeout(timer);
          if (err) {
            const zkErr = new ZkError(typeof err.getCode === 'function' ? err.getCode() : ZK.SYSTEM_ERROR, path);
            // A failed transaction passes its per-op results beside the error.
            if (rest[0] !== undefined) (zkErr as ZkError & { results?: unknown }).results = rest[0];
            reject(zkErr);
          } else resolve(rest as T);
        });
      } catch (err) {
        clearTimeout(timer);
        // The library asserts on bad paths and oversized data before sending anything.
        reject(Object.assign(new ZkError(ZK.BAD_ARGUMENTS, path), { cause: err }));
      }
    });
  }
}
