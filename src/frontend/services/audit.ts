import { createHash } from 'node:crypto';
import type { Coordinator } from '../../coordination/contract.js';
import { ConflictError } from '../../core/errors.js';
import type { Identity } from '../auth.js';

export const AUDIT_ACTIONS = ['job.apply', 'job.delete', 'build.trigger', 'build.cancel', 'secret.set', 'secret.delete', 'secrets.rotate'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** What happened; the actor, time and frontend are added when it is recorded. */
export interface AuditEvent {
  action: AuditAction;
  job?: string;
  build?: number;
  secret?: string;
  /** Small facts about the change (a version, a cause); never a secret value. */
  details?: Record<string, unknown>;
}

/** The coordinator record `audit/<seq:10>`, written once and never changed. */
export interface AuditEntry extends AuditEvent {
  seq: number;
  /** Milliseconds since the epoch, by the recording frontend's clock. */
  at: number;
  /** The token that did it (its configured name and role); `anonymous` when auth is off. */
  actor: { name: string; role: string };
  /** Which frontend recorded it. */
  frontend: string;
  /** The caller's address as the frontend saw it. */
  ip?: string;
}

export interface AuditQuery {
  /** Entries with a greater seq than this (the `next` of the previous page). */
  after?: number;
  limit: number;
  job?: string;
  actor?: string;
  action?: AuditAction;
}

const COUNTER = 'audit-log';
const PREFIX = 'audit/';
const entryKey = (seq: number): string => `${PREFIX}${String(seq).padStart(10, '0')}`;
/** A filtered query reads at most this many entries per call, then hands back a cursor. */
const MAX_SCAN = 10_000;

/**
 * The append-only audit log. Each entry is its own numbered record, created in one atomic
 * coordinator step with the next value of a counter, so any number of frontends append
 * at once and none is lost or overwritten; nothing ever updates or deletes an entry.
 */
export class AuditLog {
  constructor(
    private readonly coordinator: Coordinator,
    /** Names this frontend in the entries it writes. */
    private readonly frontend: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Appends an entry for a change that has been made. `once` names the change for a
   * retried request (a build number, say): an entry with the same `once` is written only
   * the first time.
   */
  async record(by: { identity?: Identity | undefined; ip?: string }, event: AuditEvent, once?: string): Promise<void> {
    const identity = by.identity ?? { name: 'anonymous', role: 'admin' };
    try {
      await this.coordinator.createNumbered<AuditEntry>(
        COUNTER,
        PREFIX,
        (seq) => ({
          seq,
          at: this.now(),
          ...event,
          actor: { name: identity.name, role: identity.role },
          frontend: this.frontend,
          ...(by.ip ? { ip: by.ip } : {}),
        }),
        once ? { uniqueKey: `audit-once/${createHash('sha256').update(once).digest('hex').slice(0, 40)}` } : {},
      );
    } catch (err) {
      if (once && err instanceof ConflictError && typeof err.details.number === 'number') return;
      throw err;
    }
  }

  /** Oldest first. Filters are applied to at most MAX_SCAN entries per call; `next` continues. */
  async list(query: AuditQuery): Promise<{ entries: AuditEntry[]; next: number | null }> {
    const entries: AuditEntry[] = [];
    let after = query.after ? entryKey(query.after) : undefined;
    let scanned = 0;
    for (;;) {
      const page = await this.coordinator.listRecords<AuditEntry>(PREFIX, { limit: Math.min(1000, Math.max(query.limit, 100)), ...(after ? { after } : {}) });
      for (const { value } of page.records) {
        scanned++;
        if (matches(value, query)) entries.push(value);
        if (entries.length === query.limit || scanned === MAX_SCAN) return { entries, next: value.seq };
      }
      if (!page.next) return { entries, next: null };
      after = page.next;
    }
  }
}

function matches(entry: AuditEntry, query: AuditQuery): boolean {
  return (
    (query.job === undefined || entry.job === query.job) &&
    (query.actor === undefined || entry.actor.name === query.actor) &&
    (query.action === undefined || entry.action === query.action)
  );
}
