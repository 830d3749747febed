/**
 * Claims that share one group-commit transaction (claims issued in the same turn) take the
 * tickets that the same claims made one after another would take: a run of claims on the
 * only route a worker could be served from skips the route walk, and must end when a rival
 * route appears or work is posted or returned inside the same transaction.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NewTicket } from '../../src/core/ticket.js';
import { SqliteCoordinator } from '../../src/coordination/embedded/sqlite-coordinator.js';

const TTL = 60_000;

describe('embedded coordinator: claims in one transaction', () => {
  let dir: string;
  let c: SqliteCoordinator;
  let kinds = 0;
  const freshKind = (): string => `runs-${++kinds}`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'distci-runs-'));
    c = new SqliteCoordinator({ path: join(dir, 'coordinator.db') });
  });
  after(async () => {
    await c.close();
    await rm(dir, { recursive: true, force: true });
  });

  const claim = (kind: string, labels: string[] = []) => c.claim({ workerId: 'w', kinds: [kind], labels, ttlMs: TTL });
  const ids = async (claims: Promise<{ ticket: { id: string } } | null>[]) => (await Promise.all(claims)).map((x) => x?.ticket.id ?? null);
  const post = async (t: NewTicket) => (await c.post(t)).ticket.id;

  it('drains the only route in FIFO order, then answers empty', async () => {
    const kind = freshKind();
    const posted = [];
    for (let i = 0; i < 6; i++) posted.push(await post({ kind, refs: { job: 'solo' } }));
    assert.deepEqual(await ids(Array.from({ length: 8 }, () => claim(kind))), [...posted, null, null]);
  });

  it('keeps priority and fair share between jobs, as claims one after another would', async () => {
    const kind = freshKind();
    const a1 = await post({ kind, refs: { job: 'a' } });
    const a2 = await post({ kind, refs: { job: 'a' } });
    const a3 = await post({ kind, refs: { job: 'a' } });
    const b1 = await post({ kind, refs: { job: 'b' } });
    const c1 = await post({ kind, refs: { job: 'c' } });
    const urgent = await post({ kind, refs: { job: 'u' }, priority: 5 });
    assert.deepEqual(await ids(Array.from({ length: 6 }, () => claim(kind))), [urgent, a1, b1, c1, a2, a3]);
  });

  it('ends a run when a post in the same transaction adds a more urgent ticket', async () => {
    const kind = freshKind();
    const flood = [];
    for (let i = 0; i < 4; i++) flood.push(await post({ kind, refs: { job: 'flood' } }));
    // One turn: claim, claim, post, claim, claim — one transaction, in this order.
    const first = [claim(kind), claim(kind)];
    const urgentPosted = c.post({ kind, refs: { job: 'late' }, priority: 9 });
    const later = [claim(kind), claim(kind)];
    const urgent = (await urgentPosted).ticket.id;
    assert.deepEqual(await ids([...first, ...later]), [flood[0], flood[1], urgent, flood[2]]);
  });

  it("ends a run when a release in the same transaction returns another job's ticket", async () => {
    const kind = freshKind();
    const b1 = await post({ kind, refs: { job: 'b' } });
    const a = [await post({ kind, refs: { job: 'a' } }), await post({ kind, refs: { job: 'a' } }), await post({ kind, refs: { job: 'a' } })];
    const held = (await claim(kind))!;
    assert.equal(held.ticket.id, b1);
    // One turn: two claims on job a's route (the only one with work), b1 returned, a claim.
    const first = [claim(kind), claim(kind)];
    const released = c.release(held.ticket.id, held.token);
    const later = claim(kind);
    await released;
    assert.deepEqual(await ids([...first, later]), [a[0], a[1], b1], 'job b, served longer ago than job a, goes first');
  });

  it('serves only routes whose labels the worker offers, whatever their priority', async () => {
    const kind = freshKind();
    const gpu = await post({ kind, labels: ['gpu'], priority: 7 });
    const plain = [await post({ kind }), await post({ kind }), await post({ kind })];
    assert.deepEqual(await ids(Array.from({ length: 4 }, () => claim(kind))), [...plain, null]);
    assert.equal((await claim(kind, ['gpu']))?.ticket.id, gpu);
  });
});
