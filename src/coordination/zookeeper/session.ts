/**
 * The ZooKeeper session behind one coordinator instance: connects, replaces an expired
 * session with a new one (watches and ephemeral nodes are re-created by their owners on
 * the `session` event), and runs every operation through `run`, which is where an unknown
 * outcome is handled: after CONNECTION_LOSS (or a timeout, or an expiry) it waits for a
 * connection, passes a write barrier, and runs the operation again with `recovering` set,
 * so the operation re-reads what it may already have written before writing again.
 */
import { BASE_DIRS, type Layout } from './layout.js';
import { isOutcomeUnknown, isZk, unavailable, ZK } from './errors.js';
import { ZkClient, type SessionState } from './zk-client.js';

export interface SessionOptions {
  servers: string;
  layout: Layout;
  sessionTimeoutMs: number;
  /** How long `ready()` waits for the first connection. */
  connectTimeoutMs: number;
  /** How long one operation may take, retries after connection loss included. */
  operationTimeoutMs: number;
}

export type SessionEvent = SessionState | 'session';

/** A barrier, when it was sent (`performance.now()`), and on which client. */
interface SentBarrier {
  zk: ZkClient;
  sentAt: number;
  barrier: Promise<unknown>;
}

/** `reads` started now, answered once they and `barrier` are (a failure of either fails it). */
function behind<T>(barrier: Promise<unknown>, reads: (barrier: Promise<unknown>) => Promise<T>): Promise<T> {
  return Promise.all([barrier, new Promise<T>((started) => started(reads(barrier)))]).then(([, value]) => value);
}

/** Fresh reads waiting for the barrier of their turn. */
interface BarrierGroup {
  zk: ZkClient;
  waiting: ((barrier: Promise<unknown>) => void)[];
}

export class Session {
  private zk: ZkClient;
  private closed = false;
  private initialized: Promise<void> | null = null;
  private readonly dirs = new Set<string>();
  private readonly listeners = new Set<(event: SessionEvent, zk: ZkClient) => void>();

  constructor(private readonly options: SessionOptions) {
    this.zk = this.open();
  }

  get client(): ZkClient {
    return this.zk;
  }

  get layout(): Layout {
    return this.options.layout;
  }

  get servers(): string {
    return this.options.servers;
  }

  /** `connected`/`disconnected` of the current session; `session` once a new one replaced an expired one. */
  on(listener: (event: SessionEvent, zk: ZkClient) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private sessions = 0;
  /** Requests sent to ZooKeeper by kind, over every session this one opened. */
  readonly requests = new Map<string, number>();

  private open(): ZkClient {
    const generation = this.sessions++;
    const zk = new ZkClient({
      requests: this.requests,
      servers: this.options.servers,
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      opTimeoutMs: Math.min(this.options.operationTimeoutMs, Math.max(this.options.sessionTimeoutMs, 2000)),
    });
    let announced = false;
    zk.onState((state) => {
      if (this.closed || zk !== this.zk) return;
      if (state === 'expired') {
        // Nothing of the old session survives: open a new one; owners re-arm on `session`.
        this.zk = this.open();
        void zk.close();
        this.emit('expired', zk);
        return;
      }
      if (state === 'connected' && !announced) {
        announced = true;
        if (generation > 0) {
          this.emit('session', zk);
          return;
        }
      }
      this.emit(state, zk);
    });
    return zk;
  }

  private emit(event: SessionEvent, zk: ZkClient): void {
    for (const listener of this.listeners) {
      try {
        listener(event, zk);
      } catch {
        // A listener's failure must not stop the others.
      }
    }
  }

  /** The connected client, waiting until `deadline`; a session that expires meanwhile is replaced. */
  async connected(deadline: number): Promise<ZkClient> {
    for (;;) {
      if (this.closed) throw unavailable(this.options.servers, 'the coordinator is closed');
      const zk = this.zk;
      if (zk.connected) return zk;
      const left = deadline - Date.now();
      if (left <= 0) throw unavailable(this.options.servers, 'no connection to any node of the ensemble');
      try {
        await zk.whenConnected(left);
      } catch (err) {
        if (!isZk(err, ZK.SESSION_EXPIRED)) throw unavailable(this.options.servers, 'no connection to any node of the ensemble');
      }
    }
  }

  /** Connects and creates the base layout; UnavailableError after `connectTimeoutMs`. */
  async ready(): Promise<void> {
    await this.run((zk) => zk.exists(this.options.layout.root), Date.now() + this.options.connectTimeoutMs);
  }

  /**
   * Runs `attempt` with a connected client. On an unknown outcome it waits for a
   * connection, passes a barrier and runs it again with `recovering = true`: the attempt
   * must then look for its own earlier write before writing again.
   */
  async run<T>(attempt: (zk: ZkClient, recovering: boolean) => Promise<T>, deadline = Date.now() + this.options.operationTimeoutMs): Promise<T> {
    let recovering = false;
    for (;;) {
      const zk = await this.connected(deadline);
      try {
        await this.init(zk);
        if (recovering) await this.barrier(zk);
        return await attempt(zk, recovering);
      } catch (err) {
        if (!isOutcomeUnknown(err) || this.closed) throw err;
        recovering = true;
        if (Date.now() >= deadline) throw unavailable(this.options.servers, `${err.codeName.toLowerCase()} and no answer since`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  /**
   * ZooKeeper's sync: the server this session talks to answers only after it applied every
   * write the leader committed before the sync, so reads sent after a barrier see every
   * write acknowledged before it was sent. Unlike a write (a `check` multi, used before),
   * it is not a transaction: no proposal, no log entry, no fsync on three nodes. Like
   * every ZooKeeper sync it is not itself a quorum operation: a leader cut off from its
   * quorum could answer it until it steps down (within the session timeout).
   */
  barrier(zk: ZkClient): Promise<unknown> {
    return zk.sync(this.options.layout.root);
  }

  /**
   * Sends a barrier and then `reads` without waiting in between (same session: in order).
   * Reads asked for in the same turn of the event loop share one barrier, sent at the end
   * of that turn and before all of them: it is sent after each of them was asked for, so
   * each still sees every write acknowledged before it was asked for (one quorum write
   * per turn instead of one per read: a page of 50 jobs with their last builds was ~100).
   * `reads` gets the barrier: reads kept by watches are current once it is answered
   * (`WatchedReads`).
   *
   * `since` (a `performance.now()` of this process, at most now) asks less: every write
   * acknowledged before then, not before now. A barrier sent at or after `since` then
   * serves: the last one answered (the reads start at once), or the one in flight. A
   * request's reads pass its arrival, so its later rounds of reads (a jobs page, then each
   * job's newest build) share its first barrier, and concurrent requests share theirs.
   */
  fresh<T>(zk: ZkClient, reads: (barrier: Promise<unknown>) => Promise<T>, since?: number): Promise<T> {
    if (since !== undefined) {
      const serves = (sent: SentBarrier | null): sent is SentBarrier => sent?.zk === zk && sent.sentAt >= since;
      const sent = serves(this.answered) ? this.answered : serves(this.inFlight) ? this.inFlight : null;
      if (sent) return behind(sent.barrier, reads);
    }
    let group = this.barrierGroup;
    if (!group || group.zk !== zk) {
      const next: BarrierGroup = { zk, waiting: [] };
      this.barrierGroup = group = next;
      setImmediate(() => this.sendBarrier(next));
    }
    return new Promise<T>((resolve, reject) => {
      group.waiting.push((barrier) => behind(barrier, reads).then(resolve, reject));
    });
  }

  private barrierGroup: BarrierGroup | null = null;
  /** The barrier answered that was sent last, and the last one sent (see `fresh`'s `since`). */
  private answered: SentBarrier | null = null;
  private inFlight: SentBarrier | null = null;

  private sendBarrier(group: BarrierGroup): void {
    if (this.barrierGroup === group) this.barrierGroup = null;
    const sent: SentBarrier = { zk: group.zk, sentAt: performance.now(), barrier: this.barrier(group.zk) };
    this.inFlight = sent;
    sent.barrier.then(
      () => {
        if (this.inFlight === sent) this.inFlight = null;
        if (!this.answered || this.answered.sentAt < sent.sentAt) this.answered = sent;
      },
      () => {
        if (this.inFlight === sent) this.inFlight = null; // each waiter gets the failure through its own Promise.all
      },
    );
    for (const start of group.waiting) start(sent.barrier);
  }

  /** Creates the given persistent directories (and their ancestors under the root) once. */
  async ensureDirs(zk: ZkClient, paths: readonly string[]): Promise<void> {
    for (const path of paths) {
      if (this.dirs.has(path)) continue;
      const root = this.options.layout.root;
      const parts = path.slice(root.length + 1).split('/');
      for (let i = 1; i <= parts.length; i++) {
        const dir = `${root}/${parts.slice(0, i).join('/')}`;
        if (this.dirs.has(dir)) continue;
        await this.createDir(zk, dir);
      }
    }
  }

  private async createDir(zk: ZkClient, dir: string): Promise<void> {
    try {
      await zk.create(dir);
    } catch (err) {
      if (!isZk(err, ZK.NODE_EXISTS)) throw err;
    }
    this.dirs.add(dir);
  }

  private init(zk: ZkClient): Promise<void> {
    this.initialized ??= (async () => {
      const { root } = this.options.layout;
      const ancestors = root.split('/').slice(1);
      for (let i = 1; i <= ancestors.length; i++) await this.createDir(zk, `/${ancestors.slice(0, i).join('/')}`);
      const layout = this.options.layout;
      await Promise.all([...BASE_DIRS.map((d) => layout.dir(d)), layout.bell, layout.clock].map((d) => this.createDir(zk, d)));
    })().catch((err: unknown) => {
      this.initialized = null;
      throw err;
    });
    return this.initialized;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.zk.close();
  }
}
