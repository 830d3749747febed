/**
 * The instances (frontends) claiming tickets under a root, each an ephemeral-sequential
 * `members/m<seq>` created on its first claim.
 * Claims use this instance's slot to prefer other entries than racing instances do: under
 * contention, among the first entries in claim order, those whose id falls in its slot.
 * Only a preference: an instance never waits for its slot, and a missing or outdated
 * member list only brings back the races it avoids.
 */
import type { Session } from './session.js';

export interface Slot {
  index: number;
  count: number;
}

export class Members {
  private me: string | null = null;
  private slotNow: Slot | null = null;
  private stopped = false;
  private joining: Promise<void> | null = null;
  private readonly changed = (): void => void this.refresh();

  constructor(private readonly session: Session) {
    session.on((event) => {
      if (event === 'session' && this.me !== null) {
        this.me = null; // the ephemeral node went with the old session
        void this.join();
      }
    });
  }

  /** This instance's slot among the members, or null when alone or unknown. */
  get slot(): Slot | null {
    return this.slotNow;
  }

  /** Joins once (and again after a session expiry); cheap to call on every claim. */
  join(): Promise<void> {
    if (this.me !== null || this.stopped) return Promise.resolve();
    this.joining ??= (async () => {
      try {
        const zk = this.session.client;
        this.me ??= await zk.create(`${this.session.layout.dir('members')}/m`, Buffer.alloc(0), 'ephemeral-sequential');
        await this.refresh();
      } catch {
        // Without a slot, claims only race more.
      } finally {
        this.joining = null;
      }
    })();
    return this.joining;
  }

  private async refresh(): Promise<void> {
    if (this.stopped || !this.me) return;
    try {
      const names = (await this.session.client.getChildren(this.session.layout.dir('members'), this.changed)).sort();
      const index = names.indexOf(this.me.slice(this.me.lastIndexOf('/') + 1));
      this.slotNow = index >= 0 && names.length > 1 ? { index, count: names.length } : null;
    } catch {
      this.slotNow = null;
    }
  }

  stop(): void {
    this.stopped = true;
  }
}
