import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { ApiError } from '../../src/client/api-client.js';
import type { TicketsApi } from '../../src/client/tickets-api.js';
import { startTestFrontend, type TestFrontend } from '../support/embedded.js';

describe('renewing several leases in one request (POST /tickets/renew)', () => {
  let fe: TestFrontend;
  let api: TicketsApi;
  before(async () => {
    fe = await startTestFrontend({ leaseTtlMs: 5_000 });
    api = fe.api();
  });
  after(() => fe.close());

  it('renews each lease and answers each with its own outcome: a stale token is lease_lost, an unknown ticket not_found', async () => {
    for (let i = 0; i < 3; i++) await api.post({ kind: 'renew-many' });
    const grants = await api.claimMany({ workerId: 'w', kinds: ['renew-many'], labels: [], waitMs: 0, claimId: 'rm-1', max: 3 });
    assert.equal(grants.length, 3);
    const [a, b, c] = grants as [(typeof grants)[0], (typeof grants)[0], (typeof grants)[0]];
    const before = await fe.coordinator.get(a.ticket.id);
    const answers = await api.renewMany([
      { id: a.ticket.id, token: a.lease.token },
      { id: b.ticket.id, token: b.lease.token + 1 },
      { id: c.ticket.id, token: c.lease.token },
      { id: '999999', token: 1 },
    ]);
    assert.deepEqual(
      answers.map((r) => [r.id, r.ok ? 'ok' : r.error.code]),
      [
        [a.ticket.id, 'ok'],
        [b.ticket.id, 'lease_lost'],
        [c.ticket.id, 'ok'],
        ['999999', 'not_found'],
      ],
    );
    const first = answers[0]!;
    assert.ok(first.ok && first.ttlMs === 5_000 && first.cancelRequested === false);
    assert.ok((await fe.coordinator.get(a.ticket.id)).lease!.expiresAt >= before.lease!.expiresAt);
    // The failed one changed nothing: its lease still stands under its real token.
    assert.equal((await fe.coordinator.get(b.ticket.id)).lease?.token, b.lease.token);
    // A stale renewal in a batch is counted as one refused alone would be.
    const metrics = await (await request(`${fe.url}/metrics`)).body.text();
    assert.match(metrics, /^distci_stale_lease_writes_total\{operation="renew"\} 1$/m);
  });

  it('tells a renewal that its ticket was cancelled', async () => {
    const { ticket } = await api.post({ kind: 'renew-cancel' });
    const [grant] = await api.claimMany({ workerId: 'w', kinds: ['renew-cancel'], labels: [], waitMs: 0, claimId: 'rm-2', max: 1 });
    await api.cancel(ticket.id);
    const [answer] = await api.renewMany([{ id: ticket.id, token: grant!.lease.token }]);
    assert.ok(answer?.ok && answer.cancelRequested);
  });

  it('refuses an empty list, more than 512 leases and unknown fields with 400 invalid_request', async () => {
    for (const leases of [[], Array.from({ length: 513 }, (_, i) => ({ id: String(i + 1), token: 1 })), [{ id: '1', token: 1, extra: true }], [{ id: '1', token: 0 }]]) {
      await assert.rejects(
        api.renewMany(leases as { id: string; token: number }[]),
        (err: ApiError) => err.status === 400 && err.code === 'invalid_request',
      );
    }
  });
});
