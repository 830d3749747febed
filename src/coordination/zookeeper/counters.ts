/**
 * Counters: a counter znode's data version is the last number handed out. `nextNumber`
 * is one unconditional write (no compare-and-set race: ZooKeeper serializes them and
 * returns the new version). `createNumbered` writes the counter expecting the version it
 * read, in one multi-op with the numbered record, the unique key and the ticket, so a
 * number exists only with its record; racing callers retry with the next number.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { ConflictError } from '../../core/errors.js';
import { normalizeNewTicket, type NewTicket } from '../../core/ticket.js';
import type { ReadFreshness, VersionedRecord } from '../contract.js';
import { assertKey } from '../record-keys.js';
import { isZk, toDistciError } from './errors.js';
import { json, parse } from './layout.js';
import { recordBytes, type Records } from './records.js';
import type { Session } from './session.js';
import { ringBell, type Reservation, type Tickets } from './tickets.js';
import type { WatchedReads } from './watched-reads.js';
import type { Op, ZkClient } from './zk-client.js';

export type Numbered<T> = VersionedRecord<T> & { number: number; key: string };

export class Counters {
  constructor(
    private readonly session: Session,
    private readonly tickets: Tickets,
    private readonly records: Records,
    /** Serves `current` (see `Session`: reads that need not queue behind this instance's writes), through `watched`. */
    private readonly reader: Session,
    private readonly watched: WatchedReads,
  ) {}

  private get layout() {
    return this.session.layout;
  }

  /** The counter's data version: the last number handed out (no znode yet: 0). */
  async current(counter: string, fresh: ReadFreshness = {}): Promise<number> {
    assertKey('counter', counter);
    const path = this.layout.counter(counter);
    return this.reader.run((zk) => this.reader.fresh(zk, async (barrier) => (await this.watched.stat(zk, path, barrier))?.version ?? 0, fresh.since));
  }

  async next(counter: string): Promise<number> {
    assertKey('counter', counter);
    const op = randomUUID();
    const path = this.layout.counter(counter);
    return this.session.run(async (zk, recovering) => {
      await this.session.ensureDirs(zk, [path]);
      if (recovering) {
        // Ours if it is still the latest write; a later one hides it and the number stays unused.
        const { data, stat } = await zk.getData(path);
        if (data.length > 0 && parse<{ o: string }>(data).o === op) return stat.version;
      }
      return (await zk.setData(path, json({ o: op }), -1)).version;
    });
  }

  async createNumbered<T>(
    counter: string,
    prefix: string,
    value: (n: number) => T,
    also: { ticket?: (n: number) => NewTicket; uniqueKey?: string } = {},
  ): Promise<Numbered<T>> {
    assertKey('counter', counter);
    if (also.uniqueKey !== undefined) assertKey('record key', also.uniqueKey);
    const op = randomUUID();
    const path = this.layout.counter(counter);
    const held: { reservation: Reservation | null; tried: number | null } = { reservation: null, tried: null };
    try {
      return await this.session.run(async (zk, recovering) => {
        await this.session.ensureDirs(zk, [path]);
        for (let round = 0; ; round++) {
          const mine = await this.findOwn<T>(zk, prefix, op, recovering ? held.tried : null, also.uniqueKey);
          if (mine) return mine;
          const { version } = (await zk.stat(path))!;
          const n = version + 1;
          const key = `${prefix}${String(n).padStart(10, '0')}`;
          assertKey('record key', key);
          const record = value(n);
          const ticket = also.ticket ? normalizeNewTicket(also.ticket(n)) : null;
          const ops: Op[] = [
            { op: 'set', path, data: json({ o: op }), version, meaning: { what: 'counter', name: counter } },
            { op: 'create', path: this.layout.record(key), data: recordBytes(op, record, key), meaning: { what: 'record', key, expectedVersion: 0 } },
          ];
          const dirs = this.records.dirsFor(key);
          if (also.uniqueKey !== undefined) {
            ops.push({ op: 'create', path: this.layout.record(also.uniqueKey), data: recordBytes(op, { number: n }, also.uniqueKey) });
            dirs.push(...this.records.dirsFor(also.uniqueKey));
          }
          await this.session.ensureDirs(zk, dirs);
          if (ticket) {
            held.reservation ??= await this.tickets.reserve(zk);
            const plan = await this.tickets.planPost(zk, ticket, held.reservation, op);
            if (plan.header) ops.push(...plan.ops, ringBell(this.layout));
          }
          held.tried = n;
          try {
            await zk.multi(ops);
            if (held.reservation) held.reservation.path = null; // the multi removed it
            return { number: n, key, value: record, version: 1 };
          } catch (err) {
            if (!isZk(err) || err.opIndex === undefined || round >= 1000) throw err;
            // Someone else wrote the record under this key without the counter: never overwrite it.
            if (err.opIndex === 1) throw toDistciError(err, this.session.servers);
            if (held.reservation) this.tickets.retryablePost(err, held.reservation);
            // Otherwise the counter moved on, or the unique key was just taken: look again,
            // after a random pause that grows with the losses, so racing callers spread out.
            await delay(Math.random() * Math.min(2 ** round, 50));
          }
        }
      });
    } finally {
      void this.tickets.unreserve(this.session.client, held.reservation);
    }
  }

  /**
   * This call's own earlier write, if it committed: the unique key (when given) or the
   * record it last tried (after an unknown outcome). A unique key taken by another call
   * is a ConflictError naming its number.
   */
  private async findOwn<T>(zk: ZkClient, prefix: string, op: string, tried: number | null, uniqueKey?: string): Promise<Numbered<T> | null> {
    if (uniqueKey !== undefined) {
      const taken = await this.records.read<{ number: number }>(zk, uniqueKey);
      if (taken && taken.op !== op) {
        throw new ConflictError(`'${uniqueKey}' already made number ${taken.value.number}`, { key: uniqueKey, number: taken.value.number });
      }
      if (taken) tried = taken.value.number;
    }
    if (tried === null) return null;
    const key = `${prefix}${String(tried).padStart(10, '0')}`;
    const record = await this.records.read<T>(zk, key);
    return record?.op === op ? { number: tried, key, value: record.value, version: record.version } : null;
  }
}
