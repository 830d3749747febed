/**
 * Claimable notifications from one watched znode, the bell, which every transaction that
 * makes work claimable writes (post, release, requeue, follow-up). ZooKeeper watches are
 * one-shot: on each event the re-arm is sent first and listeners are told right after
 * (without waiting for its reply), so a write that lands after the re-arm fires the new
 * watch, and one before it is covered by the hint: the listeners' reads follow the re-arm
 * on the same session. Events arriving while a re-arm is in flight merge into one
 * more round. The client re-registers watches itself after a reconnect (and the server
 * fires those whose node changed meanwhile); after a session expiry the watch is armed
 * on the new session and listeners get a hint, since changes may have been missed.
 */
import type { ChangeHint, Unsubscribe } from '../contract.js';
import type { Session } from './session.js';

export class ClaimableWatch {
  private readonly listeners = new Set<(hint: ChangeHint) => void>();
  private arming = false;
  private again = false;
  /** A change was seen that listeners have not been told of yet. */
  private pending = false;
  private armed = false;
  private lastVersion: number | null = null;
  private retry: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Counts the bell changes (and connection events) seen; see `epoch`. */
  private seen = 0;
  /** The one watcher function: the client keeps one registration per function and path. */
  private readonly fired = (): void => {
    this.seen++;
    void this.arm(true);
  };

  constructor(private readonly session: Session) {
    session.on((event) => {
      this.seen++; // a reconnect or a new session may hide changes: no view is trusted across one
      if (event === 'session') {
        this.armed = false;
        void this.arm(true);
      } else if (event === 'connected' && (!this.armed || this.pending)) {
        void this.arm(false);
      }
    });
  }

  /**
   * Changes when the bell may have been written since: the watch fired, the re-arm found
   * another version, or the connection changed; -1 unless the watch is registered on a
   * live connection (not while a re-arm is on its way). A bell event reaches this session
   * before any reply sent after it, so a claim that starts in the same epoch as an earlier
   * check of the queue view knows that no work was made claimable (as far as this
   * session's server knows) in between.
   */
  get epoch(): number {
    return this.armed && !this.arming && this.session.client.connected ? this.seen : -1;
  }

  /** Arms the watch once the session is up (so no change after `ready()` goes unseen). */
  start(): void {
    if (!this.armed) void this.arm(false);
  }

  subscribe(listener: (hint: ChangeHint) => void): Unsubscribe {
    this.listeners.add(listener);
    this.start();
    return () => this.listeners.delete(listener);
  }

  private async arm(changed: boolean): Promise<void> {
    if (this.stopped) return;
    this.pending ||= changed;
    if (this.arming) {
      this.again = true;
      return;
    }
    this.arming = true;
    try {
      do {
        this.again = false;
        const zk = this.session.client;
        if (!zk.connected) return; // armed again on `connected` / `session`
        const rearm = zk.exists(this.session.layout.bell, this.fired);
        // Tell listeners now, not after the re-arm's reply (which waits for every write this
        // session has in flight): whatever they read next goes out after the re-arm on this
        // same session, so it sees at least what the re-arm sees.
        const told = this.pending;
        if (told) {
          this.pending = false;
          this.emit();
        }
        const stat = await rearm;
        this.armed = true;
        const version = stat?.version ?? -1;
        if (this.lastVersion !== null && version !== this.lastVersion) this.seen++;
        if (!told && this.lastVersion !== null && version !== this.lastVersion) this.pending = true;
        this.lastVersion = version;
        if (this.pending) {
          this.pending = false;
          this.emit();
        }
      } while (this.again && !this.stopped);
    } catch {
      this.retry ??= setTimeout(() => {
        this.retry = null;
        void this.arm(true);
      }, 100);
      this.retry.unref();
    } finally {
      this.arming = false;
    }
  }

  private emit(): void {
    for (const listener of this.listeners) {
      try {
        listener({});
      } catch {
        // A listener's failure must not stop the others.
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.listeners.clear();
    if (this.retry) clearTimeout(this.retry);
  }
}
