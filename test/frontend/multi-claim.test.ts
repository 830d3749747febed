import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../src/client/api-client.js';
import type { LeaseGrant, TicketsApi } from '../../src/client/tickets-api.js';
import { startTestFrontend, type TestFrontend } from '../support/embedded.js';
import { untilParked } from '../support/metrics.js';

let kindSeq = 0;
const freshKind = (): string => `mc${++kindSeq}`;
const ids = (grants: LeaseGrant[]): string[] => grants.map((g) => g.ticket.id).sort();

describe('claims of several tickets at once (max)', () => {
  let fe: TestFrontend;
  let api: TicketsApi;
  before(async () => {
    fe = await startTestFrontend();
    api = fe.api();
  });
  after(() => fe.close());

  const claimMany = (kinds: string[], max: number, claimId: string, more: { labels?: string[]; waitMs?: number } = {}) =>
    api.claimMany({ workerId: 'w', kinds, labels: more.labels ?? [], waitMs: more.waitMs ?? 0, claimId, max });

  it('leases at most max tickets, oldest first, each under its own lease and token', async () => {
    const kind = freshKind();
    const posted = [];
    for (let i = 0; i < 5; i++) posted.push((await api.post({ kind, payload: { i } })).ticket.id);
    const first = await claimMany([kind], 3, 'mc-a');
    assert.deepEqual(
      first.map((g) => g.ticket.id),
      posted.slice(0, 3),
    );
    for (const grant of first) {
      assert.equal(grant.ticket.status, 'leased');
      assert.equal((await api.renew(grant.ticket.id, grant.lease.token)).cancelRequested, false);
    }
    assert.deepEqual(ids(await claimMany([kind], 3, 'mc-b')), posted.slice(3).sort());
    assert.deepEqual(await claimMany([kind], 3, 'mc-c'), []);
  });

  it('gives a retried claim id the leases it already won, never more than max in all', async () => {
    const kind = freshKind();
    for (let i = 0; i < 4; i++) await api.post({ kind });
    const first = await claimMany([kind], 3, 'mc-retry');
    assert.equal(first.length, 3);
    const retry = await claimMany([kind], 3, 'mc-retry');
    assert.deepEqual(
      retry.map((g) => [g.ticket.id, g.lease.token]).sort(),
      first.map((g) => [g.ticket.id, g.lease.token]).sort(),
    );
    // The fourth ticket is still there for someone else.
    assert.equal((await claimMany([kind], 3, 'mc-other')).length, 1);

    // A claim that found fewer than max: its retry keeps what it won and tops up to max at most.
    const few = freshKind();
    await api.post({ kind: few });
    const one = await claimMany([few], 2, 'mc-few');
    assert.equal(one.length, 1);
    for (let i = 0; i < 3; i++) await api.post({ kind: few });
    const again = await claimMany([few], 2, 'mc-few');
    assert.equal(again.length, 2);
    assert.ok(ids(again).includes(one[0]!.ticket.id), 'the retry lost the lease it had already won');
    assert.equal((await api.list({ kind: few, status: 'pending' })).tickets.length, 2);
  });

  it('leases only tickets of the kinds asked whose labels the worker offers', async () => {
    const kind = freshKind();
    const other = freshKind();
    await api.post({ kind, labels: ['gpu'] });
    const plain = (await api.post({ kind })).ticket.id;
    const linux = (await api.post({ kind, labels: ['linux'] })).ticket.id;
    await api.post({ kind: other });
    const grants = await claimMany([kind], 10, 'mc-labels', { labels: ['linux', 'big'] });
    assert.deepEqual(ids(grants), [plain, linux].sort());
  });

  it('wakes a parked claim for several tickets when a matching one is posted', async () => {
    const kind = freshKind();
    const parked = claimMany([kind], 3, 'mc-park', { waitMs: 20_000 });
    await untilParked(fe.url, 1);
    const { ticket } = await api.post({ kind });
    const grants = await parked;
    assert.ok(grants.length >= 1 && grants.length <= 3);
    assert.equal(grants[0]!.ticket.id, ticket.id);
    await untilParked(fe.url, 0);
  });

  it('answers without max in the one-lease form', async () => {
    const kind = freshKind();
    const { ticket } = await api.post({ kind });
    const grant = await api.claim({ workerId: 'w', kinds: [kind], labels: [], waitMs: 0, claimId: 'mc-single' });
    assert.equal(grant?.ticket.id, ticket.id);
    assert.equal(typeof grant?.lease.token, 'number');
  });

  it('refuses max below 1 or above 64 with 400', async () => {
    for (const max of [0, 65]) {
      await assert.rejects(claimMany([freshKind()], max, `mc-bad-${max}`), (err: unknown) => err instanceof ApiError && err.status === 400);
    }
  });

  /** Coordinator claim calls this frontend made so far (from its /metrics). */
  const coordinatorClaims = async (): Promise<number> => {
    const text = await (await fetch(`${fe.url}/metrics`)).text();
    return text
      .split('\n')
      .filter((l) => l.startsWith('distci_backend_call_seconds_count{') && l.includes('backend="coordinator"') && l.includes('operation="claim"'))
      .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
  };

  it('costs the coordinator about one claim per ticket found, not max per request', async () => {
    const kind = freshKind();
    await api.post({ kind });
    let before = await coordinatorClaims();
    assert.equal((await claimMany([kind], 64, 'mc-cost-a')).length, 1);
    assert.ok((await coordinatorClaims()) - before <= 2, 'a lone ticket: one wave of two, one of them empty');

    // Two parked waiters of one signature, one ticket posted: one wins it, the round stops there.
    before = await coordinatorClaims();
    const parked = Promise.all([claimMany([kind], 64, 'mc-cost-b', { waitMs: 1_000 }), claimMany([kind], 64, 'mc-cost-c', { waitMs: 1_000 })]);
    await untilParked(fe.url, 2);
    await api.post({ kind });
    const [b, c] = await parked;
    assert.equal(b.length + c.length, 1);
    const spent = (await coordinatorClaims()) - before;
    assert.ok(spent <= 8, `${spent} coordinator claims for one ticket`);
  });

});
