/**
 * The coordinator contract: every backend must pass this suite unchanged.
 * `open()` returns a new coordinator instance sharing state with the others of the same
 * backend (what a second frontend process would see).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Coordinator } from '../../src/coordination/contract.js';
import { ConflictError, LeaseLostError, NotFoundError, ValidationError } from '../../src/core/errors.js';
import { eventually, nextEvent } from '../support/wait.js';

export interface ContractBackend {
  open(): Promise<Coordinator>;
  cleanup(): Promise<void>;
  /**
   * A claim that finds work may choose from a view one post behind a post made through
   * another instance (ZooKeeper: such a claim passes no barrier). Without it, strict order.
   */
  claimsMayLagOnePost?: boolean;
}

const TTL = 10_000;

export function coordinatorContract(name: string, makeBackend: () => Promise<ContractBackend>): void {
  describe(`coordinator contract: ${name}`, () => {
    let backend: ContractBackend;
    let c: Coordinator;
    let other: Coordinator;
    let n = 0;
    /** A kind no other test uses, so tests do not see each other's tickets. */
    const freshKind = (): string => `k${++n}-${Math.random().toString(36).slice(2, 8)}`;

    before(async () => {
      backend = await makeBackend();
      c = await backend.open();
      other = await backend.open();
      await c.ready();
    });
    after(async () => {
      await c.close();
      await other.close();
      await backend.cleanup();
    });

    describe('posting and reading tickets', () => {
      it('stores a posted ticket as pending with defaults applied', async () => {
        const kind = freshKind();
        const { ticket, created } = await c.post({ kind, labels: ['b', 'a', 'b'], payload: { x: 1 }, refs: { job: 'j1', build: 3 } });
        assert.equal(created, true);
        assert.equal(ticket.status, 'pending');
        assert.deepEqual(ticket.labels, ['a', 'b']);
        assert.equal(ticket.attempt, 0);
        assert.equal(ticket.maxAttempts, 3);
        assert.equal(ticket.lease, null);
        const read = await other.get(ticket.id);
        assert.deepEqual(read, ticket);
      });

      it('rejects invalid kind and label names and stores nothing', async () => {
        const kind = freshKind();
        await assert.rejects(c.post({ kind: 'bad kind' }), ValidationError);
        await assert.rejects(c.post({ kind, labels: ['../x'] }), ValidationError);
        await assert.rejects(c.post({ kind, priority: 1.5 }), ValidationError);
        assert.deepEqual(await c.list({ kind }), []);
      });

      it('answers not_found for an unknown ticket', async () => {
        await assert.rejects(c.get('999999999'), NotFoundError);
        await assert.rejects(c.get('no-such-id'), NotFoundError);
      });

      it('lists with status, kind and job filters and pages with a cursor', async () => {
        const kind = freshKind();
        const posted = [];
        for (let i = 0; i < 5; i++) posted.push((await c.post({ kind, refs: { job: i % 2 ? 'odd' : 'even' } })).ticket);
        const claim = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
        assert.ok(claim);
        assert.equal((await c.list({ kind })).length, 5);
        assert.deepEqual((await c.list({ kind, status: 'leased' })).map((t) => t.id), [claim.ticket.id]);
        assert.equal((await c.list({ kind, job: 'odd' })).length, 2);
        const page1 = await c.list({ kind, limit: 2 });
        const page2 = await c.list({ kind, limit: 2, after: page1[1]!.id });
        assert.deepEqual([...page1, ...page2].map((t) => t.id), posted.slice(0, 4).map((t) => t.id));
      });

      it('does not double-post when a post is retried with the same idempotency key', async () => {
        const kind = freshKind();
        const first = await c.post({ kind, payload: { a: 1 }, idempotencyKey: `key-${kind}` });
        const again = await other.post({ kind, payload: { a: 1 }, idempotencyKey: `key-${kind}` });
        assert.equal(again.created, false);
        assert.equal(again.ticket.id, first.ticket.id);
        assert.equal((await c.list({ kind })).length, 1);
        await assert.rejects(c.post({ kind, payload: { a: 2 }, idempotencyKey: `key-${kind}` }), (err: ConflictError) => {
          assert.equal(err.code, 'idempotency_mismatch');
          return true;
        });
      });
    });

    describe('claiming', () => {
      it('hands out the highest priority first, then the oldest', async () => {
        const kind = freshKind();
        const low1 = (await c.post({ kind, priority: 0 })).ticket;
        const high = (await c.post({ kind, priority: 5 })).ticket;
        const low2 = (await c.post({ kind, priority: 0 })).ticket;
        const mid = (await c.post({ kind, priority: 1, labels: ['x'] })).ticket;
        const order = [];
        for (let i = 0; i < 4; i++) {
          const claim = await c.claim({ workerId: 'w', kinds: [kind], labels: ['x'], ttlMs: TTL });
          order.push(claim?.ticket.id);
        }
        assert.deepEqual(order, [high.id, mid.id, low1.id, low2.id]);
        assert.equal(await c.claim({ workerId: 'w', kinds: [kind], labels: ['x'], ttlMs: TTL }), null);
      });

      it("takes turns between jobs: one job's flood delays another job's ticket by one turn (fair share)", async () => {
        const kind = freshKind();
        const post = async (job: string, priority = 0) => (await c.post({ kind, refs: { job }, priority })).ticket.id;
        const a1 = await post('a');
        const a2 = await post('a');
        const a3 = await post('a');
        const b1 = await post('b');
        const c1 = await post('c');
        const urgent = await post('u', 5);
        const order = [];
        for (let i = 0; i < 6; i++) order.push((await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL }))?.ticket.id);
        assert.deepEqual(order, [urgent, a1, b1, c1, a2, a3], 'priority first, then the least recently served job, then FIFO');
      });

      it('keeps taking turns as work arrives: a newcomer goes before the job served last', async () => {
        const kind = freshKind();
        const post = async (job: string) => (await c.post({ kind, refs: { job } })).ticket.id;
        const flood = [];
        for (let i = 0; i < 5; i++) flood.push(await post('flood'));
        const claimOne = async () => (await other.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL }))?.ticket.id;
        assert.equal(await claimOne(), flood[0]);
        const late = await post('late');
        const next = [await claimOne(), await claimOne()];
        if (!backend.claimsMayLagOnePost) {
          assert.deepEqual(next, [late, flood[1]], 'the job posted last but never served goes next');
          return;
        }
        // Next, or (a ZooKeeper frontend choosing from a queue view one post behind) the one after.
        assert.ok(next.includes(late), `the job posted last but never served goes before the flood's third ticket (got ${next.join(', ')})`);
        assert.deepEqual(next.filter((id) => id !== late), [flood[1]]);
      });

      it('never hands a ticket to a worker lacking its kind or a label', async () => {
        const kind = freshKind();
        const gpu = (await c.post({ kind, labels: ['linux', 'gpu'] })).ticket;
        assert.equal(await c.claim({ workerId: 'w', kinds: [kind], labels: ['linux'], ttlMs: TTL }), null);
        assert.equal(await c.claim({ workerId: 'w', kinds: [freshKind()], labels: ['linux', 'gpu'], ttlMs: TTL }), null);
        const claim = await c.claim({ workerId: 'w', kinds: ['other', kind], labels: ['gpu', 'linux', 'big'], ttlMs: TTL });
        assert.equal(claim?.ticket.id, gpu.id);
        assert.equal(claim?.ticket.status, 'leased');
        assert.equal(claim?.ticket.attempt, 1);
        assert.equal(claim?.ticket.lease?.holder, 'w');
      });

      it('returns the same lease when a claim is retried with its claim id', async () => {
        const kind = freshKind();
        await c.post({ kind });
        await c.post({ kind });
        const first = await c.claim({ workerId: 'w1', kinds: [kind], labels: [], ttlMs: TTL, claimId: `c-${kind}` });
        const retry = await other.claim({ workerId: 'w1', kinds: [kind], labels: [], ttlMs: TTL, claimId: `c-${kind}` });
        assert.ok(first && retry);
        assert.equal(retry.ticket.id, first.ticket.id);
        assert.equal(retry.token, first.token);
        assert.equal((await c.list({ kind, status: 'leased' })).length, 1);
      });

      it('grants each ticket once when two instances race for many tickets', async () => {
        const kind = freshKind();
        const count = 60;
        for (let i = 0; i < count; i++) await c.post({ kind });
        const won: string[] = [];
        const grab = async (coord: Coordinator, id: string): Promise<void> => {
          for (;;) {
            const claim = await coord.claim({ workerId: id, kinds: [kind], labels: [], ttlMs: TTL });
            if (!claim) return;
            won.push(claim.ticket.id);
          }
        };
        await Promise.all([grab(c, 'a'), grab(other, 'b'), grab(c, 'c'), grab(other, 'd')]);
        assert.equal(won.length, count);
        assert.equal(new Set(won).size, count);
      });
    });

    describe('leases and fencing', () => {
      it('gives every new lease a strictly greater token and refuses stale ones', async () => {
        const kind = freshKind();
        const { ticket } = await c.post({ kind });
        const first = await c.claim({ workerId: 'w1', kinds: [kind], labels: [], ttlMs: TTL });
        assert.ok(first);
        await c.release(ticket.id, first.token);
        const second = await other.claim({ workerId: 'w2', kinds: [kind], labels: [], ttlMs: TTL });
        assert.ok(second);
        assert.ok(second.token > first.token, `token ${second.token} must exceed ${first.token}`);
        await assert.rejects(c.renew(ticket.id, first.token, TTL), LeaseLostError);
        await assert.rejects(c.complete(ticket.id, first.token, { outcome: 'success' }), LeaseLostError);
        await assert.rejects(c.release(ticket.id, first.token), LeaseLostError);
        const renewed = await c.renew(ticket.id, second.token, TTL);
        assert.equal(renewed.token, second.token);
        const done = await c.complete(ticket.id, second.token, { outcome: 'success', data: { n: 1 } });
        assert.equal(done.status, 'done');
        assert.deepEqual(done.result, { outcome: 'success', data: { n: 1 } });
        assert.equal(done.lease, null);
      });

      it('treats a repeated completion with the same token as the same completion', async () => {
        const kind = freshKind();
        await c.post({ kind });
        const claim = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
        assert.ok(claim);
        const first = await c.complete(claim.ticket.id, claim.token, { outcome: 'failure', code: 'exit_1' });
        const again = await other.complete(claim.ticket.id, claim.token, { outcome: 'failure', code: 'exit_1' });
        assert.deepEqual(again, first);
        await assert.rejects(c.complete(claim.ticket.id, claim.token + 1, { outcome: 'success' }), LeaseLostError);
      });

      it('puts an expired lease back in play with the next attempt and a greater token', async () => {
        const kind = freshKind();
        const { ticket } = await c.post({ kind });
        const first = await c.claim({ workerId: 'dead', kinds: [kind], labels: [], ttlMs: 150 });
        assert.ok(first);
        await eventually(async () => assert.ok((await other.expireLeases()) >= 1 || (await c.get(ticket.id)).status === 'pending'));
        const again = await other.claim({ workerId: 'alive', kinds: [kind], labels: [], ttlMs: TTL });
        assert.equal(again?.ticket.id, ticket.id);
        assert.equal(again?.ticket.attempt, 2);
        assert.ok(again!.token > first.token);
        assert.deepEqual(again!.ticket.leases.map((l) => [l.attempt, l.holder]), [[1, 'dead'], [2, 'alive']]);
        await assert.rejects(c.complete(ticket.id, first.token, { outcome: 'success' }), LeaseLostError);
      });

      it('expires only stale leases; renewed and fresh ones stay with their holders', async () => {
        const kind = freshKind();
        await c.post({ kind });
        await c.post({ kind });
        await c.post({ kind });
        const stale = await c.claim({ workerId: 'stale', kinds: [kind], labels: [], ttlMs: 150 });
        const renewed = await c.claim({ workerId: 'renewed', kinds: [kind], labels: [], ttlMs: 150 });
        const fresh = await c.claim({ workerId: 'fresh', kinds: [kind], labels: [], ttlMs: TTL });
        assert.ok(stale && renewed && fresh);
        await c.renew(renewed.ticket.id, renewed.token, TTL);
        await eventually(async () => {
          await c.expireLeases();
          assert.equal((await c.get(stale.ticket.id)).status, 'pending');
        });
        assert.equal((await c.get(renewed.ticket.id)).lease?.holder, 'renewed');
        assert.equal((await c.get(fresh.ticket.id)).lease?.holder, 'fresh');
      });

      it('ends a ticket as error worker_lost when its last allowed attempt expires', async () => {
        const kind = freshKind();
        const { ticket } = await c.post({ kind, maxAttempts: 1 });
        const claim = await c.claim({ workerId: 'dead', kinds: [kind], labels: [], ttlMs: 100 });
        assert.ok(claim);
        const ended = await eventually(async () => {
          await other.expireLeases();
          const t = await c.get(ticket.id);
          assert.equal(t.status, 'done');
          return t;
        });
        assert.equal(ended.result?.outcome, 'error');
        assert.equal(ended.result?.code, 'worker_lost');
        assert.equal(await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL }), null);
      });

      it('releases a ticket back to the queue for the next worker', async () => {
        const kind = freshKind();
        const { ticket } = await c.post({ kind });
        const first = await c.claim({ workerId: 'w1', kinds: [kind], labels: [], ttlMs: TTL });
        assert.ok(first);
        const released = await c.release(ticket.id, first.token);
        assert.equal(released.status, 'pending');
        assert.equal(released.lease, null);
        const next = await other.claim({ workerId: 'w2', kinds: [kind], labels: [], ttlMs: TTL });
        assert.equal(next?.ticket.id, ticket.id);
      });
    });

    describe('follow-ups and cancellation', () => {
      it('posts the follow-up atomically when a ticket completes, once even if completion is repeated', async () => {
        const kind = freshKind();
        const next = freshKind();
        const { ticket } = await c.post({ kind, followUp: { kind: next, payload: { after: 'x' }, idempotencyKey: `fu-${kind}` } });
        assert.equal(ticket.followUp?.kind, next);
        assert.deepEqual(await c.list({ kind: next }), [], 'not posted before the ticket ends');
        const claim = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
        await c.complete(ticket.id, claim!.token, { outcome: 'success' });
        await other.complete(ticket.id, claim!.token, { outcome: 'success' });
        const posted = await c.list({ kind: next });
        assert.equal(posted.length, 1);
        assert.deepEqual(posted[0]!.payload, { after: 'x' });
        assert.equal(posted[0]!.status, 'pending');
      });

      it('posts the follow-up when the last attempt is lost, so the loss is never unnoticed', async () => {
        const kind = freshKind();
        const next = freshKind();
        await c.post({ kind, maxAttempts: 1, followUp: { kind: next } });
        assert.ok(await c.claim({ workerId: 'dead', kinds: [kind], labels: [], ttlMs: 100 }));
        await eventually(async () => {
          await other.expireLeases();
          assert.equal((await c.list({ kind: next })).length, 1);
        });
      });

      it('ends a pending ticket as cancelled and posts its follow-up', async () => {
        const kind = freshKind();
        const next = freshKind();
        const { ticket } = await c.post({ kind, followUp: { kind: next } });
        const cancelled = await other.cancel(ticket.id);
        assert.equal(cancelled.status, 'done');
        assert.equal(cancelled.result?.outcome, 'cancelled');
        assert.equal(cancelled.cancelRequested, true);
        assert.equal(await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL }), null);
        assert.equal((await c.list({ kind: next })).length, 1);
        assert.deepEqual(await c.cancel(ticket.id), cancelled, 'cancelling again changes nothing');
      });

      it('flags a leased ticket as cancel-requested; its holder sees it on renewal', async () => {
        const kind = freshKind();
        const { ticket } = await c.post({ kind });
        const claim = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
        const flagged = await other.cancel(ticket.id);
        assert.equal(flagged.status, 'leased');
        assert.equal(flagged.cancelRequested, true);
        const renewed = await c.renew(ticket.id, claim!.token, TTL);
        assert.equal(renewed.ticket.cancelRequested, true);
        const done = await c.complete(ticket.id, claim!.token, { outcome: 'cancelled' });
        assert.equal(done.result?.outcome, 'cancelled');
      });
    });

    describe('purging done tickets', () => {
      it('removes tickets done for longer than the retention, with their keys; keeps the rest', async () => {
        const kind = freshKind();
        const done: string[] = [];
        for (let i = 0; i < 3; i++) {
          await c.post({ kind, refs: { job: `j-${kind}` }, idempotencyKey: `${kind}-${i}` });
          const claim = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
          assert.ok(claim);
          done.push((await c.complete(claim.ticket.id, claim.token, { outcome: 'success' })).id);
        }
        const two = [(await c.post({ kind })).ticket, (await c.post({ kind })).ticket];
        const claim = await c.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
        const leased = two.find((t) => t.id === claim?.ticket.id)!;
        const pending = two.find((t) => t.id !== claim?.ticket.id)!;
        assert.ok(leased, 'one of the two is leased');
        assert.equal(await c.purgeDone(3_600_000, 1000), 0, 'nothing is older than an hour');
        // Other tests' done tickets may be purged too: count only ours.
        await eventually(async () => {
          await other.purgeDone(10, 1000);
          for (const id of done) await assert.rejects(c.get(id), NotFoundError);
        }, 10_000);
        assert.equal((await c.get(leased.id)).status, 'leased', 'a leased ticket stays');
        assert.equal((await c.get(pending.id)).status, 'pending', 'a pending ticket stays');
        assert.deepEqual((await c.list({ kind })).map((t) => t.id).sort(), [leased.id, pending.id].sort());
        assert.deepEqual(await c.list({ job: `j-${kind}` }), []);
        const again = await c.post({ kind, idempotencyKey: `${kind}-0` });
        assert.equal(again.created, true, 'a purged ticket frees its idempotency key');
      });
    });

    describe('queue statistics', () => {
      it('reports the depth of each kind and label set and when its oldest ticket was posted', async () => {
        const kind = freshKind();
        const first = (await c.post({ kind, labels: ['linux'] })).ticket;
        await c.post({ kind, labels: ['linux'] });
        await c.post({ kind, labels: ['gpu', 'linux'], priority: 5 });
        const mine = async () => (await other.queueStats()).filter((q) => q.kind === kind).sort((a, b) => a.labels.length - b.labels.length);
        const stats = await mine();
        assert.deepEqual(stats.map((q) => [q.labels, q.pending]), [[['linux'], 2], [['gpu', 'linux'], 1]]);
        assert.ok(Math.abs(stats[0]!.oldestCreatedAt! - first.createdAt) < 5000);
        await c.claim({ workerId: 'w', kinds: [kind], labels: ['gpu', 'linux'], ttlMs: TTL });
        assert.deepEqual((await mine()).map((q) => [q.labels, q.pending]), [[['linux'], 2]], 'an empty queue is not reported');
      });
    });

    describe('notifications', () => {
      it('tells a listener on another instance that a ticket became claimable', async () => {
        const kind = freshKind();
        const woke = nextEvent((fire) => other.onClaimable(fire), 2000, 'a claimable hint after post');
        await c.post({ kind });
        await woke;
        const claim = await other.claim({ workerId: 'w', kinds: [kind], labels: [], ttlMs: TTL });
        assert.ok(claim);
        const wokeAgain = nextEvent((fire) => other.onClaimable(fire), 2000, 'a claimable hint after release');
        await c.release(claim.ticket.id, claim.token);
        await wokeAgain;
      });
    });

    describe('counters, records and locks', () => {
      it('numbers concurrent callers without gap or duplicate', async () => {
        const counter = `builds/${freshKind()}`;
        const numbers = await Promise.all(
          Array.from({ length: 50 }, (_, i) => (i % 2 ? c : other).nextNumber(counter)),
        );
        assert.deepEqual([...numbers].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
        assert.equal(await other.currentNumber(counter), 50, 'the current number is read on any instance');
        assert.equal(await c.currentNumber(counter), 50, 'reading takes no number');
        assert.equal(await c.currentNumber(`unused/${freshKind()}`), 0);
      });

      it('creates numbered records atomically: 50 concurrent callers get 1..50, each with its record', async () => {
        const counter = `numbered/${freshKind()}`;
        const prefix = `${counter}/`;
        const made = await Promise.all(
          Array.from({ length: 50 }, (_, i) => (i % 2 ? c : other).createNumbered(counter, prefix, (n) => ({ n }))),
        );
        assert.deepEqual(made.map((m) => m.number).sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i + 1));
        const first = await c.getRecord<{ n: number }>(`${prefix}0000000001`);
        assert.deepEqual(first, { value: { n: 1 }, version: 1 });
        const listed = await c.listRecords<{ n: number }>(prefix, { limit: 100 });
        assert.deepEqual(listed.records.map((r) => r.value.n), Array.from({ length: 50 }, (_, i) => i + 1));
        assert.equal(await other.currentNumber(counter), 50);
      });

      it('posts the ticket of a numbered record in the same atomic step, or neither', async () => {
        const kind = freshKind();
        const counter = `numbered/${kind}`;
        const made = await c.createNumbered(counter, `${counter}/`, (n) => ({ n }), {
          ticket: (n) => ({ kind, payload: { n }, idempotencyKey: `${kind}-${n}` }),
        });
        const tickets = await other.list({ kind });
        assert.deepEqual(tickets.map((t) => t.payload), [{ n: made.number }]);
        await assert.rejects(c.createNumbered(counter, `${counter}/`, (n) => ({ n }), { ticket: () => ({ kind: 'bad kind!' }) }), ValidationError);
        assert.equal(await c.getRecord(`${counter}/0000000002`), null, 'no record without its ticket');
        const next = await c.createNumbered(counter, `${counter}/`, (n) => ({ n }));
        assert.equal(next.number, 2, 'the failed attempt took no number');
      });

      it('creates a numbered record once per unique key, even when 20 callers race with it', async () => {
        const counter = `unique/${freshKind()}`;
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => (i % 2 ? c : other).createNumbered(counter, `${counter}/`, (n) => ({ n }), { uniqueKey: `${counter}-key/tick-1` })),
        );
        const made = results.filter((r) => r.status === 'fulfilled');
        assert.equal(made.length, 1);
        for (const r of results) {
          if (r.status === 'rejected') {
            assert.ok(r.reason instanceof ConflictError);
            assert.equal((r.reason as ConflictError).details.number, 1);
          }
        }
        assert.equal((await c.listRecords(`${counter}/`)).records.length, 1);
      });

      it('compare-and-sets records so a concurrent write is never silently lost', async () => {
        const key = `jobs/${freshKind()}`;
        assert.equal(await c.getRecord(key), null);
        const v1 = await c.putRecord(key, { rev: 1 }, 0);
        assert.equal(v1.version, 1);
        await assert.rejects(other.putRecord(key, { rev: 'x' }, 0), ConflictError);
        const v2 = await other.putRecord(key, { rev: 2 }, 1);
        assert.equal(v2.version, 2);
        await assert.rejects(c.putRecord(key, { rev: 'lost' }, 1), ConflictError);
        assert.deepEqual(await c.getRecord(key), { value: { rev: 2 }, version: 2 });
        await assert.rejects(c.deleteRecord(key, 1), ConflictError);
        await c.deleteRecord(key, 2);
        assert.equal(await other.getRecord(key), null);
      });

      it('lists records by prefix in key order, page by page', async () => {
        const prefix = `list-${freshKind()}/`;
        for (const k of ['b', 'a', 'c', 'd', 'e']) await c.putRecord(`${prefix}${k}`, { k }, 0);
        await c.putRecord(`${prefix.slice(0, -1)}x/z`, { k: 'outside' }, 0);
        const first = await other.listRecords<{ k: string }>(prefix, { limit: 2 });
        assert.deepEqual(first.records.map((r) => r.value.k), ['a', 'b']);
        const second = await other.listRecords<{ k: string }>(prefix, { limit: 2, after: first.next! });
        const third = await other.listRecords<{ k: string }>(prefix, { limit: 2, after: second.next! });
        assert.deepEqual([...second.records, ...third.records].map((r) => r.value.k), ['c', 'd', 'e']);
        assert.equal(third.next, null);
        assert.equal(first.records[0]!.version, 1);
      });

      it('lists records in descending order when asked', async () => {
        const prefix = `desc-${freshKind()}/`;
        for (const k of ['1', '2', '3']) await c.putRecord(`${prefix}${k}`, k, 0);
        const first = await c.listRecords<string>(prefix, { reverse: true, limit: 2 });
        assert.deepEqual(first.records.map((r) => r.value), ['3', '2']);
        const rest = await c.listRecords<string>(prefix, { reverse: true, limit: 2, after: first.next! });
        assert.deepEqual(rest.records.map((r) => r.value), ['1']);
      });

      it('refuses a fenced record write once the lease is stale, and changes nothing', async () => {
        const kind = freshKind();
        const key = `fenced/${kind}`;
        const { ticket } = await c.post({ kind });
        const first = await c.claim({ workerId: 'a', kinds: [kind], labels: [], ttlMs: TTL });
        await c.putRecord(key, { by: 'a' }, 0, { ticketId: ticket.id, token: first!.token });
        await c.release(ticket.id, first!.token);
        const second = await c.claim({ workerId: 'b', kinds: [kind], labels: [], ttlMs: TTL });
        await assert.rejects(other.putRecord(key, { by: 'stale a' }, 1, { ticketId: ticket.id, token: first!.token }), LeaseLostError);
        assert.deepEqual(await c.getRecord(key), { value: { by: 'a' }, version: 1 });
        await other.putRecord(key, { by: 'b' }, 1, { ticketId: ticket.id, token: second!.token });
        assert.deepEqual((await c.getRecord(key))?.value, { by: 'b' });
      });

      it('holds a named lock for one holder at a time', async () => {
        const name = `cron/${freshKind()}`;
        const a = await c.tryLock(name, 'frontend-a');
        assert.ok(a);
        assert.equal(await other.tryLock(name, 'frontend-b'), null);
        await a.release();
        const b = await other.tryLock(name, 'frontend-b');
        assert.ok(b);
        assert.equal(b.lost.aborted, false);
        await b.release();
      });
    });
  });
}
