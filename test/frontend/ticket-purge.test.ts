/**
 * Done tickets leave the coordinator after the retention: every frontend purges them in
 * the background, so the coordinator holds the work in flight, not history.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { NotFoundError } from '../../src/core/errors.js';
import { startTestFrontend, type TestFrontend } from '../support/embedded.js';
import { eventually } from '../support/wait.js';

let fe: TestFrontend;
before(async () => {
  fe = await startTestFrontend({ ticketRetentionMs: 1_000 });
});
after(() => fe.close());

it('purges a done ticket once the retention has passed, and counts it in /metrics', async () => {
  const api = fe.api();
  const done = await api.post({ kind: 'purgeable', idempotencyKey: 'purge-me' });
  const pending = await api.post({ kind: 'purgeable' });
  const claim = await fe.coordinator.claim({ workerId: 'w', kinds: ['purgeable'], labels: [], ttlMs: 60_000 });
  assert.equal(claim?.ticket.id, done.ticket.id);
  await fe.coordinator.complete(claim.ticket.id, claim.token, { outcome: 'success' });
  assert.equal((await fe.coordinator.get(done.ticket.id)).status, 'done', 'kept within the retention');
  await eventually(() => assert.rejects(fe.coordinator.get(done.ticket.id), NotFoundError), 10_000, 100);
  assert.equal((await fe.coordinator.get(pending.ticket.id)).status, 'pending');
  const metrics = await (await fetch(`${fe.url}/metrics`)).text();
  assert.match(metrics, /^distci_tickets_purged_total [1-9]/m);
});
