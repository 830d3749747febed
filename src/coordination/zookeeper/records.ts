/**
 * Compare-and-set records. A record's version is its znode's data version + 1 (created at
 * 1, +1 per write). Each record holds `{o, v}`: the value and the id of the write that made
 * it, so a writer whose outcome was unknown can tell its own write from someone else's.
 * A fenced write checks, in the same multi-op, that the ticket header is still at the
 * lease token and that the lease znode exists.
 */
import { randomUUID } from 'node:crypto';
import { ValidationError } from '../../core/errors.js';
import type { Fence, ReadFreshness, RecordPage, RecordPageRequest, VersionedRecord } from '../contract.js';
import { assertKey } from '../record-keys.js';
import { toDistciError, ZK, ZkError, type Meaning } from './errors.js';
import { json, parse, parseTicketId } from './layout.js';
import type { Session } from './session.js';
import { orNull } from './tickets.js';
import type { WatchedReads } from './watched-reads.js';
import type { Op, ZkClient } from './zk-client.js';

export const MAX_RECORD_BYTES = 512 * 1024;

interface Stored<T> {
  o: string;
  v: T;
}

export function recordBytes(op: string, value: unknown, key: string): Buffer {
  const data = json({ o: op, v: value } satisfies Stored<unknown>);
  if (data.length > MAX_RECORD_BYTES) {
    throw new ValidationError(`record '${key}' is ${data.length} bytes; the ZooKeeper coordinator takes at most ${MAX_RECORD_BYTES}`);
  }
  return data;
}

export function recordDirs(key: string): string[] {
  const segments = key.split('/');
  segments.pop();
  return segments.length === 0 ? [] : [segments.join('/')];
}

export class Records {
  /**
   * `reader` serves `get` and `list` (see `Session`: reads that need not queue behind this
   * instance's writes), through `watched`, the reads its watches keep.
   */
  constructor(
    private readonly session: Session,
    private readonly reader: Session,
    private readonly watched: WatchedReads,
  ) {}

  private get layout() {
    return this.session.layout;
  }

  /** The directory znodes a record key needs, as full paths. */
  dirsFor(key: string): string[] {
    return recordDirs(key).map((d) => this.layout.recordDir(d.split('/')));
  }

  async read<T>(zk: ZkClient, key: string): Promise<(VersionedRecord<T> & { op: string }) | null> {
    const got = await zk.getData(this.layout.record(key)).catch(orNull);
    if (!got) return null;
    const stored = parse<Stored<T>>(got.data);
    return { value: stored.v, version: got.stat.version + 1, op: stored.o };
  }

  async get<T>(key: string, fresh: ReadFreshness = {}): Promise<VersionedRecord<T> | null> {
    assertKey('record key', key);
    return this.reader.run((zk) => this.reader.fresh(zk, (barrier) => this.readWatched<T>(zk, key, barrier), fresh.since));
  }

  async put<T>(key: string, value: T, expectedVersion: number, fence?: Fence): Promise<VersionedRecord<T>> {
    assertKey('record key', key);
    const op = randomUUID();
    const data = recordBytes(op, value, key);
    const l = this.layout;
    const meaning: Meaning = { what: 'record', key, expectedVersion };
    if (!Number.isInteger(expectedVersion) || expectedVersion < 0) throw toDistciError(new ZkError(ZK.BAD_VERSION, l.record(key), 0, meaning), '');
    return this.session.run(async (zk, recovering) => {
      if (recovering) {
        const current = await this.read<T>(zk, key);
        if (current?.op === op) return { value, version: current.version };
      }
      await this.session.ensureDirs(zk, this.dirsFor(key));
      const write: Op =
        expectedVersion === 0
          ? { op: 'create', path: l.record(key), data, meaning }
          : { op: 'set', path: l.record(key), data, version: expectedVersion - 1, meaning };
      const ops: Op[] = fence ? [...this.fenceOps(fence), write] : [write];
      try {
        await zk.multi(ops);
      } catch (err) {
        throw toDistciError(err, this.session.servers);
      }
      return { value, version: expectedVersion + 1 };
    });
  }

  /** Ops that pass only while `fence` is the ticket's current lease. */
  fenceOps(fence: Fence): Op[] {
    const id = parseTicketId(fence.ticketId);
    const meaning: Meaning = { what: 'fence', ticketId: fence.ticketId, token: fence.token };
    if (id === null || !Number.isInteger(fence.token) || fence.token < 1) {
      // No such ticket can be leased: a check that cannot pass.
      return [{ op: 'check', path: `${this.layout.dir('tickets')}/none`, version: -1, meaning }];
    }
    return [
      { op: 'check', path: this.layout.ticket(id), version: fence.token, meaning },
      { op: 'check', path: this.layout.lease(id), version: -1, meaning },
    ];
  }

  async delete(key: string, expectedVersion: number): Promise<void> {
    assertKey('record key', key);
    const meaning: Meaning = { what: 'record', key, expectedVersion };
    const path = this.layout.record(key);
    // Version -1 would mean "any version" to ZooKeeper: no record is at version 0.
    if (!Number.isInteger(expectedVersion) || expectedVersion < 1) throw toDistciError(new ZkError(ZK.BAD_VERSION, path, 0, meaning), '');
    await this.session.run(async (zk, recovering) => {
      if (recovering && !(await this.read(zk, key))) return;
      try {
        await zk.multi([{ op: 'remove', path, version: expectedVersion - 1, meaning }]);
      } catch (err) {
        throw toDistciError(err, this.session.servers);
      }
    });
  }

  async list<T>(prefix: string, page: RecordPageRequest = {}): Promise<RecordPage<T>> {
    if (prefix !== '') assertKey('record prefix', prefix);
    const limit = Math.min(Math.max(page.limit ?? 100, 1), 1000);
    const segments = prefix.split('/');
    const partial = segments.pop()!;
    return this.reader.run((zk) =>
      this.reader.fresh(zk, async (barrier) => {
        let keys = await this.keysUnder(zk, barrier, segments, partial);
        if (page.after !== undefined) {
          const after = page.after;
          keys = keys.filter((k) => (page.reverse ? k < after : k > after));
        }
        const chosen = (page.reverse ? keys.slice().reverse() : keys).slice(0, limit);
        const read = await Promise.all(chosen.map((key) => this.readWatched<T>(zk, key, barrier, true)));
        const records = read.flatMap((r, i) => (r ? [{ key: chosen[i]!, value: r.value, version: r.version }] : []));
        return { records, next: chosen.length === limit ? chosen[chosen.length - 1]! : null };
      }, page.since),
    );
  }

  /** `read` for reads behind `barrier`, through the watched reads (see `WatchedReads`); `listed`: the key was just listed. */
  private async readWatched<T>(zk: ZkClient, key: string, barrier: Promise<unknown>, listed = false): Promise<VersionedRecord<T> | null> {
    const got = await this.watched.data(zk, this.layout.record(key), barrier, listed);
    if (!got) return null;
    return { value: parse<Stored<T>>(got.data).v, version: got.stat.version + 1 };
  }

  /** Every key in the directory `segments` whose next part starts with `partial`, deeper ones included, sorted. */
  private async keysUnder(zk: ZkClient, barrier: Promise<unknown>, segments: string[], partial: string): Promise<readonly string[]> {
    const { records, dirs } = await this.watched.listing(zk, this.layout.recordDir(segments), barrier);
    const keys = keysOf(records, segments, partial);
    const deeper = dirs.filter((part) => part.startsWith(partial));
    if (deeper.length === 0) return keys;
    const nested = await Promise.all(deeper.map((part) => this.keysUnder(zk, barrier, [...segments, part], '')));
    return keys.concat(...nested).sort();
  }
}

/** The keys of the record leaves `records` of the directory `segments` that start with `partial`. */
function keysOf(records: readonly string[], segments: readonly string[], partial: string): string[] {
  const base = segments.length ? `${segments.join('/')}/` : '';
  return records.filter((part) => part.startsWith(partial)).map((part) => `${base}${part}`);
}
