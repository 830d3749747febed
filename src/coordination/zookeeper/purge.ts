/**
 * Purging done tickets, so ZooKeeper (which keeps every znode in memory) holds the work in
 * flight, not history. Buckets (`tickets/<id / 10000>`) are walked oldest first; a done
 * header whose mtime (the completion, by ZooKeeper's clock) is older than the retention is
 * removed with its index entries and idempotency key — entries first, header last, so an
 * interrupted purge leaves a header the next one finishes. The walk stops at the first
 * done ticket still within the retention: tickets end roughly in id order, and the next
 * sweep comes back. Tickets not done are stepped over; emptied buckets other than the
 * newest are removed. A call removes at most `limit` tickets and reads at most
 * `READS_PER_REMOVAL × limit` headers; where it stopped early is kept in `cursor`, so the
 * next call goes on from there — many unfinished tickets at the old end (say, queued for
 * an offline label pool) slow the walk down but never stop it — and a walk that reached
 * the retention boundary or the newest ticket starts again from the oldest.
 */
import { isZk, ZK } from './errors.js';
import { parse, type Header } from './layout.js';
import type { Session } from './session.js';
import { orEmpty, orNull } from './tickets.js';
import type { ZkClient } from './zk-client.js';

const READS_IN_FLIGHT = 50;
const READS_PER_REMOVAL = 10;

/** Where an instance's purge walk goes on: after this ticket id (0: from the oldest). */
export interface PurgeCursor {
  after: number;
}

export async function purgeDone(session: Session, retainMs: number, limit: number, cursor: PurgeCursor): Promise<number> {
  const l = session.layout;
  return session.run(async (zk) => {
    const buckets = (await zk.getChildren(l.dir('tickets'))).map(Number).filter(Number.isInteger).sort((a, b) => a - b);
    const now = (await zk.setData(l.clock, Buffer.alloc(0), -1)).mtime;
    const before = now - retainMs;
    let removed = 0;
    let reads = limit * READS_PER_REMOVAL;
    for (const [i, bucket] of buckets.entries()) {
      const dir = `${l.dir('tickets')}/${bucket}`;
      const children = await zk.getChildren(dir).catch(orEmpty);
      if (children.length === 0 && i < buckets.length - 1) {
        await zk.remove(dir, -1).catch(ignore(ZK.NO_NODE, ZK.NOT_EMPTY));
        continue;
      }
      const ids = children
        .map(Number)
        .filter((id) => id > cursor.after)
        .sort((a, b) => a - b);
      for (let j = 0; j < ids.length; j += READS_IN_FLIGHT) {
        const batch = ids.slice(j, j + READS_IN_FLIGHT);
        const headers = await Promise.all(batch.map((id) => zk.getData(l.ticket(id)).catch(orNull)));
        for (const [k, read] of headers.entries()) {
          if (removed >= limit || reads-- <= 0) return removed; // the cursor is at the last id looked at
          cursor.after = batch[k]!;
          if (!read) continue;
          const h = parse<Header>(read.data);
          if (h.status !== 'done') continue;
          if (read.stat.mtime >= before) {
            cursor.after = 0;
            return removed;
          }
          if (await removeTicket(zk, session, batch[k]!, h, read.stat.version)) removed++;
        }
      }
    }
    cursor.after = 0;
    return removed;
  });
}

async function removeTicket(zk: ZkClient, session: Session, id: number, h: Header, version: number): Promise<boolean> {
  const l = session.layout;
  const entries = [`${l.byKind(h.kind)}/${id}`];
  if (h.refs.job !== undefined) entries.push(`${l.byJob(h.refs.job)}/${id}`);
  if (h.idempotencyKey !== null) entries.push(l.idem(h.idempotencyKey));
  await Promise.all(entries.map((path) => zk.remove(path, -1).catch(ignore(ZK.NO_NODE))));
  try {
    await zk.remove(l.ticket(id), version);
    return true;
  } catch (err) {
    // Another frontend purged it meanwhile.
    if (isZk(err, ZK.NO_NODE, ZK.BAD_VERSION)) return false;
    throw err;
  }
}

const ignore =
  (...codes: number[]) =>
  (err: unknown): void => {
    if (!isZk(err, ...codes)) throw err;
  };
