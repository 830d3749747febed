/**
 * The claim dispatcher's rounds against a coordinator whose claims take a round trip (as
 * ZooKeeper's do): the parked waiters of one signature are offered the queue in waves that
 * claim together, not one round trip after another, and still stop once the queue is dry.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Claim, ClaimRequest, Coordinator } from '../../src/coordination/contract.js';
import { ClaimDispatcher } from '../../src/frontend/claim-dispatcher.js';
import { eventually } from '../support/wait.js';

function slowCoordinator(roundTripMs: number) {
  const state = { pending: 0, inFlight: 0, maxInFlight: 0, claims: 0, ring: (): void => undefined };
  const coordinator = {
    onClaimable(listener: () => void) {
      state.ring = listener;
      return () => undefined;
    },
    async expireLeases() {
      return 0;
    },
    async claim(req: ClaimRequest): Promise<Claim | null> {
      state.claims++;
      state.inFlight++;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      await new Promise((resolve) => setTimeout(resolve, roundTripMs));
      state.inFlight--;
      if (state.pending === 0) return null;
      const n = state.pending--;
      return { ticket: { id: String(n), kind: req.kinds[0] }, token: 1, expiresAt: Date.now() + 60_000 } as unknown as Claim;
    },
  } as unknown as Coordinator;
  return { coordinator, state };
}

const NEVER = new AbortController().signal;
const request = (i: number): ClaimRequest => ({ workerId: `w${i}`, kinds: ['build'], labels: [], ttlMs: 15_000 });

describe('claim dispatcher rounds', () => {
  it('offers a burst to parked waiters in waves that claim together, and stops when the queue is dry', { timeout: 10_000 }, async () => {
    const { coordinator, state } = slowCoordinator(15);
    const dispatcher = new ClaimDispatcher(coordinator, { sweepMs: 60_000, log: pino({ level: 'silent' }) });
    dispatcher.start();
    try {
      const parked = Array.from({ length: 12 }, (_, i) => dispatcher.claim(request(i), 5_000, NEVER));
      await eventually(() => assert.equal(dispatcher.parked, 12));
      state.claims = 0;
      state.maxInFlight = 0;
      state.pending = 7; // a burst of 7 tickets for 12 waiters
      state.ring();
      const got = await Promise.all(parked.slice(0, 7)); // the first 7 waiters, in arrival order
      assert.deepEqual(
        got.map((claims) => claims.length),
        [1, 1, 1, 1, 1, 1, 1],
      );
      // Waves of 1, 2, 4 took the 7; the next wave (the 5 left) found the queue dry.
      assert.equal(state.maxInFlight, 5, 'the waiters of a wave claim together');
      assert.equal(state.claims, 12);
      assert.equal(dispatcher.parked, 5, 'the others stay parked');
    } finally {
      await dispatcher.stop();
    }
  });
});
