import type Database from 'better-sqlite3';
import { DistciError } from '../../core/errors.js';

interface Pending {
  work: () => { value: unknown; ring: boolean };
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/**
 * Group commit: write operations that arrive in the same turn of the event loop (claims
 * and completions from many workers at once) run in one `BEGIN IMMEDIATE` transaction,
 * each in its own savepoint. A commit's cost is mostly the WAL pages it writes, and
 * operations in one batch share index and route pages, so N operations cost far less
 * than N commits. An operation that fails with a DistciError (lease lost, not found)
 * has written nothing (each is one statement or its own savepoint); the others still
 * commit.
 */
export class GroupCommit {
  private queue: Pending[] = [];

  constructor(
    private readonly db: Database.Database,
    /** Runs the batch, translating native errors (the coordinator's `run`). */
    private readonly guard: <T>(fn: () => T) => T,
    /** Called after a commit in which some operation made work claimable. */
    private readonly rang: () => void,
    /** Called first inside each batch's transaction. */
    private readonly began: () => void = () => {},
    private readonly maxBatch = 128,
  ) {}

  submit<T>(work: () => { value: T; ring: boolean }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let outcomes: ({ ok: true; value: unknown; ring: boolean } | { ok: false; error: unknown })[];
      try {
        outcomes = this.guard(() =>
          this.db
            .transaction(() => {
              this.began();
              return batch.map((item) => {
                // Each operation keeps itself atomic (one statement, or its own savepoint):
                // wrapping every one in another savepoint costs more than the claim itself.
                try {
                  return { ok: true as const, ...item.work() };
                } catch (error) {
                  if (error instanceof DistciError) return { ok: false as const, error };
                  throw error;
                }
              });
            })
            .immediate(),
        );
      } catch (error) {
        for (const item of batch) item.reject(error);
        continue;
      }
      if (outcomes.some((o) => o.ok && o.ring)) this.rang();
      outcomes.forEach((o, i) => (o.ok ? batch[i]!.resolve(o.value) : batch[i]!.reject(o.error)));
    }
  }
}
