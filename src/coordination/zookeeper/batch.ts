/**
 * Group commit for claims and renewals: their multi-ops go to ZooKeeper together as one
 * multi-op, so the ensemble agrees on one transaction instead of several (its cost is
 * mostly per transaction, not per op). At most `MAX_IN_FLIGHT` multis are in flight per
 * instance; claims that become ready meanwhile wait for one of them to come back and then
 * go out together. Claims of one frontend arrive one HTTP request at a time, so without
 * that gate each would find the batch empty and commit alone. A multi is all or nothing:
 * when one claim's op fails, that claim alone gets the failure (with the op index counted
 * within its own ops) and the others are sent again; when that fails too, each of the
 * rest goes as its own multi, all at once, so a batch takes at most three round trips
 * however many of its ops fail.
 */
import { isZk, ZkError } from './errors.js';
import type { Op, OpResult, ZkClient } from './zk-client.js';

interface Waiting {
  zk: ZkClient;
  ops: Op[];
  resolve(results: OpResult[]): void;
  reject(err: unknown): void;
}

/** Ops in one multi at most: ZooKeeper refuses requests over ~1 MB, and headers are ≤ 256 KiB. */
const MAX_OPS = 256;
const MAX_BYTES = 512 * 1024;
/** Multis in flight at once: one, so that everything that becomes ready during its round trip is one transaction. */
const MAX_IN_FLIGHT = 1;

export class MultiBatcher {
  private waiting: Waiting[] = [];
  private scheduled = false;
  private inFlight = 0;

  commit(zk: ZkClient, ops: Op[]): Promise<OpResult[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ zk, ops, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= MAX_IN_FLIGHT || this.waiting.length === 0) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.waiting;
    this.waiting = [];
    let batch: Waiting[] = [];
    let ops = 0;
    let bytes = 0;
    for (const w of all) {
      const size = w.ops.reduce((n, op) => n + ('data' in op && op.data ? op.data.length : 0) + op.path.length, 0);
      if (batch.length > 0 && (w.zk !== batch[0]!.zk || ops + w.ops.length > MAX_OPS || bytes + size > MAX_BYTES)) {
        this.send(batch);
        batch = [];
        ops = bytes = 0;
      }
      batch.push(w);
      ops += w.ops.length;
      bytes += size;
    }
    if (batch.length > 0) this.send(batch);
  }

  private send(batch: Waiting[]): void {
    this.inFlight++;
    void this.commitAll(batch).finally(() => {
      this.inFlight--;
      this.schedule();
    });
  }

  private async commitAll(batch: Waiting[]): Promise<void> {
    for (let failures = 0; batch.length > 0; failures++) {
      const zk = batch[0]!.zk;
      if (failures === 2) {
        // Twice a failed op: the batch is contended. Peeling one failure per round trip
        // could hold a renewal behind dozens of racing claims for seconds (their leases
        // then ran out), so each waiter now goes as its own multi, all sent at once.
        await Promise.all(batch.map((w) => zk.multi(w.ops).then(w.resolve, w.reject)));
        return;
      }
      try {
        const results = await zk.multi(batch.flatMap((w) => w.ops));
        let at = 0;
        for (const w of batch) w.resolve(results.slice(at, (at += w.ops.length)));
        return;
      } catch (err) {
        if (batch.length === 1 || !isZk(err) || err.opIndex === undefined) {
          for (const w of batch) w.reject(err);
          return;
        }
        let start = 0;
        const i = batch.findIndex((w) => err.opIndex! < (start += w.ops.length));
        if (i < 0) {
          for (const w of batch) w.reject(err);
          return;
        }
        const failed = batch.splice(i, 1)[0]!;
        start -= failed.ops.length;
        failed.reject(new ZkError(err.code, err.path, err.opIndex - start, err.meaning));
      }
    }
  }
}
