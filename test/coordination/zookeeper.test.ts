/**
 * The ZooKeeper coordinator against a real 3-node ensemble (scripts/zookeeper.sh): the
 * coordinator contract unchanged, then what only this backend has to prove.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { ZK, type ZkError } from '../../src/coordination/zookeeper/errors.js';
import type { Session } from '../../src/coordination/zookeeper/session.js';
import { ZkClient } from '../../src/coordination/zookeeper/zk-client.js';
import { parseZookeeperUrl, ZookeeperCoordinator, type ZookeeperOptions } from '../../src/coordination/zookeeper/zookeeper-coordinator.js';
import { openCoordinator } from '../../src/coordination/open.js';
import { ConflictError, LeaseLostError, NotFoundError, UnavailableError, ValidationError } from '../../src/core/errors.js';
import { eventually } from '../support/wait.js';
import { expireSession, startEnsemble, type Ensemble, type NodeStatus } from '../support/zookeeper.js';
import { coordinatorContract } from './contract-suite.js';

let ensemble: Ensemble;
before(async () => {
  ensemble = await startEnsemble(3);
});
after(async () => {
  await ensemble?.stop();
});

coordinatorContract('zookeeper 3-node ensemble', async () => {
  const root = ensemble.freshRoot();
  return {
    open: async () => new ZookeeperCoordinator({ servers: ensemble.servers, root, sessionTimeoutMs: 4000 }),
    cleanup: () => ensemble.removeRoot(root),
    claimsMayLagOnePost: true,
  };
});

const TTL = 30_000;

/** Counts the barriers a coordinator's reads pass: they go through its second session, the reader. */
function countBarriers(coordinator: ZookeeperCoordinator): { sent: number } {
  const session = (coordinator as unknown as { reader: Session }).reader;
  const counted = { sent: 0 };
  const barrier = session.barrier.bind(session);
  session.barrier = (zk) => {
    counted.sent++;
    return barrier(zk);
  };
  return counted;
}

describe('zookeeper backend', () => {
  const opened: ZookeeperCoordinator[] = [];
  const roots: string[] = [];
  /** Coordinators on a fresh root, closed after the test; they share state like frontends. */
  const fresh = (): ((options?: Partial<ZookeeperOptions>) => ZookeeperCoordinator) => {
    const root = ensemble.freshRoot();
    roots.push(root);
    return (options = {}) => {
      const c = new ZookeeperCoordinator({ servers: ensemble.servers, root, sessionTimeoutMs: 4000, ...options });
      opened.push(c);
      return c;
    };
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    for (const root of roots.splice(0)) await ensemble.removeRoot(root);
  });

  it('pins version 0 inside transactions, which the client library turns into "any version"', async () => {
    await withClient(roots, async (zk, root) => {
      await zk.create(root);
      await zk.create(`${root}/n`, Buffer.from('v0'));
      await zk.setData(`${root}/n`, Buffer.from('v1'), 0); // now at version 1
      // The library as shipped: a transaction expecting version 0 commits anyway (its issue #67).
      const raw = (zk as unknown as { raw: { transaction(): { setData(p: string, d: Buffer, v: number): { commit(cb: (err: unknown) => void): void } } } }).raw;
      const rawError = await new Promise<unknown>((resolve) => raw.transaction().setData(`${root}/n`, Buffer.from('stale'), 0).commit(resolve));
      assert.equal(rawError ?? null, null, 'node-zookeeper-client 1.1.3 still ignores version 0 in transactions');
      // The wrapper keeps the version: the stale transaction fails and changes nothing.
      await assert.rejects(
        zk.multi([{ op: 'check', path: `${root}/n`, version: 0 }, { op: 'set', path: `${root}/n`, data: Buffer.from('x'), version: -1 }]),
        (err: ZkError) => err.code === ZK.BAD_VERSION && err.opIndex === 0,
      );
      await assert.rejects(zk.multi([{ op: 'set', path: `${root}/n`, data: Buffer.from('x'), version: 0 }]), (err: ZkError) => err.code === ZK.BAD_VERSION);
      await assert.rejects(zk.multi([{ op: 'remove', path: `${root}/n`, version: 0 }]), (err: ZkError) => err.code === ZK.BAD_VERSION);
      assert.equal((await zk.getData(`${root}/n`)).data.toString(), 'stale');
    });
  });

  it('sends the reads of one turn as one multiRead, a missing node failing alone, in order with the calls around them', async () => {
    await withClient(roots, async (zk, root) => {
      await zk.create(root);
      await zk.create(`${root}/a`, Buffer.from('a'));
      await zk.create(`${root}/b`, Buffer.from('b'));
      const [a, missing, b] = await Promise.allSettled([zk.getData(`${root}/a`), zk.getData(`${root}/missing`), zk.getData(`${root}/b`)]);
      assert.deepEqual([zk.requests.get('multiRead'), zk.requests.get('multiRead.reads')], [1, 3]);
      assert.equal(a.status === 'fulfilled' && a.value.data.toString(), 'a');
      assert.equal(b.status === 'fulfilled' && b.value.data.toString(), 'b');
      assert.equal(b.status === 'fulfilled' && b.value.stat.version, 0);
      assert.ok(missing.status === 'rejected' && (missing.reason as ZkError).code === ZK.NO_NODE && (missing.reason as ZkError).path === `${root}/missing`);
      // A write asked for between reads of one turn goes between them on the wire too.
      const before = [zk.getData(`${root}/a`), zk.getData(`${root}/b`)];
      const write = zk.setData(`${root}/a`, Buffer.from('a2'), 0);
      const after = [zk.getData(`${root}/a`), zk.getData(`${root}/b`)];
      const text = async (reads: Promise<{ data: Buffer }>[]): Promise<string[]> => (await Promise.all(reads)).map((r) => r.data.toString());
      assert.deepEqual(await text(before), ['a', 'b'], 'sent before the write');
      assert.equal((await write).version, 1);
      assert.deepEqual(await text(after), ['a2', 'b'], 'sent after it');
      assert.deepEqual([zk.requests.get('multiRead'), zk.requests.get('multiRead.reads')], [3, 7]);
    });
  });

  it('refuses a fenced record write at a stale version 1 (a write at znode version 0)', async () => {
    const c = fresh()();
    const kind = 'fence0';
    const { ticket } = await c.post({ kind });
    const claim = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
    assert.ok(claim);
    const fence = { ticketId: ticket.id, token: claim.token };
    await c.putRecord('builds/j/1', { step: 1 }, 0, fence);
    await c.putRecord('builds/j/1', { step: 2 }, 1, fence);
    await assert.rejects(c.putRecord('builds/j/1', { step: 'lost' }, 1, fence), ConflictError);
    assert.deepEqual(await c.getRecord('builds/j/1'), { value: { step: 2 }, version: 2 });
  });

  it('serves reads asked for in one turn behind one shared barrier, each seeing every write acknowledged before it', async () => {
    const open = fresh();
    const [writer, reader] = [open(), open()];
    await Promise.all([writer.ready(), reader.ready()]);
    const barriers = countBarriers(reader);
    const { ticket } = await writer.post({ kind: 'fresh-reads' });
    for (let round = 1; round <= 20; round++) {
      await writer.putRecord(`fresh/${round}`, { round }, 0);
      await writer.nextNumber('fresh-counter');
      const before = barriers.sent;
      // Asked for in one turn, just after the writes were acknowledged through another instance.
      const [records, page, number, seen] = await Promise.all([
        Promise.all(Array.from({ length: round }, (_, i) => reader.getRecord<{ round: number }>(`fresh/${i + 1}`))),
        reader.listRecords<{ round: number }>('fresh/', { limit: 1000 }),
        reader.currentNumber('fresh-counter'),
        reader.get(ticket.id),
      ]);
      assert.deepEqual(records.map((r) => r?.value.round), Array.from({ length: round }, (_, i) => i + 1), `round ${round}: every record written`);
      assert.equal(page.records.length, round, `round ${round}: the listing has every record`);
      assert.equal(number, round, `round ${round}: the counter as written`);
      assert.equal(seen.id, ticket.id);
      assert.equal(barriers.sent - before, 1, `round ${round}: ${round + 3} reads in one turn passed one barrier`);
    }
  });

  it('lets reads that pass a moment share a barrier sent after it, and still see every write acknowledged before it', async () => {
    const open = fresh();
    const [writer, reader] = [open(), open()];
    await Promise.all([writer.ready(), reader.ready()]);
    const barriers = countBarriers(reader);
    for (let round = 1; round <= 10; round++) {
      const key = `since/${String(round).padStart(2, '0')}`;
      await writer.putRecord(key, { round }, 0);
      await writer.nextNumber('since-counter');
      const since = performance.now(); // a request arrives after those writes were acknowledged
      const before = barriers.sent;
      const first = await reader.getRecord<{ round: number }>(key, { since });
      // Later rounds of the same request, in later turns: the barrier sent after `since` serves.
      const number = await reader.currentNumber('since-counter', { since });
      const page = await reader.listRecords<{ round: number }>('since/', { reverse: true, limit: 1, since });
      assert.equal(first?.value.round, round);
      assert.equal(number, round);
      assert.equal(page.records[0]?.value.round, round);
      assert.equal(barriers.sent - before, 1, `round ${round}: three rounds of reads, one barrier`);
      // Without a moment, a read gets a barrier of its own.
      await reader.getRecord(key);
      assert.equal(barriers.sent - before, 2);
    }
    // Reads passing a moment while a barrier sent after it is in flight wait for that one.
    const since = performance.now();
    const before = barriers.sent;
    const one = reader.getRecord('since/01', { since });
    await new Promise((resolve) => setImmediate(resolve)); // the first read's barrier is sent
    await Promise.all([one, reader.getRecord('since/02', { since }), reader.currentNumber('since-counter', { since })]);
    assert.equal(barriers.sent - before, 1);
  });

  it('counts the requests it sends, by session and kind', async () => {
    const c = fresh()();
    const { ticket } = await c.post({ kind: 'counted' });
    await c.get(ticket.id);
    assert.ok(await c.claim({ workerId: 'w', kinds: ['counted'], labels: [], ttlMs: TTL }));
    const count = (connection: string, request: string) => c.backendRequests().find((r) => r.connection === connection && r.request === request)?.count ?? 0;
    assert.ok(count('writer', 'multi') >= 2, 'the post and the claim are multis');
    assert.ok(count('writer', 'multi.ops') > count('writer', 'multi'), 'with several ops each');
    assert.ok(count('reader', 'sync') >= 1, 'the read passed a barrier');
    assert.equal(count('reader', 'multi'), 0, 'the reader writes nothing');
  });

  it("checks a claim's queue directories in one multiRead, not one exists each", async () => {
    const c = fresh()();
    await c.ready();
    const session = (c as unknown as { session: Session }).session;
    const zk = await session.connected(Date.now() + 10_000);
    // Watch which paths go out as `exists` (the bell's re-arm does, by design) and as stat.
    const existsOn: string[] = [];
    const statOn: string[] = [];
    const exists = zk.exists.bind(zk);
    zk.exists = (path, watcher) => (existsOn.push(path), exists(path, watcher));
    const stat = zk.stat.bind(zk);
    zk.stat = (path) => (statOn.push(path), stat(path));
    const kinds = ['dir-a', 'dir-b', 'dir-c', 'dir-d'];
    for (const kind of kinds) await c.post({ kind, labels: ['x'] });
    const multiReads = zk.requests.get('multiRead') ?? 0;
    for (const kind of kinds) assert.ok(await c.claim({ workerId: 'w', kinds, labels: ['x'], ttlMs: TTL }), `claim for ${kind}`);
    assert.equal(await c.claim({ workerId: 'w', kinds, labels: ['x'], ttlMs: TTL }), null);
    const queueDirs = kinds.map((kind) => session.layout.queueKind(kind));
    assert.deepEqual(existsOn.filter((path) => queueDirs.some((dir) => path.startsWith(dir))), [], 'no exists per queue directory');
    for (const dir of queueDirs) assert.ok(statOn.includes(dir), `${dir} was checked`);
    assert.ok((zk.requests.get('multiRead') ?? 0) > multiReads, 'the checks went out in multiReads');
  });

  it('answers a claim that finds nothing without listing unchanged directories again, and still sees what another instance posted', async () => {
    const open = fresh();
    const [claimer, poster] = [open(), open()];
    await Promise.all([claimer.ready(), poster.ready()]);
    const kinds = ['empty-a', 'empty-b', 'empty-c'];
    for (const kind of kinds) await poster.post({ kind, labels: ['x'] });
    for (let i = 0; i < kinds.length; i++) assert.ok(await claimer.claim({ workerId: 'w', kinds, labels: ['x'], ttlMs: TTL }));
    const session = (claimer as unknown as { session: Session }).session;
    const zk = session.client;
    const listed: string[] = [];
    const listChildren = zk.listChildren.bind(zk);
    zk.listChildren = (path) => (listed.push(path), listChildren(path));
    for (let i = 0; i < 5; i++) assert.equal(await claimer.claim({ workerId: 'w', kinds, labels: ['x'], ttlMs: TTL }), null);
    assert.deepEqual(listed, [], 'nothing changed: no directory listed again');
    // A post through the other instance: the empty claim's check behind its barrier finds it.
    const posted = await poster.post({ kind: 'empty-b', labels: ['x'] });
    const claimed = await claimer.claim({ workerId: 'w', kinds, labels: ['x'], ttlMs: TTL });
    assert.equal(claimed?.ticket.id, posted.ticket.id);
    assert.deepEqual(listed, [session.layout.queue('empty-b', ['x'])], 'only the directory that gained an entry');
    // Claims that come up empty in one turn (the parked claims one bell wakes) share one barrier.
    const syncs = zk.requests.get('sync') ?? 0;
    const empty = await Promise.all(Array.from({ length: 6 }, () => claimer.claim({ workerId: 'w', kinds, labels: ['x'], ttlMs: TTL })));
    assert.deepEqual(empty, [null, null, null, null, null, null]);
    assert.equal((zk.requests.get('sync') ?? 0) - syncs, 1, 'one barrier for the six');
  });

  it('passes a read barrier without a transaction (a sync: the ensemble writes nothing for it)', async () => {
    const c = fresh()();
    await c.ready();
    const session = (c as unknown as { reader: Session }).reader;
    const zk = await session.connected(Date.now() + 10_000);
    const leader = await ensemble.leader();
    const before = await lastZxid(leader.port);
    for (let i = 0; i < 20; i++) await session.barrier(zk);
    const after = await lastZxid(leader.port);
    // A write barrier (a `check` multi) is a transaction: 20 of them would move it by 20.
    assert.ok(after - before < 5n, `the leader's last zxid moved by ${after - before} over 20 barriers`);
  });

  it('serves unchanged records, listings and counters from what its watches keep: the barrier alone, and every change through another instance seen at once', async () => {
    const open = fresh();
    const [writer, reader] = [open(), open()];
    await Promise.all([writer.ready(), reader.ready()]);
    for (let i = 1; i <= 3; i++) await writer.putRecord(`few/${i}`, { i }, 0);
    await writer.nextNumber('few-counter');
    const zk = (reader as unknown as { reader: Session }).reader.client;
    const read = async () => {
      const [page, record, number] = await Promise.all([
        reader.listRecords<{ i: number }>('few/', { reverse: true, limit: 2 }),
        reader.getRecord<{ i: number }>('few/1'),
        reader.currentNumber('few-counter'),
      ]);
      return [...page.records.map((r) => r.value.i), record?.value.i, number];
    };
    const sent = async (expected: unknown[]): Promise<Record<string, number>> => {
      const before = new Map(zk.requests);
      assert.deepEqual(await read(), expected);
      const counts: Record<string, number> = {};
      for (const [kind, n] of zk.requests) if (n > (before.get(kind) ?? 0) && !kind.includes('.')) counts[kind] = n - (before.get(kind) ?? 0);
      return counts;
    };
    assert.deepEqual(await sent([3, 2, 1, 1]), { sync: 1, getChildren: 1, getData: 3, exists: 2 }, 'first: read with watches (a record not listed: getData and exists together)');
    assert.deepEqual(await sent([3, 2, 1, 1]), { sync: 1 }, 'unchanged: the barrier alone');
    // Each change made through the other instance is seen by the very next read.
    await writer.putRecord('few/3', { i: 30 }, 1);
    assert.deepEqual(await sent([30, 2, 1, 1]), { sync: 1, getData: 1 }, 'a value change: that record read again, the listing kept');
    await writer.putRecord('few/4', { i: 4 }, 0);
    assert.deepEqual(await sent([4, 30, 1, 1]), { sync: 1, getChildren: 1, getData: 1 }, 'a new record: listed again');
    await writer.nextNumber('few-counter');
    assert.deepEqual(await sent([4, 30, 1, 2]), { sync: 1, exists: 1 }, 'the counter moved');
    await writer.deleteRecord('few/1', 1);
    assert.deepEqual(await sent([4, 30, undefined, 2]), { sync: 1, getChildren: 1, getData: 1, exists: 1 }, 'a record deleted: listed again, its absence kept by an exists watch');
    assert.deepEqual(await sent([4, 30, undefined, 2]), { sync: 1 });
    await writer.putRecord('few/1', { i: 100 }, 0);
    assert.deepEqual(await sent([4, 30, 100, 2]), { sync: 1, getChildren: 1, getData: 1, exists: 1 }, 'created again: seen');
  });

  it('drops what its watches keep when the connection is lost, and reads again after it is back', async () => {
    const open = fresh();
    const [writer, reader] = [open(), open()];
    await Promise.all([writer.ready(), reader.ready()]);
    await writer.putRecord('cut/1', { i: 1 }, 0);
    const session = (reader as unknown as { reader: Session }).reader;
    const watched = (reader as unknown as { records: { watched: { size: { entries: number } } } }).records.watched;
    assert.equal((await reader.getRecord<{ i: number }>('cut/1'))?.value.i, 1);
    assert.equal(watched.size.entries, 1);
    const zk = session.client;
    const socket = (zk as unknown as { raw: { connectionManager: { socket?: { destroy(): void } } } }).raw.connectionManager.socket;
    const events: string[] = [];
    session.on((event) => events.push(event));
    socket?.destroy();
    await eventually(() => assert.ok(events.includes('connected'), `events: ${events.join(', ')}`));
    assert.equal(watched.size.entries, 0, 'dropped on the lost connection');
    assert.equal(zk.watching, false, 'and their watches: none is set again on the new connection');
    await writer.putRecord('cut/1', { i: 2 }, 1);
    const before = zk.requests.get('getData') ?? 0;
    assert.equal((await reader.getRecord<{ i: number }>('cut/1'))?.value.i, 2);
    assert.equal((zk.requests.get('getData') ?? 0) - before, 1, 'read again');
  });

  it('keeps the listing of a large record directory and lists it again only once it changed, also through another instance', async () => {
    const open = fresh();
    const [writer, reader] = [open(), open()];
    await Promise.all([writer.ready(), reader.ready()]);
    const key = (i: number) => `many/${String(i).padStart(4, '0')}`;
    await Promise.all(Array.from({ length: 100 }, (_, i) => writer.putRecord(key(i), { i }, 0)));
    const zk = (reader as unknown as { reader: Session }).reader.client;
    let listings = 0;
    const listChildren = zk.listChildren.bind(zk);
    zk.listChildren = (path, watcher) => {
      listings++;
      return listChildren(path, watcher);
    };
    const page = async (after?: string) => (await reader.listRecords<{ i: number }>('many/', { limit: 10, ...(after ? { after } : {}) })).records.map((r) => r.value.i);
    assert.deepEqual(await page(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal(listings, 1);
    assert.deepEqual(await page(key(9)), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    assert.equal(listings, 1, 'unchanged: the kept listing serves the next page');
    // Changes through another instance: one record deleted, one created before the first.
    await writer.deleteRecord(key(3), 1);
    await writer.putRecord('many/-first', { i: -1 }, 0);
    assert.deepEqual(await page(), [-1, 0, 1, 2, 4, 5, 6, 7, 8, 9]);
    assert.equal(listings, 2, 'changed: listed again');
    // A value change alone is no change of the listing, and is seen.
    await writer.putRecord(key(0), { i: 1000 }, 1);
    assert.deepEqual(await page(), [-1, 1000, 1, 2, 4, 5, 6, 7, 8, 9]);
    assert.equal(listings, 2);
  });

  it('renews leases started in the same turn as one group; a stale token fails alone and the others are renewed', async () => {
    const c = fresh()();
    const kind = 'renew-group';
    for (let i = 0; i < 5; i++) await c.post({ kind });
    const claims = [];
    for (let i = 0; i < 5; i++) claims.push((await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL }))!);
    // Count the multis the writer session sends for the renewals.
    const zk = (c as unknown as { session: Session }).session.client;
    const multi = zk.multi.bind(zk);
    let multis = 0;
    zk.multi = (ops) => {
      multis++;
      return multi(ops);
    };
    const outcomes = await Promise.allSettled(claims.map((cl, i) => c.renew(cl.ticket.id, i === 2 ? cl.token + 1 : cl.token, TTL)));
    zk.multi = multi;
    // One multi for the five; it fails on the stale token, and the other four go again together.
    assert.equal(multis, 2, 'renewals of one turn share a multi');
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    assert.ok((outcomes[2] as PromiseRejectedResult).reason instanceof LeaseLostError);
    for (const [i, o] of outcomes.entries()) {
      if (o.status === 'fulfilled') assert.equal(o.value.token, claims[i]!.token);
    }
  });

  it('reads a lease it already read again only once its trust lapsed, counted from the read, not from the lease mtime', async () => {
    const open = fresh();
    const [granting, sweeping] = [open(), open({ leaseTrustMs: 1500 })];
    const kind = 'sweep-reads';
    for (let i = 0; i < 10; i++) await granting.post({ kind });
    for (let i = 0; i < 10; i++) assert.ok(await granting.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL }));
    const expiry = (sweeping as unknown as { expiry: { reads: number } }).expiry;
    const readsOf = async (): Promise<number> => {
      const before = expiry.reads;
      assert.equal(await sweeping.expireLeases(), 0, 'no lease is due');
      return expiry.reads - before;
    };
    assert.equal(await readsOf(), 10, 'leases granted elsewhere are new to this instance');
    assert.equal(await readsOf(), 0, 'and trusted right after');
    await delay(1700);
    assert.equal(await readsOf(), 10, 'read again once the trust lapsed');
    // The leases are older than the trust now: before the fix each sweep read them all again.
    assert.equal(await readsOf(), 0, 'trusted again for as long after that read');
  });

  it('leaves leases to the instance that granted them in routine sweeps, and returns them as a backup once listed for leaseBackupMs', async () => {
    const open = fresh();
    const [granting, backup] = [open({ expiryMarginMs: 0 }), open({ expiryMarginMs: 0, leaseBackupMs: 1500 })];
    const kind = 'backup-sweep';
    for (let i = 0; i < 6; i++) await granting.post({ kind });
    for (let i = 0; i < 6; i++) assert.ok(await granting.claim({ workerId: i < 3 ? 'dead' : 'alive', kinds: [kind], labels: [], ttlMs: i < 3 ? 100 : TTL }));
    const expiry = (backup as unknown as { expiry: { reads: number } }).expiry;
    const sweep = async (): Promise<{ returned: number; reads: number }> => {
      const before = expiry.reads;
      const returned = await backup.expireLeases({ routine: true });
      return { returned, reads: expiry.reads - before };
    };
    assert.deepEqual(await sweep(), { returned: 0, reads: 0 }, 'first listed: left to the granting instance');
    await delay(300); // three leases are due now, but their granting instance is alive (it does not sweep here)
    assert.deepEqual(await sweep(), { returned: 0, reads: 0 }, 'still left to it within leaseBackupMs');
    await delay(1400);
    assert.deepEqual(await sweep(), { returned: 3, reads: 6 }, 'past leaseBackupMs: read once, the due ones returned');
    assert.deepEqual(await sweep(), { returned: 0, reads: 0 }, 'what it read is trusted as a backup');
    assert.equal((await backup.list({ kind, status: 'pending' })).length, 3);
    // The granting instance's own routine sweep needs no backup delay for its leases.
    const again = await granting.claim({ workerId: 'dead', kinds: [kind], labels: [], ttlMs: 100 });
    assert.ok(again);
    await delay(200);
    assert.equal(await granting.expireLeases({ routine: true }), 1);
  });

  it('reads the headers of the next entries with a claim\'s own, and a header read ahead that went stale grants nothing', async () => {
    const open = fresh();
    const [c, other] = [open(), open()];
    const kind = 'read-ahead';
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await c.post({ kind })).ticket.id);
    const zk = (c as unknown as { session: Session }).session.client;
    const getData = zk.getData.bind(zk);
    const read: string[] = [];
    zk.getData = (path, watcher) => {
      read.push(path.slice(path.lastIndexOf('/') + 1));
      return getData(path, watcher);
    };
    try {
      const first = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
      assert.equal(first?.ticket.id, ids[0]);
      const headers = read.filter((name) => /^\d+$/.test(name)).map(Number).sort((a, b) => a - b);
      assert.deepEqual(headers, ids.map(Number), 'its own header and those of the five after it');
      // Cancelled through another instance after its header was read ahead here: the header
      // changed, so the claim that picks it fails that try and takes another (a lost race
      // spreads the next picks over the first entries).
      await other.cancel(ids[1]!);
      read.length = 0;
      const second = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
      const third = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
      assert.ok(second && third && second.ticket.id !== third.ticket.id);
      for (const claim of [second, third]) assert.ok(ids.slice(2).includes(claim.ticket.id), `${claim.ticket.id} is pending`);
      assert.equal((await c.get(ids[1]!)).status, 'done', 'the cancelled ticket stays cancelled');
      assert.deepEqual(read.filter((name) => ids.includes(name)), [], 'read ahead: no header read of their own');
    } finally {
      zk.getData = getData;
    }
  });

  it('purges done tickets behind more unfinished ones than one call may read, over successive calls', async () => {
    const c = fresh()();
    const stuck = 'purge-stuck'; // pending for good: no worker serves it
    for (let i = 0; i < 30; i++) await c.post({ kind: stuck });
    const done: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { ticket } = await c.post({ kind: 'purge-done' });
      const claim = (await c.claim({ workerId: 'w', kinds: ['purge-done'], labels: [], ttlMs: TTL }))!;
      await c.complete(ticket.id, claim.token, { outcome: 'success' });
      done.push(ticket.id);
    }
    // One call reads at most 10 headers per ticket it may remove: 20 here, fewer than the 30 in front.
    let removed = 0;
    await eventually(async () => {
      removed += await c.purgeDone(0, 2);
      assert.equal(removed, 3);
    });
    for (const id of done) await assert.rejects(c.get(id), NotFoundError);
    assert.equal((await c.list({ kind: stuck, limit: 100 })).length, 30, 'unfinished tickets stay');
  });

  it('loses no ticket and grants none twice when a follower is SIGKILLed during a claim storm', async () => {
    const open = fresh();
    const coordinators = Array.from({ length: 4 }, () => open());
    await Promise.all(coordinators.map((c) => c.ready()));
    const status = await ensemble.status();
    const followerPorts = new Set(status.filter((s) => s.mode === 'follower').map((s) => s.port));
    // Make sure at least one coordinator talks to a follower: open more until one does.
    for (let i = 0; i < 20 && !coordinators.some((c) => followerPorts.has(c.sessionInfo().serverPort ?? 0)); i++) {
      const c = open();
      await c.ready();
      coordinators.push(c);
    }
    const victimPort = coordinators.map((c) => c.sessionInfo().serverPort).find((p) => followerPorts.has(p ?? 0));
    const victim = status.find((s) => s.port === victimPort);
    assert.ok(victim, 'a coordinator connected to a follower');

    const kind = 'storm';
    const count = 400;
    const posted = new Set<string>();
    for (let i = 0; i < count; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) => coordinators[j % coordinators.length]!.post({ kind, payload: { i: i + j } })));
      for (const { ticket } of batch) posted.add(ticket.id);
    }
    const grants = new Map<string, number>();
    let killed = false;
    const retry = new Retrying(60_000);
    const retrying = <T>(fn: () => Promise<T>): Promise<T> => retry.run(fn);
    const worker = async (c: ZookeeperCoordinator, name: string): Promise<void> => {
      for (;;) {
        const claimId = randomUUID(); // reused by every retry of this one claim
        const claim = await retrying(() => c.claim({ workerId: name, kinds: [kind], labels: [], ttlMs: TTL, claimId }));
        if (!claim) return;
        grants.set(claim.ticket.id, (grants.get(claim.ticket.id) ?? 0) + 1);
        if (!killed && grants.size >= count / 4) {
          killed = true;
          await ensemble.kill(victim.node);
        }
        await retrying(() => c.complete(claim.ticket.id, claim.token, { outcome: 'success' }));
      }
    };
    const started = Date.now();
    let seconds = 0;
    try {
      await Promise.all(coordinators.flatMap((c, i) => [worker(c, `w${i}a`), worker(c, `w${i}b`)]));
      seconds = (Date.now() - started) / 1000;
    } finally {
      retry.stop();
      if (killed) await ensemble.restart(victim.node);
    }
    assert.ok(killed, 'the follower was killed during the storm');
    assert.deepEqual([...grants.values()].filter((n) => n > 1), [], 'no ticket granted twice');
    assert.equal(grants.size, count, 'every ticket granted');
    const done = await coordinators[0]!.list({ kind, status: 'done', limit: 1000 });
    assert.deepEqual(new Set(done.map((t) => t.id)), posted, 'every ticket done');
    console.log(`# claim storm: ${count} tickets, ${coordinators.length * 2} claimers, follower ${victim.node} killed: ${(count / seconds).toFixed(0)} claim+complete/s`);
  });
});

describe('zookeeper backend: faults and sessions', () => {
  const opened: ZookeeperCoordinator[] = [];
  const roots: string[] = [];
  const fresh = (): ((options?: Partial<ZookeeperOptions>) => ZookeeperCoordinator) => {
    const root = ensemble.freshRoot();
    roots.push(root);
    return (options = {}) => {
      const c = new ZookeeperCoordinator({ servers: ensemble.servers, root, sessionTimeoutMs: 4000, ...options });
      opened.push(c);
      return c;
    };
  };
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((c) => c.close()));
    for (const root of roots.splice(0)) await ensemble.removeRoot(root);
  });

  it('resumes operations after the leader is SIGKILLed, and loses nothing', async () => {
    const open = fresh();
    const [a, b] = [open(), open()];
    await Promise.all([a.ready(), b.ready()]);
    const kind = 'leader-loss';
    const posted: string[] = [];
    const completed = new Set<string>();
    const successes: number[] = [];
    const retry = new Retrying(30_000);
    const retrying = <T>(fn: () => Promise<T>): Promise<T> => retry.run(fn);
    const loop = async (c: ZookeeperCoordinator, name: string): Promise<void> => {
      for (let i = 0; !retry.stopped; i++) {
        const key = `${name}-${i}`; // a retried post is the same post
        const { ticket } = await retrying(() => c.post({ kind, idempotencyKey: key }));
        if (!posted.includes(ticket.id)) posted.push(ticket.id);
        const claimId = randomUUID();
        const claim = await retrying(() => c.claim({ workerId: name, kinds: [kind], labels: [], ttlMs: TTL, claimId }));
        if (claim) {
          await retrying(() => c.complete(claim.ticket.id, claim.token, { outcome: 'success' }));
          completed.add(claim.ticket.id);
        }
        successes.push(Date.now());
      }
    };
    const loops = [loop(a, 'a1'), loop(a, 'a2'), loop(b, 'b1'), loop(b, 'b2')].map((p) => p.catch((err: unknown) => retry.fail(err)));
    let leader: NodeStatus | null = null;
    let killedAt = 0;
    try {
      await eventually(() => assert.ok(successes.length >= 50, retry.report('50 rounds before the fault')), 10_000);
      const current = await ensemble.leader();
      killedAt = Date.now();
      await ensemble.kill(current.node);
      leader = current;
      await eventually(() => assert.ok(successes.some((t) => t > killedAt + 200), retry.report('a round after the leader was killed')), 30_000, 20);
      const firstAfter = successes.find((t) => t > killedAt + 200)!;
      await eventually(() => assert.ok(successes.filter((t) => t > firstAfter).length >= 50, retry.report('50 rounds after')), 20_000);
    } finally {
      retry.stop();
      await Promise.all(loops);
      if (leader) await ensemble.restart(leader.node);
    }
    assert.deepEqual(retry.failures, [], 'no call failed for good');
    // The longest pause between two successful rounds around the fault.
    const around = successes.filter((t) => t >= killedAt - 1000);
    const pause = Math.max(...around.slice(1).map((t, i) => t - around[i]!));
    console.log(`# leader ${leader!.node} killed: longest pause between successful rounds ${pause} ms`);

    // Every posted ticket is done or still pending; none is stuck leased or gone.
    await a.expireLeases();
    const all = await a.list({ kind, limit: 1000 });
    assert.deepEqual(new Set(all.map((t) => t.id)), new Set(posted), 'no ticket lost');
    assert.deepEqual(all.filter((t) => t.status === 'leased'), [], 'no lease left behind');
    for (const t of all.filter((x) => x.status === 'done')) assert.ok(completed.has(t.id));
  });

  it('recovers by itself after its session expires; notifications and locks follow', async () => {
    const open = fresh();
    const [victim, other] = [open(), open()];
    await Promise.all([victim.ready(), other.ready()]);
    const lock = await victim.tryLock('cron/expiry', 'victim');
    assert.ok(lock);
    const hints: number[] = [];
    victim.onClaimable(() => hints.push(Date.now()));
    const { id, password } = victim.sessionInfo();
    const hintsBefore = hints.length;
    await expireSession(ensemble.servers, id, password);
    // The lock went with the session: it is lost, and another holder can take it.
    await eventually(() => assert.equal(lock.lost.aborted, true), 10_000);
    const taken = await eventually(async () => {
      const l = await other.tryLock('cron/expiry', 'other');
      assert.ok(l);
      return l;
    }, 10_000, 50);
    await taken.release();
    // A new session, by itself: calls work again and the watch was re-armed on it.
    await eventually(async () => assert.notEqual(victim.sessionInfo().id, id), 10_000, 50);
    // Changes may have been missed while the session was gone: listeners hear of it.
    await eventually(() => assert.ok(hints.length > hintsBefore, 'a hint once the new session is up'), 5000, 5);
    const before = hints.length;
    const { ticket } = await other.post({ kind: 'after-expiry' });
    await eventually(() => assert.ok(hints.length > before, 'a hint after the post'), 5000, 5);
    const claim = await victim.claim({ workerId: 'w', kinds: ['after-expiry'], labels: [], ttlMs: TTL });
    assert.equal(claim?.ticket.id, ticket.id);
    assert.equal((await victim.get(ticket.id)).lease?.holder, 'w');
  });

  it('connects again after a server died in the middle of a reply (the library kept the cut-off bytes)', async () => {
    const proxy = await cuttingProxy(ensemble.servers.split(',')[0]!);
    try {
      await withClient(
        roots,
        async (zk, root) => {
          await zk.create(root, Buffer.alloc(4096, 1));
          proxy.cutNextReply();
          await assert.rejects(zk.getData(root), (err: ZkError) => err.code === ZK.CONNECTION_LOSS);
          await zk.whenConnected(6000); // stuck for good before the fix: each connect answer read behind the stale bytes
          assert.equal((await zk.getData(root)).data.length, 4096);
          assert.equal(proxy.cuts, 1);
        },
        { servers: `127.0.0.1:${proxy.port}`, opTimeoutMs: 3000 },
      );
    } finally {
      proxy.close();
    }
  });

  it('fails ready() fast with a clear UnavailableError when nothing listens', async () => {
    const port = await unusedPort();
    const c = new ZookeeperCoordinator({ servers: `127.0.0.1:${port}`, root: '/nowhere', connectTimeoutMs: 1000 });
    const started = Date.now();
    await assert.rejects(c.ready(), (err: UnavailableError) => {
      assert.ok(err instanceof UnavailableError);
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.match(err.message, /scripts\/zookeeper\.sh/);
      return true;
    });
    assert.ok(Date.now() - started < 3000, `ready() took ${Date.now() - started} ms`);
    const closing = Date.now();
    await c.close();
    assert.ok(Date.now() - closing < 2000);
  });
});

describe('zookeeper URLs', () => {
  it('opens zookeeper:// URLs with a chroot and options, and explains bad ones', async () => {
    assert.deepEqual(parseZookeeperUrl('zookeeper://zk1:2181,zk2:2181,zk3:2181/distci'), { servers: 'zk1:2181,zk2:2181,zk3:2181', root: '/distci' });
    assert.deepEqual(parseZookeeperUrl('zookeeper://127.0.0.1:2181'), { servers: '127.0.0.1:2181', root: '/distci' });
    assert.deepEqual(parseZookeeperUrl('zookeeper://h:1/a/b?sessionTimeoutMs=4000'), { servers: 'h:1', root: '/a/b', sessionTimeoutMs: 4000 });
    assert.throws(() => parseZookeeperUrl('zookeeper://h/x'), /not host:port/);
    assert.throws(() => parseZookeeperUrl('zookeeper://h:1/a/../b'), ValidationError);
    assert.throws(() => parseZookeeperUrl('zookeeper://h:1/x?color=red'), /unknown option/);
    const c = await openCoordinator('zookeeper://127.0.0.1:1/x');
    assert.equal(c.backend, 'zookeeper');
    await c.close();
  });
});

/**
 * Retries a call while it fails with UnavailableError (what a worker or client does),
 * counting errors by code for the failure report; stops when told or past `deadlineMs`.
 */
class Retrying {
  readonly failures: string[] = [];
  private readonly errors = new Map<string, number>();
  private halted = false;

  constructor(private readonly deadlineMs: number) {}

  get stopped(): boolean {
    return this.halted;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.deadlineMs;
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        const key = err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message.slice(0, 120)}` : String(err);
        this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
        if (!(err instanceof UnavailableError) || Date.now() > deadline) throw err;
        if (this.halted) throw new Error('stopped');
        await delay(20);
      }
    }
  }

  fail(err: unknown): void {
    if (!(err instanceof Error && err.message === 'stopped')) this.failures.push(String(err));
  }

  stop(): void {
    this.halted = true;
  }

  report(what: string): string {
    return `${what}; errors seen: ${JSON.stringify([...this.errors])}; failures: ${JSON.stringify(this.failures)}`;
  }
}

function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs `run` with a connected raw ZkClient and a fresh root path (recorded in `roots` for cleanup), then closes it. */
async function withClient(
  roots: string[],
  run: (zk: ZkClient, root: string) => Promise<void>,
  { servers = ensemble.servers, opTimeoutMs = 5000 }: { servers?: string; opTimeoutMs?: number } = {},
): Promise<void> {
  const zk = new ZkClient({ servers, sessionTimeoutMs: 4000, opTimeoutMs });
  const root = ensemble.freshRoot();
  roots.push(root);
  try {
    await zk.whenConnected(5000);
    await run(zk, root);
  } finally {
    await zk.close();
  }
}

/**
 * A TCP proxy to one ZooKeeper server that, when told, passes on only the first bytes of
 * the server's next reply and then drops both connections: a server dying mid-reply.
 */
async function cuttingProxy(target: string): Promise<{ port: number; cuts: number; cutNextReply(): void; close(): void }> {
  const [host, port] = target.split(':') as [string, string];
  const sockets = new Set<Socket>();
  let armed = false;
  const state = { port: 0, cuts: 0, cutNextReply: () => void (armed = true), close: () => undefined as void };
  const server = createServer((client) => {
    const upstream = connect(Number(port), host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (armed && chunk.length > 8) {
        armed = false;
        state.cuts++;
        client.write(chunk.subarray(0, 6), () => client.destroy());
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.port = (server.address() as AddressInfo).port;
  state.close = () => {
    server.close();
    for (const s of sockets) s.destroy();
  };
  return state;
}

/** The last transaction id a node has seen (four-letter word `srvr`). */
function lastZxid(port: number): Promise<bigint> {
  return new Promise((resolve, reject) => {
    let text = '';
    const socket = connect(port, '127.0.0.1', () => socket.end('srvr'));
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.on('error', reject).on('close', () => {
      const zxid = /Zxid: (0x[0-9a-f]+)/.exec(text)?.[1];
      if (zxid) resolve(BigInt(zxid));
      else reject(new Error(`no Zxid in the answer to srvr: ${text}`));
    });
  });
}
