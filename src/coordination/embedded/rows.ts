import type { LeaseRecord, NormalizedTicket, Ticket, TicketResult, TicketStatus } from '../../core/ticket.js';

export interface TicketRow {
  seq: number;
  kind: string;
  route: string;
  labels: string;
  payload: string;
  job: string | null;
  build: number | null;
  step: string | null;
  priority: number;
  status: TicketStatus;
  attempt: number;
  max_attempts: number;
  lease_holder: string | null;
  lease_token: number;
  lease_expires_at: number | null;
  claim_id: string | null;
  result: string | null;
  completed_token: number | null;
  cancel_requested: number;
  follow_up: string | null;
  history: string;
  idempotency_key: string | null;
  created_at: number;
  updated_at: number;
}

export function toTicket(row: TicketRow): Ticket {
  const refs: Ticket['refs'] = {};
  if (row.job !== null) refs.job = row.job;
  if (row.build !== null) refs.build = row.build;
  if (row.step !== null) refs.step = row.step;
  return {
    id: String(row.seq),
    kind: row.kind,
    labels: JSON.parse(row.labels) as string[],
    payload: JSON.parse(row.payload) as unknown,
    refs,
    priority: row.priority,
    status: row.status,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    lease:
      row.status === 'leased' && row.lease_holder !== null && row.lease_expires_at !== null
        ? { holder: row.lease_holder, token: row.lease_token, expiresAt: row.lease_expires_at }
        : null,
    holder: row.lease_holder,
    leases: JSON.parse(row.history) as LeaseRecord[],
    result: row.result === null ? null : (JSON.parse(row.result) as TicketResult),
    idempotencyKey: row.idempotency_key,
    cancelRequested: row.cancel_requested === 1,
    followUp: row.follow_up === null ? null : (JSON.parse(row.follow_up) as NormalizedTicket),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const q = JSON.stringify;
const orNull = (v: string | null): string => (v === null ? 'null' : q(v));

/**
 * The same ticket as `toTicket(row)`, as JSON text: the stored JSON columns (labels,
 * payload, history, result, follow-up) are spliced in as they are, not parsed and encoded
 * again. A claim's answer is mostly this text. `test/coordination/embedded-rows.test.ts`
 * holds it equal to `JSON.stringify(toTicket(row))`.
 */
export function ticketJson(row: TicketRow): string {
  const refs: string[] = [];
  if (row.job !== null) refs.push(`"job":${q(row.job)}`);
  if (row.build !== null) refs.push(`"build":${row.build}`);
  if (row.step !== null) refs.push(`"step":${q(row.step)}`);
  const lease =
    row.status === 'leased' && row.lease_holder !== null && row.lease_expires_at !== null
      ? `{"holder":${q(row.lease_holder)},"token":${row.lease_token},"expiresAt":${row.lease_expires_at}}`
      : 'null';
  return (
    `{"id":"${row.seq}","kind":${q(row.kind)},"labels":${row.labels},"payload":${row.payload},"refs":{${refs.join(',')}},` +
    `"priority":${row.priority},"status":"${row.status}","attempt":${row.attempt},"maxAttempts":${row.max_attempts},` +
    `"lease":${lease},"holder":${orNull(row.lease_holder)},"leases":${row.history},"result":${row.result ?? 'null'},` +
    `"idempotencyKey":${orNull(row.idempotency_key)},"cancelRequested":${row.cancel_requested === 1},` +
    `"followUp":${row.follow_up ?? 'null'},"createdAt":${row.created_at},"updatedAt":${row.updated_at}}`
  );
}

/** Ticket ids of this backend are the row's sequence number in decimal. */
export function parseSeq(id: string): number | null {
  return /^[1-9][0-9]{0,15}$/.test(id) ? Number(id) : null;
}
