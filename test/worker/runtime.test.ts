import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { ApiClient, ApiError } from '../../src/client/api-client.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import type { TicketResult } from '../../src/core/ticket.js';
import { Worker, type TicketContext, type TicketHandler } from '../../src/worker/runtime.js';
import { silent, startTestFrontend, type TestFrontend } from '../support/embedded.js';
import { metricValue } from '../support/metrics.js';
import { eventually } from '../support/wait.js';

let seq = 0;

function startWorker(servers: string[], handler: TicketHandler, kind: string, concurrency = 1): { worker: Worker; client: ApiClient } {
  const client = new ApiClient({ servers, baseBackoffMs: 5, maxBackoffMs: 50 });
  const worker = new Worker({
    api: new TicketsApi(client),
    workerId: `test-worker-${++seq}`,
    handlers: { [kind]: handler },
    labels: [],
    concurrency,
    claimWaitMs: 5_000,
    log: silent,
  });
  worker.start();
  return { worker, client };
}

/** A handler that runs until aborted or told to finish. */
function controllable() {
  const started: TicketContext[] = [];
  let finish: (r: TicketResult) => void = () => undefined;
  const finished = new Promise<TicketResult>((r) => (finish = r));
  const handler: TicketHandler = async (ctx) => {
    started.push(ctx);
    const aborted = new Promise<TicketResult>((r) =>
      ctx.signal.addEventListener('abort', () => r({ outcome: 'error', code: 'aborted' }), { once: true }),
    );
    return Promise.race([finished, aborted]);
  };
  return { handler, started, finish: (r: TicketResult) => finish(r) };
}

describe('worker runtime', () => {
  let fe: TestFrontend;
  before(async () => {
    fe = await startTestFrontend({ leaseTtlMs: 300, sweepMs: 50 });
  });
  after(() => fe.close());

  it('completes claimed tickets with the handler result and renews leases longer than the TTL', async () => {
    const kind = `ok${++seq}`;
    const h = controllable();
    const { worker, client } = startWorker([fe.url], h.handler, kind);
    const { ticket } = await fe.coordinator.post({ kind, payload: { n: 1 } });
    await eventually(() => assert.equal(h.started.length, 1));
    // Held for over three TTLs: only renewals keep it.
    const renewedPast = Date.now() + 1000;
    await eventually(async () => assert.ok((await fe.coordinator.get(ticket.id)).lease!.expiresAt > renewedPast), 3000);
    const completed = once(worker, 'completed');
    h.finish({ outcome: 'success', data: { answer: 42 } });
    await completed;
    const done = await fe.coordinator.get(ticket.id);
    assert.equal(done.status, 'done');
    assert.equal(done.attempt, 1);
    assert.deepEqual(done.result, { outcome: 'success', data: { answer: 42 } });
    await worker.stop(0);
    await client.close();
  });

  it('renews all the leases it holds with one request per round, not one per lease', async () => {
    const kind = `batch${++seq}`;
    const h = controllable();
    const client = new ApiClient({ servers: [fe.url], baseBackoffMs: 5, maxBackoffMs: 50 });
    const api = new TicketsApi(client);
    const batches: number[] = [];
    const renewMany = api.renewMany.bind(api);
    api.renewMany = (leases, opts) => {
      batches.push(leases.length);
      return renewMany(leases, opts);
    };
    api.renew = () => Promise.reject(new Error('renewed one lease by itself'));
    const worker = new Worker({ api, workerId: `test-worker-${++seq}`, handlers: { [kind]: h.handler }, labels: [], concurrency: 8, claimWaitMs: 5_000, log: silent });
    worker.start();
    const posted = await Promise.all(Array.from({ length: 8 }, () => fe.coordinator.post({ kind })));
    await eventually(() => assert.equal(h.started.length, 8));
    const held = batches.length;
    // Held for over three TTLs: only renewals keep them, 8 leases to a request.
    const renewedPast = Date.now() + 1000;
    for (const { ticket } of posted) {
      await eventually(async () => assert.ok((await fe.coordinator.get(ticket.id)).lease!.expiresAt > renewedPast), 3000);
    }
    assert.ok(batches.length > held, 'rounds ran while all 8 were held');
    assert.deepEqual(new Set(batches.slice(held)), new Set([8]), 'every round renewed all 8 leases in one request');
    h.finish({ outcome: 'success' });
    await eventually(async () => assert.ok((await Promise.all(posted.map(({ ticket }) => fe.coordinator.get(ticket.id)))).every((t) => t.status === 'done')));
    await worker.stop(0);
    await client.close();
  });

  it('renews lease by lease when a frontend predates POST /tickets/renew (404)', async () => {
    const kind = `old-frontend${++seq}`;
    const h = controllable();
    const client = new ApiClient({ servers: [fe.url], baseBackoffMs: 5, maxBackoffMs: 50 });
    const api = new TicketsApi(client);
    api.renewMany = () => Promise.reject(new ApiError('not_found', 'Route POST:/api/v1/tickets/renew not found', 404));
    const worker = new Worker({ api, workerId: `test-worker-${++seq}`, handlers: { [kind]: h.handler }, labels: [], concurrency: 2, claimWaitMs: 5_000, log: silent });
    worker.start();
    const { ticket } = await fe.coordinator.post({ kind });
    await eventually(() => assert.equal(h.started.length, 1));
    const renewedPast = Date.now() + 1000;
    await eventually(async () => assert.ok((await fe.coordinator.get(ticket.id)).lease!.expiresAt > renewedPast), 3000);
    assert.equal(h.started[0]!.signal.aborted, false);
    h.finish({ outcome: 'success' });
    await eventually(async () => assert.equal((await fe.coordinator.get(ticket.id)).status, 'done'));
    await worker.stop(0);
    await client.close();
  });

  it('aborts the handler when the lease is lost and writes nothing more under it', async () => {
    const kind = `lost${++seq}`;
    const h = controllable();
    const { worker, client } = startWorker([fe.url], h.handler, kind);
    const { ticket } = await fe.coordinator.post({ kind });
    await eventually(() => assert.equal(h.started.length, 1));
    const ctx = h.started[0]!;
    // Someone else takes the ticket over (as after a lease expiry seen by the coordinator).
    await fe.coordinator.release(ticket.id, ctx.token);
    const thief = await fe.coordinator.claim({ workerId: 'thief', kinds: [kind], labels: [], ttlMs: 60_000 });
    assert.ok(thief && thief.token > ctx.token);
    const [lostId] = await once(worker, 'lost');
    assert.equal(lostId, ticket.id);
    assert.equal(ctx.signal.aborted, true);
    await worker.stop(0);
    await client.close();
    const after = await fe.coordinator.get(ticket.id);
    assert.equal(after.status, 'leased', 'the stale worker did not complete or release it');
    assert.equal(after.lease?.holder, 'thief');
  });

  it('stops a running handler when its ticket is cancelled and completes it as cancelled', async () => {
    const kind = `cancel${++seq}`;
    const h = controllable();
    const { worker, client } = startWorker([fe.url], h.handler, kind);
    const { ticket } = await fe.coordinator.post({ kind });
    await eventually(() => assert.equal(h.started.length, 1));
    const completed = once(worker, 'completed');
    await fe.coordinator.cancel(ticket.id);
    await completed;
    assert.equal(h.started[0]!.signal.aborted, true);
    const done = await fe.coordinator.get(ticket.id);
    assert.equal(done.status, 'done');
    assert.equal(done.result?.outcome, 'cancelled');
    await worker.stop(0);
    await client.close();
  });

  it('on stop, lets a ticket finish within the grace period', async () => {
    const kind = `grace${++seq}`;
    const h = controllable();
    const { worker, client } = startWorker([fe.url], h.handler, kind);
    const { ticket } = await fe.coordinator.post({ kind });
    await eventually(() => assert.equal(h.started.length, 1));
    const stopped = worker.stop(5_000);
    h.finish({ outcome: 'success' });
    await stopped;
    await client.close();
    assert.equal((await fe.coordinator.get(ticket.id)).status, 'done');
  });

  it('on stop, releases a ticket that outlives the grace period so another worker takes it', async () => {
    const kind = `release${++seq}`;
    const h = controllable();
    const { worker, client } = startWorker([fe.url], h.handler, kind);
    const { ticket } = await fe.coordinator.post({ kind });
    await eventually(() => assert.equal(h.started.length, 1));
    const released = once(worker, 'released');
    await worker.stop(50);
    await released;
    await client.close();
    const back = await fe.coordinator.get(ticket.id);
    assert.equal(back.status, 'pending');
    assert.equal(back.lease, null);
    const next = await fe.coordinator.claim({ workerId: 'next', kinds: [kind], labels: [], ttlMs: 1000 });
    assert.equal(next?.ticket.id, ticket.id);
  });

  it('fails over to the next frontend when the first does not answer', async () => {
    const kind = `failover${++seq}`;
    const { worker, client } = startWorker(['http://127.0.0.1:1', fe.url], async () => ({ outcome: 'success' }), kind, 2);
    const tickets = await Promise.all([1, 2, 3].map(() => fe.coordinator.post({ kind })));
    await eventually(async () => {
      for (const { ticket } of tickets) assert.equal((await fe.coordinator.get(ticket.id)).status, 'done');
    });
    await worker.stop(0);
    await client.close();
  });

  it('claims its free slots in one request and never runs more tickets than its concurrency', async () => {
    const kind = `slots${++seq}`;
    for (let i = 0; i < 7; i++) await fe.coordinator.post({ kind });
    const granted = (): Promise<number> => metricValue(fe.url, 'distci_claims_total{outcome="leased"}').catch(() => 0);
    const grantedBefore = await granted();
    const h = controllable();
    const { worker, client } = startWorker([fe.url], h.handler, kind, 3);
    await eventually(() => assert.equal(h.started.length, 3));
    assert.equal(await granted(), grantedBefore + 1, 'the three free slots took more than one claim request');
    assert.equal((await fe.coordinator.list({ kind, status: 'leased' })).length, 3);
    let peak = 0;
    const counting = setInterval(() => void fe.coordinator.list({ kind, status: 'leased' }).then((t) => (peak = Math.max(peak, t.length))), 5);
    h.finish({ outcome: 'success' }); // every handler started from now on finishes at once
    await eventually(async () => assert.equal((await fe.coordinator.list({ kind, status: 'done' })).length, 7));
    clearInterval(counting);
    assert.ok(peak <= 3, `${peak} tickets were leased at once by a worker with 3 slots`);
    assert.equal(h.started.length, 7);
    await worker.stop(0);
    await client.close();
  });

  it('claims with more free slots than one claim may ask for (64)', async () => {
    const kind = `wide${++seq}`;
    for (let i = 0; i < 70; i++) await fe.coordinator.post({ kind });
    const h = controllable();
    const { worker, client } = startWorker([fe.url], h.handler, kind, 100);
    await eventually(() => assert.equal(h.started.length, 70));
    h.finish({ outcome: 'success' });
    await eventually(async () => assert.equal((await fe.coordinator.list({ kind, status: 'done' })).length, 70));
    await worker.stop(0);
    await client.close();
  });

  it('records a thrown handler error as outcome error', async () => {
    const kind = `throws${++seq}`;
    const { worker, client } = startWorker([fe.url], async () => Promise.reject(new Error('disk on fire')), kind);
    const { ticket } = await fe.coordinator.post({ kind });
    const done = await eventually(async () => {
      const t = await fe.coordinator.get(ticket.id);
      assert.equal(t.status, 'done');
      return t;
    });
    assert.equal(done.result?.outcome, 'error');
    assert.match(done.result?.message ?? '', /disk on fire/);
    await worker.stop(0);
    await client.close();
  });
});
