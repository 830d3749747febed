import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ticketJson, toTicket, type TicketRow } from '../../src/coordination/embedded/rows.js';

const base: TicketRow = {
  seq: 42,
  kind: 'execute-shell',
  route: 'execute-shell|[]|0|web',
  labels: '["linux","x86_64"]',
  payload: JSON.stringify({ script: 'echo "hi" \\ \u2028 done', env: { A: '1' }, n: [1, 2.5, null] }),
  job: 'web',
  build: 7,
  step: 'test',
  priority: 3,
  status: 'pending',
  attempt: 0,
  max_attempts: 3,
  lease_holder: null,
  lease_token: 0,
  lease_expires_at: null,
  claim_id: null,
  result: null,
  completed_token: null,
  cancel_requested: 0,
  follow_up: null,
  history: '[]',
  idempotency_key: null,
  created_at: 1_700_000_000_000,
  updated_at: 1_700_000_000_001,
};

const rows: Record<string, TicketRow> = {
  pending: base,
  leased: {
    ...base,
    status: 'leased',
    attempt: 2,
    lease_holder: 'worker "a"\\b',
    lease_token: 5,
    lease_expires_at: 1_700_000_060_000,
    claim_id: 'c1',
    history: '[{"attempt":1,"holder":"w1","at":1},{"attempt":2,"holder":"worker \\"a\\"\\\\b","at":2}]',
    idempotency_key: 'key "quoted" é ✓',
    cancel_requested: 1,
  },
  done: {
    ...base,
    status: 'done',
    attempt: 1,
    lease_holder: 'w1',
    lease_token: 1,
    result: JSON.stringify({ outcome: 'failure', code: 'exit', message: 'exit 1', data: { lines: ['a', 'b'] } }),
    completed_token: 1,
    history: '[{"attempt":1,"holder":"w1","at":1}]',
    follow_up: JSON.stringify({ kind: 'build-control', labels: [], payload: { event: 'step-done' }, refs: { job: 'web' }, priority: 0, maxAttempts: 3, idempotencyKey: null, followUp: null }),
  },
  'no refs': { ...base, job: null, build: null, step: null, labels: '[]', payload: 'null' },
};

describe('embedded rows: the ticket as JSON text', () => {
  for (const [name, row] of Object.entries(rows)) {
    it(`is the same ticket as toTicket for a ${name} row`, () => {
      const text = ticketJson(row);
      assert.deepEqual(JSON.parse(text), toTicket(row));
      assert.equal(text, JSON.stringify(toTicket(row)), 'same keys in the same order as the encoded object');
    });
  }
});
