import type Database from 'better-sqlite3';
import { ConflictError, LeaseLostError } from '../../core/errors.js';
import { assertKey } from '../record-keys.js';
import type { Fence, RecordPage, RecordPageRequest, VersionedRecord } from '../contract.js';
import { parseSeq } from './rows.js';

/** Counters, compare-and-set records and expiring locks: the small mutable state. */
export class StateQueries {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly now: () => number,
  ) {
    this.s = {
      next: db.prepare(`INSERT INTO counters (name, value) VALUES (?, 1)
        ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value`),
      current: db.prepare('SELECT value FROM counters WHERE name = ?').pluck(),
      getRecord: db.prepare('SELECT value, version FROM records WHERE key = ?'),
      createRecord: db.prepare('INSERT INTO records (key, value, version) VALUES (?, ?, 1) ON CONFLICT DO NOTHING'),
      updateRecord: db.prepare('UPDATE records SET value = ?, version = version + 1 WHERE key = ? AND version = ?'),
      deleteRecord: db.prepare('DELETE FROM records WHERE key = ? AND version = ?'),
      // Range scan on the primary key: keys >= prefix and < prefix with its last char bumped.
      listRecords: db.prepare(`SELECT key, value, version FROM records
        WHERE key >= @from AND key < @to AND key > @after ORDER BY key LIMIT @limit`),
      listRecordsDesc: db.prepare(`SELECT key, value, version FROM records
        WHERE key >= @from AND key < @to AND key < @before ORDER BY key DESC LIMIT @limit`),
      leaseToken: db.prepare(`SELECT status, lease_token FROM tickets WHERE seq = ?`),
      takeLock: db.prepare(`INSERT INTO locks (name, holder, expires_at) VALUES (@name, @holder, @expiresAt)
        ON CONFLICT (name) DO UPDATE SET holder = @holder, expires_at = @expiresAt
        WHERE locks.holder = @holder OR locks.expires_at < @now`),
      dropLock: db.prepare('DELETE FROM locks WHERE name = ? AND holder = ?'),
    };
  }

  nextNumber(counter: string): number {
    assertKey('counter', counter);
    return (this.s.next.get(counter) as { value: number }).value;
  }

  currentNumber(counter: string): number {
    assertKey('counter', counter);
    return (this.s.current.get(counter) as number | undefined) ?? 0;
  }

  /** Runs inside the caller's transaction (see SqliteCoordinator.createNumbered). */
  createNumbered<T>(counter: string, prefix: string, value: (n: number) => T, uniqueKey?: string): VersionedRecord<T> & { number: number; key: string } {
    assertKey('counter', counter);
    if (uniqueKey !== undefined) {
      assertKey('record key', uniqueKey);
      const taken = this.s.getRecord.get(uniqueKey) as { value: string } | undefined;
      if (taken) {
        const { number } = JSON.parse(taken.value) as { number: number };
        throw new ConflictError(`'${uniqueKey}' already made number ${number}`, { key: uniqueKey, number });
      }
    }
    const number = (this.s.next.get(counter) as { value: number }).value;
    const key = `${prefix}${String(number).padStart(10, '0')}`;
    assertKey('record key', key);
    const record = value(number);
    if (this.s.createRecord.run(key, JSON.stringify(record)).changes === 0) throw this.versionConflict(key, 0);
    if (uniqueKey !== undefined) this.s.createRecord.run(uniqueKey, JSON.stringify({ number }));
    return { number, key, value: record, version: 1 };
  }

  getRecord<T>(key: string): VersionedRecord<T> | null {
    assertKey('record key', key);
    const row = this.s.getRecord.get(key) as { value: string; version: number } | undefined;
    return row ? { value: JSON.parse(row.value) as T, version: row.version } : null;
  }

  putRecord<T>(key: string, value: T, expectedVersion: number, fence?: Fence): VersionedRecord<T> {
    assertKey('record key', key);
    const json = JSON.stringify(value);
    return this.db
      .transaction(() => {
        if (fence) this.checkFence(fence);
        const changes =
          expectedVersion === 0
            ? this.s.createRecord.run(key, json).changes
            : this.s.updateRecord.run(json, key, expectedVersion).changes;
        if (changes === 0) throw this.versionConflict(key, expectedVersion);
        return { value, version: expectedVersion + 1 };
      })
      .immediate();
  }

  private checkFence({ ticketId, token }: Fence): void {
    const seq = parseSeq(ticketId);
    const row = (seq === null ? undefined : this.s.leaseToken.get(seq)) as { status: string; lease_token: number } | undefined;
    if (!row || row.status !== 'leased' || row.lease_token !== token) {
      throw new LeaseLostError(ticketId, token, row ? `the ticket is ${row.status} with token ${row.lease_token}` : 'no such ticket');
    }
  }

  deleteRecord(key: string, expectedVersion: number): void {
    assertKey('record key', key);
    if (this.s.deleteRecord.run(key, expectedVersion).changes === 0) throw this.versionConflict(key, expectedVersion);
  }

  listRecords<T>(prefix: string, page: RecordPageRequest = {}): RecordPage<T> {
    if (prefix !== '') assertKey('record prefix', prefix);
    const limit = Math.min(Math.max(page.limit ?? 100, 1), 1000);
    const to = prefix === '' ? '\u{10ffff}' : prefix.slice(0, -1) + String.fromCodePoint(prefix.codePointAt(prefix.length - 1)! + 1);
    const rows = (
      page.reverse
        ? this.s.listRecordsDesc.all({ from: prefix, to, before: page.after ?? to, limit })
        : this.s.listRecords.all({ from: prefix, to, after: page.after ?? '', limit })
    ) as {
      key: string;
      value: string;
      version: number;
    }[];
    return {
      records: rows.map((r) => ({ key: r.key, value: JSON.parse(r.value) as T, version: r.version })),
      next: rows.length === limit ? rows[rows.length - 1]!.key : null,
    };
  }

  /** Takes or extends the lock; false when another holder's lock has not expired. */
  holdLock(name: string, holder: string, ttlMs: number): boolean {
    const now = this.now();
    return this.s.takeLock.run({ name, holder, expiresAt: now + ttlMs, now }).changes > 0;
  }

  dropLock(name: string, holder: string): void {
    this.s.dropLock.run(name, holder);
  }

  private versionConflict(key: string, expectedVersion: number): ConflictError {
    const current = this.s.getRecord.get(key) as { version: number } | undefined;
    return new ConflictError(
      `record '${key}' is at version ${current?.version ?? 0}, not ${expectedVersion}: ` +
        'someone else changed it; read it again and reapply your change',
      { key, expectedVersion, actualVersion: current?.version ?? 0 },
    );
  }
}
