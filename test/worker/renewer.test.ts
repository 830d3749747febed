/**
 * The renewer keeps one chain of renewal rounds: a lease that starts while a round is in
 * flight, just after the last lease ended, must not leave a second chain behind.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Renewal, TicketsApi } from '../../src/client/tickets-api.js';
import { Renewer, type HeldLease } from '../../src/worker/renewer.js';
import { silent } from '../support/embedded.js';
import { eventually } from '../support/wait.js';

const TTL_MS = 150; // rounds every 50 ms

function held(id: string): HeldLease {
  return { id, token: 1, ttlMs: TTL_MS, renewed: () => undefined, lost: () => undefined };
}

describe('renewer', () => {
  it('runs one round at a time when a lease starts while the round of the last one is in flight', async () => {
    const inFlight: ((answers: Renewal[]) => void)[] = [];
    let calls = 0;
    const api = {
      renewMany: (leases: { id: string; token: number }[]) => {
        calls++;
        return new Promise<Renewal[]>((resolve) => inFlight.push(() => resolve(leases.map(({ id }) => ({ id, ok: true, lease: { holder: 'w', token: 1, expiresAt: Date.now() + TTL_MS }, ttlMs: TTL_MS, cancelRequested: false })))));
      },
    } as unknown as TicketsApi;
    const renewer = new Renewer(api, silent);
    const endA = renewer.hold(held('a'));
    await eventually(() => assert.equal(calls, 1));
    endA(); // the last lease ends while its round waits for an answer …
    const endB = renewer.hold(held('b')); // … and a new one starts its own timer
    inFlight.shift()!([]);
    await eventually(() => assert.equal(calls, 2));
    // With a second chain, another round would start while this one is unanswered.
    await new Promise((resolve) => setTimeout(resolve, 5 * (TTL_MS / 3)));
    assert.equal(calls, 2, 'one round in flight at a time');
    endB();
    for (const answer of inFlight) answer([]);
  });
});
