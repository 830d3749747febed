/**
 * Two claim-path behaviours of the ZooKeeper backend that need no ensemble: group commit
 * (claims that become ready while a multi is in flight go out together as one multi) and
 * the queue view's slots (under contention an instance takes from its own slot even
 * behind many entries of other slots, which racing instances took already).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MultiBatcher } from '../../src/coordination/zookeeper/batch.js';
import { ZK, ZkError } from '../../src/coordination/zookeeper/errors.js';
import { Layout, pendingName } from '../../src/coordination/zookeeper/layout.js';
import { QueueView, slotOf } from '../../src/coordination/zookeeper/queue-view.js';
import type { Session } from '../../src/coordination/zookeeper/session.js';
import type { Op, OpResult, Stat, ZkClient } from '../../src/coordination/zookeeper/zk-client.js';

const stat = (numChildren: number): Stat => ({ version: 0, cversion: numChildren, ctime: 0, mtime: 0, ephemeralOwner: '0', numChildren });

/** A client whose multis wait until the test lets them answer; `failAt` makes one fail at that op. */
function fakeClient() {
  const calls: { ops: Op[]; answer(failAt?: number): void }[] = [];
  const zk = {
    multi(ops: Op[]): Promise<OpResult[]> {
      return new Promise((resolve, reject) => {
        calls.push({
          ops,
          answer: (failAt) =>
            failAt === undefined ? resolve(ops.map((): OpResult => ({ op: 'check' }))) : reject(new ZkError(ZK.NO_NODE, ops[failAt]!.path, failAt)),
        });
      });
    },
  } as unknown as ZkClient;
  return { zk, calls };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Lets the event loop turn until `n` multis went out (or a few turns passed). */
async function sent(calls: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 10 && calls.length < n; i++) await turn();
}
const claimOps = (name: string): Op[] => [
  { op: 'remove', path: `/q/${name}`, version: -1 },
  { op: 'create', path: `/l/${name}` },
];

describe('zookeeper claim group commit', () => {
  it('sends the claims that became ready while a multi was in flight as one multi', async () => {
    const { zk, calls } = fakeClient();
    const batch = new MultiBatcher();
    const first = batch.commit(zk, claimOps('a'));
    await turn();
    assert.equal(calls.length, 1);
    // Ready one at a time, in different turns, while the first multi is out.
    const later = [batch.commit(zk, claimOps('b'))];
    await turn();
    later.push(batch.commit(zk, claimOps('c')));
    await turn();
    later.push(batch.commit(zk, claimOps('d')));
    await turn();
    assert.equal(calls.length, 1, 'nothing more goes out while a multi is in flight');
    calls[0]!.answer();
    await first;
    await sent(calls, 2);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.ops.map((op) => op.path), ['/q/b', '/l/b', '/q/c', '/l/c', '/q/d', '/l/d']);
    calls[1]!.answer();
    const results = await Promise.all(later);
    assert.deepEqual(results.map((r) => r.length), [2, 2, 2]);
  });

  it('fails only the claim whose op failed and sends the others again', async () => {
    const { zk, calls } = fakeClient();
    const batch = new MultiBatcher();
    const claims = ['a', 'b', 'c'].map((n) => batch.commit(zk, claimOps(n)));
    await turn();
    assert.equal(calls.length, 1);
    calls[0]!.answer(2); // b's removal: b's own op 0
    const b = await claims[1]!.then(
      () => assert.fail('b committed'),
      (err: unknown) => err as ZkError,
    );
    assert.equal(b.opIndex, 0);
    assert.equal(b.code, ZK.NO_NODE);
    await sent(calls, 2);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.ops.map((op) => op.path), ['/q/a', '/l/a', '/q/c', '/l/c']);
    calls[1]!.answer();
    assert.equal((await claims[0]!).length, 2);
    assert.equal((await claims[2]!).length, 2);
  });

  it('sends each of the rest alone, all at once, when the batch fails a second time: three round trips however many fail', async () => {
    const { zk, calls } = fakeClient();
    const batch = new MultiBatcher();
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const claims = names.map((n) => batch.commit(zk, claimOps(n)).then(() => 'ok', (err: unknown) => `failed at ${(err as ZkError).opIndex}`));
    await turn();
    assert.equal(calls.length, 1);
    calls[0]!.answer(0); // a
    await sent(calls, 2);
    assert.equal(calls.length, 2);
    assert.deepEqual(calls[1]!.ops.map((op) => op.path), names.slice(1).flatMap((n) => [`/q/${n}`, `/l/${n}`]));
    calls[1]!.answer(1); // b's create
    await sent(calls, 7);
    assert.equal(calls.length, 6, 'c, d, e and f went out at once, each alone');
    assert.deepEqual(calls.slice(2).map((c) => c.ops[0]!.path), ['/q/c', '/q/d', '/q/e', '/q/f']);
    calls[2]!.answer(0); // c fails alone
    for (const c of calls.slice(3)) c.answer();
    assert.deepEqual(await Promise.all(claims), ['failed at 0', 'failed at 1', 'failed at 0', 'ok', 'ok', 'ok']);
  });
});

describe('zookeeper queue view slots', () => {
  it('takes from its own slot under contention even behind hundreds of entries of the other slot', async () => {
    const session = { layout: new Layout('/t') } as unknown as Session;
    const view = new QueueView(session);
    // Ids of slot 1 of 2 first (taken by the other instance, still in this view), then slot 0.
    const slot1: number[] = [];
    const slot0: number[] = [];
    for (let id = 1; slot1.length < 600; id++) if (slotOf(id, 2) === 1) slot1.push(id);
    for (let id = slot1.at(-1)! + 1; slot0.length < 20; id++) if (slotOf(id, 2) === 0) slot0.push(id);
    const names = [...slot1, ...slot0].map((id) => pendingName(0, id, ''));
    const zk = {
      stat: async (dir: string) => stat(dir.endsWith('/k') ? 1 : names.length),
      listChildren: async (dir: string) => ({ children: dir.endsWith('/k') ? ['-'] : names, stat: stat(dir.endsWith('/k') ? 1 : names.length) }),
    } as unknown as ZkClient;
    await view.verify(zk, ['k'], new Set());
    for (let i = 0; i < 20; i++) {
      const e = view.pick(['k'], new Set(), 16, new Set(), { index: 0, count: 2 });
      assert.ok(e && slot0.includes(e.id), `picked ${e?.id}, not an entry of slot 0`);
      view.gone(e, true);
    }
    // Its own slot empty: it helps with the other's.
    const e = view.pick(['k'], new Set(), 16, new Set(), { index: 0, count: 2 });
    assert.ok(e && slot1.slice(0, 16).includes(e.id));
  });
});

describe('zookeeper queue view checks', () => {
  it('checks the queue again after the bell rang, and not before while its last check is recent', async () => {
    let epoch = 7;
    const view = new QueueView({ layout: new Layout('/t') } as unknown as Session, () => epoch);
    let checks = 0;
    const zk = {
      stat: async () => {
        checks++;
        return stat(1);
      },
      listChildren: async (dir: string) => ({ children: dir.endsWith('/k') ? ['-'] : [pendingName(0, 1, '')], stat: stat(1) }),
    } as unknown as ZkClient;
    assert.equal(await view.verify(zk, ['k'], new Set()), false, 'the first look lists');
    await turn();
    assert.equal(await view.verify(zk, ['k'], new Set()), true);
    const after = checks;
    await turn();
    assert.equal(await view.verify(zk, ['k'], new Set()), true);
    assert.equal(checks, after, 'no check while the bell is silent');
    epoch++; // the bell rang (or the connection changed)
    await turn();
    await view.verify(zk, ['k'], new Set());
    assert.ok(checks > after, 'a check after the bell');
    const again = checks;
    epoch = -1; // the watch is not armed: every claim checks
    await turn();
    await view.verify(zk, ['k'], new Set());
    await turn();
    await view.verify(zk, ['k'], new Set());
    assert.equal(checks, again + 4);
  });
});

describe('zookeeper queue view listings', () => {
  it('builds one index of a route that many claims find new at once, over several turns', async () => {
    const view = new QueueView({ layout: new Layout('/t') } as unknown as Session);
    const names = Array.from({ length: 2000 }, (_, i) => pendingName(0, i + 1, ''));
    // Every index of the route sorts the listed names once: count the sorts.
    let indexed = 0;
    const listed = Object.assign([...names], {
      sort(this: string[]) {
        indexed++;
        return Array.prototype.sort.call(this) as string[];
      },
    });
    let answer = (): void => undefined;
    const slow = new Promise<void>((resolve) => (answer = resolve));
    const zk = {
      stat: async (dir: string) => stat(dir.endsWith('/k') ? 1 : names.length),
      listChildren: async (dir: string) => {
        if (dir.endsWith('/k')) return { children: ['-'], stat: stat(1) };
        await slow; // the route's listing is in flight while more claims arrive
        return { children: listed, stat: stat(names.length) };
      },
    } as unknown as ZkClient;
    const checks: Promise<boolean>[] = [];
    for (let i = 0; i < 8; i++) {
      checks.push(view.verify(zk, ['k'], new Set()), view.verify(zk, ['k'], new Set()));
      await turn();
    }
    answer();
    await Promise.all(checks);
    assert.equal(indexed, 1, 'the route was indexed once');
    assert.equal(view.pick(['k'], new Set(), 1, new Set(), null)?.id, 1);
  });
});
