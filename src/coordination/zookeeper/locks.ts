/**
 * Named locks as ephemeral znodes: held while this coordinator's session lives, gone by
 * themselves when its process dies (after the session timeout). `lost` is aborted when
 * the session expires, when the node disappears, or when the connection has been down so
 * long (2/3 of the session timeout) that the ensemble may already have expired the session.
 */
import { randomUUID } from 'node:crypto';
import type { LockHandle } from '../contract.js';
import { assertKey } from '../record-keys.js';
import { isZk, ZK } from './errors.js';
import { json, parse } from './layout.js';
import type { Session } from './session.js';
import type { ZkClient } from './zk-client.js';

interface Held {
  path: string;
  session: string;
  lost: AbortController;
}

export class Locks {
  private readonly held = new Set<Held>();
  private disconnectTimer: NodeJS.Timeout | null = null;

  constructor(private readonly session: Session) {
    session.on((event, zk) => {
      if (event === 'expired') this.loseAll();
      if (event === 'disconnected' && !this.disconnectTimer) {
        this.disconnectTimer = setTimeout(() => this.loseAll(), (zk.sessionTimeoutMs * 2) / 3);
        this.disconnectTimer.unref();
      }
      if (event === 'connected' || event === 'session') this.clearTimer();
    });
  }

  async tryLock(name: string, holder: string): Promise<LockHandle | null> {
    assertKey('lock name', name);
    const path = this.session.layout.lock(name);
    const op = randomUUID();
    return this.session.run(async (zk, recovering) => {
      if (recovering) {
        const got = await zk.getData(path).catch(() => null);
        if (got && got.stat.ephemeralOwner === zk.sessionId && parse<{ op: string }>(got.data).op === op) return this.handle(zk, name, path);
      }
      try {
        await zk.create(path, json({ holder, op }), 'ephemeral');
      } catch (err) {
        if (isZk(err, ZK.NODE_EXISTS)) return null;
        throw err;
      }
      return this.handle(zk, name, path);
    });
  }

  private handle(zk: ZkClient, name: string, path: string): LockHandle {
    const held: Held = { path, session: zk.sessionId, lost: new AbortController() };
    this.held.add(held);
    const lose = (): void => {
      this.held.delete(held);
      held.lost.abort();
    };
    // One-shot watch, re-armed while the node is ours.
    const watch = (): void => {
      if (held.lost.signal.aborted) return;
      zk.exists(path, watch).then(
        (stat) => {
          if (!stat || stat.ephemeralOwner !== held.session) lose();
        },
        () => undefined, // connection trouble: the session events decide
      );
    };
    watch();
    return {
      name,
      lost: held.lost.signal,
      release: async () => {
        const wasHeld = !held.lost.signal.aborted;
        lose();
        if (wasHeld) await this.remove(held);
      },
    };
  }

  private async remove(held: Held): Promise<void> {
    try {
      await this.session.run(async (zk) => {
        if (zk.sessionId !== held.session) return; // that session is gone, and the node with it
        const stat = await zk.exists(held.path);
        if (stat && stat.ephemeralOwner === held.session) await zk.remove(held.path, stat.version);
      });
    } catch {
      // Unreachable now: the node goes with the session at the latest.
    }
  }

  private loseAll(): void {
    this.clearTimer();
    for (const held of [...this.held]) {
      this.held.delete(held);
      held.lost.abort();
    }
  }

  private clearTimer(): void {
    if (this.disconnectTimer) clearTimeout(this.disconnectTimer);
    this.disconnectTimer = null;
  }

  /** Before the session closes, which removes the ephemeral nodes with it. */
  close(): void {
    this.loseAll();
  }
}
