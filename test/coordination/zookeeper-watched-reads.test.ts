/**
 * WatchedReads against a small in-memory stand-in for a ZooKeeper session (unit tests of
 * its bookkeeping; zookeeper.test.ts proves it against a real ensemble).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ZK, ZkError } from '../../src/coordination/zookeeper/errors.js';
import type { Session, SessionEvent } from '../../src/coordination/zookeeper/session.js';
import { WatchedReads } from '../../src/coordination/zookeeper/watched-reads.js';
import type { Stat, Watcher, ZkClient } from '../../src/coordination/zookeeper/zk-client.js';

/** Nodes with data and one-shot watches, as a session sees them. */
class FakeZk {
  readonly nodes = new Map<string, { data: Buffer; version: number }>();
  private readonly watchers = new Map<string, Watcher[]>();
  /** getData calls, and exists calls (a read that misses sends both). */
  reads = 0;
  existsCalls = 0;
  /** What `answeredSoFar` returns: the replies of the requests sent so far. */
  sentSoFar: Promise<void> = Promise.resolve();
  answeredSoFar(): Promise<void> {
    return this.sentSoFar;
  }
  dropWatches(): void {
    this.watchers.clear();
  }
  /** Called after a read registered its watch and resolved, before the reader's continuation runs. */
  afterReply: ((path: string) => void) | null = null;

  write(path: string, data: string): void {
    const node = this.nodes.get(path);
    this.nodes.set(path, { data: Buffer.from(data), version: node ? node.version + 1 : 0 });
    const fired = this.watchers.get(path) ?? [];
    this.watchers.delete(path);
    for (const w of fired) w();
  }

  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer; stat: Stat }> {
    this.reads++;
    const node = this.nodes.get(path);
    if (!node) return Promise.reject(new ZkError(ZK.NO_NODE, path));
    if (watcher) this.watchers.set(path, [...(this.watchers.get(path) ?? []), watcher]);
    const reply = Promise.resolve({ data: node.data, stat: { version: node.version } as Stat });
    this.afterReply?.(path);
    return reply;
  }

  exists(path: string, watcher?: Watcher): Promise<Stat | null> {
    this.existsCalls++;
    if (watcher) this.watchers.set(path, [...(this.watchers.get(path) ?? []), watcher]);
    const node = this.nodes.get(path);
    return Promise.resolve(node ? ({ version: node.version } as Stat) : null);
  }
}

function setup(maxBytes?: number) {
  const zk = new FakeZk();
  const listeners: ((event: SessionEvent, zk: ZkClient) => void)[] = [];
  const session = { on: (l: (event: SessionEvent, zk: ZkClient) => void) => (listeners.push(l), () => undefined) } as unknown as Session;
  const watched = new WatchedReads(session, maxBytes);
  const client = zk as unknown as ZkClient;
  const answered = Promise.resolve();
  const read = async (path: string, barrier: Promise<unknown> = answered) => (await watched.data(client, path, barrier))?.data.toString() ?? null;
  return { zk, watched, read, client, connectionEvent: (e: SessionEvent) => listeners.forEach((l) => l(e, client)) };
}

test('keeps a read until its watch fires; a kept read waits for the barrier and is read again if its watch fired meanwhile', async () => {
  const { zk, read } = setup();
  zk.write('/a', 'one');
  assert.equal(await read('/a'), 'one');
  assert.equal(await read('/a'), 'one');
  assert.equal(zk.reads, 1, 'kept');
  zk.write('/a', 'two');
  assert.equal(await read('/a'), 'two');
  assert.equal(zk.reads, 2, 'the watch dropped it');
  let answer!: () => void;
  const barrier = new Promise<void>((resolve) => (answer = resolve));
  const pending = read('/a', barrier);
  let settled = false;
  void pending.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'a kept read is not answered before the barrier is');
  zk.write('/a', 'three'); // its event arrives before the barrier's answer
  answer();
  assert.equal(await pending, 'three');
  assert.equal(zk.reads, 3);
});

test('does not keep a read whose watch fired before the read was taken in (event right after the reply)', async () => {
  const { zk, read } = setup();
  zk.write('/a', 'one');
  zk.afterReply = (path) => {
    zk.afterReply = null;
    zk.write(path, 'two');
  };
  assert.equal(await read('/a'), 'one', 'the reply, older than the event');
  assert.equal(await read('/a'), 'two', 'not kept: read again');
  assert.equal(zk.reads, 2);
});

test('keeps the absence of a node with an exists watch, dropped when the node is created', async () => {
  const { zk, read } = setup();
  assert.equal(await read('/none'), null);
  assert.equal(await read('/none'), null);
  assert.deepEqual([zk.reads, zk.existsCalls], [1, 1], 'getData and exists, once');
  zk.write('/none', 'here');
  assert.equal(await read('/none'), 'here');
});

test('drops everything on a connection event, and does not keep a read that was in flight across one', async () => {
  const { zk, read, watched, connectionEvent } = setup();
  zk.write('/a', 'one');
  zk.write('/b', 'one');
  await read('/a');
  assert.equal(watched.size.entries, 1);
  connectionEvent('disconnected');
  assert.equal(watched.size.entries, 0);
  zk.afterReply = () => connectionEvent('connected');
  await read('/b');
  assert.equal(watched.size.entries, 0, 'read before the event: not kept');
});

test('keeps at most maxBytes, dropping the least recently used first', async () => {
  const { zk, read, watched } = setup(3 * 150); // each read of 50 bytes weighs 150
  for (const p of ['/1', '/2', '/3', '/4']) zk.write(p, 'x'.repeat(50));
  await read('/1');
  await read('/2');
  await read('/3');
  await read('/1'); // now the most recently used
  await read('/4'); // drops /2
  assert.deepEqual(watched.size, { entries: 3, bytes: 450 });
  const before = zk.reads;
  await read('/1');
  await read('/3');
  await read('/4');
  assert.equal(zk.reads, before, '/1, /3 and /4 kept');
  await read('/2');
  assert.equal(zk.reads, before + 1, '/2 was dropped');
});

test('answers a kept read only once the requests sent before it was asked for are answered (reads keep their order)', async () => {
  const { zk, read } = setup();
  zk.write('/listing', 'kept');
  await read('/listing');
  let answer!: () => void;
  zk.sentSoFar = new Promise<void>((resolve) => (answer = resolve)); // e.g. a counter read just sent
  let settled = false;
  const pending = read('/listing').then((v) => ((settled = true), v));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'not before the earlier request is answered');
  answer();
  assert.equal(await pending, 'kept');
});
