/**
 * Purging done tickets, so ZooKeeper (which keeps every znode in memory) holds the work in
 * flight, not history. Buckets (`tickets/<id / 10000>`) are walked oldest first; a done
 * header whose mtime (the completion, by ZooKeeper's clock) is older than the retention is
 * removed with its index entries and idempotency key — entries first, header last, so an
 * interrupted purge leaves a header the next one finishes. The walk stops at the first
 * done ticket still within the retention: tickets end roughly in id order, and the next
 * sweep comes back. Tickets not done are stepped over; emptied buckets other than the
 * newest are removed.
 */
import { isZk, ZK } from './errors.js';
import { parse, type Header } from './layout.js';
import type { Session } from './session.js';
import { orNull } from './tickets.js';
import type { ZkClient } from './zk-client.js';

const READS_IN_FLIGHT = 50;

export async function purgeDone(session: Session, retainMs: number, limit: number): Promise<number> {
  const l = session.layout;
  return session.run(async (zk) => {
    const buckets = (await zk.getChildren(l.dir('tickets'))).map(Number).filter(Number.isInteger).sort((a, b) => a - b);
    const now = (await zk.setData(l.clock, Buffer.alloc(0), -1)).mtime;
    const before = now - retainMs;
    let removed = 0;
    let looked = 0;
    for (const [i, bucket] of buckets.entries()) {
      const dir = `${l.dir('tickets')}/${bucket}`;
      const ids = (await zk.getChildren(dir).catch(() => [] as string[])).map(Number).sort((a, b) => a - b);
      if (ids.length === 0 && i < buckets.length - 1) {
        await zk.remove(dir, -1).catch(ignore(ZK.NO_NODE, ZK.NOT_EMPTY));
        continue;
      }
      for (let j = 0; j < ids.length; j += READS_IN_FLIGHT) {
        const batch = ids.slice(j, j + READS_IN_FLIGHT);
        const headers = await Promise.all(batch.map((id) => zk.getData(l.ticket(id)).catch(orNull)));
        for (const [k, read] of headers.entries()) {
          if (looked++ >= limit) return removed;
          if (!read) continue;
          const h = parse<Header>(read.data);
          if (h.status !== 'done') continue;
          if (read.stat.mtime >= before) return removed;
          if (await removeTicket(zk, session, batch[k]!, h, read.stat.version)) removed++;
        }
      }
    }
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
