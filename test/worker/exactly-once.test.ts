import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TicketsApi } from '../../src/client/tickets-api.js';
import { LocalCluster, lines, tally } from '../support/cluster.js';
import { eventually } from '../support/wait.js';

const TICKETS = 2000;
const WORKERS = 8;
const CONCURRENCY = 4;

describe(`${WORKERS} worker processes × ${CONCURRENCY} slots racing over ${TICKETS} tickets`, () => {
  let cluster: LocalCluster;
  let api: TicketsApi;
  before(async () => {
    cluster = await LocalCluster.start(2, ['--log-level', 'warn']);
    api = cluster.api();
  });
  after(() => cluster.stop());

  it('runs every ticket exactly once, counted by its side effects', { timeout: 240_000 }, async () => {
    const sideEffects = join(cluster.dir, 'side-effects');
    const posted: string[] = [];
    for (let i = 0; i < TICKETS; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          api.post({ kind: 'execute-shell', payload: { script: `echo "$DISTCI_TICKET_ID" >> ${sideEffects}` }, idempotencyKey: `race-${i + j}` }),
        ),
      );
      posted.push(...batch.map((b) => b.ticket.id));
    }
    for (let w = 0; w < WORKERS; w++) {
      cluster.startWorker(['--kinds', 'execute-shell', '--concurrency', String(CONCURRENCY), '--worker-id', `racer-${w}`, '--log-level', 'warn']);
    }
    await eventually(async () => {
      assert.equal((await api.list({ status: 'pending', limit: 1 })).tickets.length, 0);
      assert.equal((await api.list({ status: 'leased', limit: 1 })).tickets.length, 0);
    }, 200_000, 250);
    const counts = tally(lines(sideEffects));
    assert.equal(counts.size, TICKETS, 'every ticket ran');
    assert.deepEqual([...counts.values()].filter((n) => n !== 1), [], 'no ticket ran twice');
    assert.deepEqual([...counts.keys()].sort(), [...posted].sort());
    for (let after: string | undefined; ; ) {
      const page = await api.list({ limit: 1000, ...(after ? { after } : {}) });
      for (const t of page.tickets) {
        assert.equal(t.status, 'done');
        assert.equal(t.result?.outcome, 'success');
        assert.equal(t.attempt, 1);
      }
      if (!page.next) break;
      after = page.next;
    }
  });
});
