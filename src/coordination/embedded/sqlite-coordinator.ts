import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DistciError, UnavailableError } from '../../core/errors.js';
import type { NewTicket, Ticket, TicketResult } from '../../core/ticket.js';
import type {
  ChangeHint,
  Claim,
  ClaimRequest,
  Coordinator,
  LockHandle,
  PostOutcome,
  QueueStat,
  Fence,
  RecordPage,
  RecordPageRequest,
  TicketFilter,
  Unsubscribe,
  VersionedRecord,
} from '../contract.js';
import { Doorbell } from './doorbell.js';
import { GroupCommit } from './group-commit.js';
import { applyPragmas, migrate } from './schema.js';
import { assertKey } from '../record-keys.js';
import { StateQueries } from './state-queries.js';
import { TicketQueries } from './ticket-queries.js';

export interface SqliteCoordinatorOptions {
  /** Path of the database file; every process given the same path is one coordinator. */
  path: string;
  /**
   * The clock that decides lease expiry. Every process sharing a SQLite file runs on one
   * machine (SQLite must not be shared over a network filesystem), so the machine's wall
   * clock is the one clock of this backend. Injectable for tests only.
   */
  now?: () => number;
  lockTtlMs?: number;
  /** Safety-net poll of PRAGMA data_version for wake-ups the doorbell missed. */
  safetyPollMs?: number;
  checkpointMs?: number;
}

export class SqliteCoordinator implements Coordinator {
  readonly backend = 'sqlite';
  private readonly db: Database.Database;
  private readonly tickets: TicketQueries;
  private readonly state: StateQueries;
  private readonly bell: Doorbell;
  private readonly writes: GroupCommit;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly locks = new Set<{ release(): Promise<void> }>();
  private readonly lockTtlMs: number;
  private lastDataVersion = 0;
  private closed = false;

  constructor(options: SqliteCoordinatorOptions) {
    const now = options.now ?? Date.now;
    this.lockTtlMs = options.lockTtlMs ?? 10_000;
    try {
      mkdirSync(dirname(options.path), { recursive: true });
      this.db = new Database(options.path);
      applyPragmas(this.db);
      migrate(this.db);
    } catch (err) {
      throw new UnavailableError(
        `cannot open the coordinator database ${options.path}: ${(err as Error).message}; ` +
          'check that the directory is writable and on a local disk',
      );
    }
    this.tickets = new TicketQueries(this.db, now);
    this.state = new StateQueries(this.db, now);
    this.bell = new Doorbell(`${options.path}.bell`);
    this.writes = new GroupCommit(
      this.db,
      (fn) => this.run(fn),
      () => this.bell.ring(),
      () => this.tickets.endRuns(),
    );
    const dataVersion = this.db.prepare('PRAGMA data_version').pluck();
    this.lastDataVersion = dataVersion.get() as number;
    this.every(options.safetyPollMs ?? 500, () => {
      const v = dataVersion.get() as number;
      if (v !== this.lastDataVersion) {
        this.lastDataVersion = v;
        this.bell.emit();
      }
    });
    this.every(options.checkpointMs ?? 1000, () => this.db.pragma('wal_checkpoint(PASSIVE)'));
  }

  async ready(): Promise<void> {
    this.run(() => this.db.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lock of [...this.locks]) await lock.release();
    for (const t of this.timers) clearInterval(t);
    this.bell.close();
    this.db.close();
  }

  async post(input: NewTicket): Promise<PostOutcome> {
    return this.writes.submit(() => {
      const { claimable, ...outcome } = this.tickets.post(input);
      return { value: outcome, ring: claimable };
    });
  }

  async get(id: string): Promise<Ticket> {
    return this.run(() => this.tickets.get(id));
  }

  async list(filter: TicketFilter): Promise<Ticket[]> {
    return this.run(() => this.tickets.list(filter));
  }

  async claim(request: ClaimRequest): Promise<Claim | null> {
    return this.writes.submit(() => ({ value: this.tickets.claim(request), ring: false }));
  }

  async renew(id: string, token: number, ttlMs: number): Promise<Claim> {
    return this.writes.submit(() => ({ value: this.tickets.renew(id, token, ttlMs), ring: false }));
  }

  async complete(id: string, token: number, result: TicketResult): Promise<Ticket> {
    return this.writes.submit(() => {
      const { ticket, claimable } = this.tickets.complete(id, token, result);
      return { value: ticket, ring: claimable };
    });
  }

  async cancel(id: string): Promise<Ticket> {
    const { ticket, claimable } = this.run(() => this.tickets.cancel(id));
    if (claimable) this.bell.ring();
    return ticket;
  }

  async release(id: string, token: number): Promise<Ticket> {
    return this.writes.submit(() => ({ value: this.tickets.release(id, token), ring: true }));
  }

  async expireLeases(): Promise<number> {
    const { requeued, ended, claimable } = this.run(() => this.tickets.expireLeases());
    if (claimable) this.bell.ring();
    return requeued + ended;
  }

  async purgeDone(retainMs: number, limit: number): Promise<number> {
    return this.run(() => this.db.transaction(() => this.tickets.purgeDone(retainMs, limit)).immediate());
  }

  async queueStats(): Promise<QueueStat[]> {
    return this.run(() => this.tickets.queueStats());
  }

  onClaimable(listener: (hint: ChangeHint) => void): Unsubscribe {
    return this.bell.subscribe(() => listener({}));
  }

  async currentNumber(counter: string): Promise<number> {
    return this.run(() => this.state.currentNumber(counter));
  }

  async nextNumber(counter: string): Promise<number> {
    return this.run(() => this.state.nextNumber(counter));
  }

  async createNumbered<T>(
    counter: string,
    prefix: string,
    value: (n: number) => T,
    also: { ticket?: (n: number) => NewTicket; uniqueKey?: string } = {},
  ): Promise<VersionedRecord<T> & { number: number; key: string }> {
    let claimable = false;
    const created = this.run(() =>
      this.db
        .transaction(() => {
          const made = this.state.createNumbered(counter, prefix, value, also.uniqueKey);
          if (also.ticket) claimable = this.tickets.postInTransaction(also.ticket(made.number)).claimable;
          return made;
        })
        .immediate(),
    );
    if (claimable) this.bell.ring();
    return created;
  }

  async getRecord<T>(key: string): Promise<VersionedRecord<T> | null> {
    return this.run(() => this.state.getRecord<T>(key));
  }

  async putRecord<T>(key: string, value: T, expectedVersion: number, fence?: Fence): Promise<VersionedRecord<T>> {
    return this.run(() => this.state.putRecord(key, value, expectedVersion, fence));
  }

  async deleteRecord(key: string, expectedVersion: number): Promise<void> {
    this.run(() => this.state.deleteRecord(key, expectedVersion));
  }

  async listRecords<T>(prefix: string, page?: RecordPageRequest): Promise<RecordPage<T>> {
    return this.run(() => this.state.listRecords<T>(prefix, page));
  }

  async tryLock(name: string, holder: string): Promise<LockHandle | null> {
    assertKey('lock name', name);
    if (!this.run(() => this.state.holdLock(name, holder, this.lockTtlMs))) return null;
    const lost = new AbortController();
    const timer = setInterval(() => {
      try {
        if (!this.state.holdLock(name, holder, this.lockTtlMs)) throw new Error('taken over');
      } catch {
        lost.abort();
        clearInterval(timer);
      }
    }, this.lockTtlMs / 3);
    timer.unref();
    const handle = {
      name,
      lost: lost.signal,
      release: async (): Promise<void> => {
        clearInterval(timer);
        this.locks.delete(handle);
        if (!lost.signal.aborted) this.run(() => this.state.dropLock(name, holder));
        lost.abort();
      },
    };
    this.locks.add(handle);
    return handle;
  }

  private every(ms: number, fn: () => void): void {
    const timer = setInterval(() => {
      try {
        fn();
      } catch {
        // Housekeeping only; the next tick tries again.
      }
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** The one place where SQLite's native errors become ours. */
  private run<T>(fn: () => T): T {
    if (this.closed) throw new UnavailableError('the coordinator is closed');
    try {
      return fn();
    } catch (err) {
      if (err instanceof DistciError) throw err;
      const code = (err as { code?: string }).code ?? '';
      if (/^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL)/.test(code)) {
        throw new UnavailableError(`coordinator database is unavailable (${code}); retry shortly`, { sqliteCode: code });
      }
      throw err;
    }
  }
}
