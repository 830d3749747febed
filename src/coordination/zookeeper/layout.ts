/**
 * The znode layout, in one place (docs/ARCHITECTURE.md draws it):
 *
 *   ROOT/tickets/<id / 10000>/<id>     one header per ticket: JSON below; its data version
 *                                      is the fencing token (only ownership changes write it)
 *   ROOT/queues/<kind>/<labels>/<1000-priority:4>-<id:10>[-<share>]
 *                                      empty; one per pending ticket; the name sorts the queue
 *                                      and names the ticket's fair-share group (its job)
 *   ROOT/leases/<id>                   {ttl}; exists while leased; mtime = last grant/renewal
 *   ROOT/leases/<id>/cancel            cancel requested for the leased ticket
 *   ROOT/claims/<sha(worker, claimId)> {ticketId}; exists while that claim's lease lives
 *   ROOT/idem/<sha(key)>               {ticketId} of an idempotency key
 *   ROOT/by-kind/<kind>/<id>, ROOT/by-job/<job>/<id>   empty index entries for `list`
 *   ROOT/ids/r<seq>                    ephemeral-sequential id reservations (the seq is the id)
 *   ROOT/bell                          written in every transaction that makes work claimable
 *   ROOT/clock                         written to read ZooKeeper's time (its mtime)
 *   ROOT/counters/<name>               data version = the last number handed out
 *   ROOT/records/d<seg>/.../r<leaf>    a record per key, split at '/'
 *   ROOT/locks/<name>                  ephemeral, {holder}
 *   ROOT/members/m<seq>                ephemeral-sequential, one per coordinator instance
 */
import { hash } from 'node:crypto';
import { ticketShare, type LeaseRecord, type NormalizedTicket, type Ticket, type TicketResult, type TicketStatus } from '../../core/ticket.js';
import type { Stat } from './zk-client.js';

/** What a ticket header znode holds. */
export interface Header {
  kind: string;
  labels: string[];
  payload: unknown;
  refs: Ticket['refs'];
  priority: number;
  maxAttempts: number;
  idempotencyKey: string | null;
  followUp: NormalizedTicket | null;
  status: TicketStatus;
  attempt: number;
  holder: string | null;
  /** The last entry's `at` is null while its lease lives: it is the header's mtime then. */
  leases: { attempt: number; holder: string; at: number | null }[];
  result: TicketResult | null;
  completedToken: number | null;
  cancelRequested: boolean;
  /** The claims/ entry of the current lease. */
  claimKey: string | null;
  /** Id of the write that made this version: a writer whose outcome was unknown finds its own. */
  op: string;
}

export interface LeaseState {
  ttl: number;
  mtime: number;
  cancel: boolean;
}

export const BASE_DIRS = ['tickets', 'queues', 'leases', 'claims', 'idem', 'by-kind', 'by-job', 'ids', 'counters', 'records', 'locks', 'members'];

/** Percent-encodes everything but a safe set, so any string is one valid znode name. */
export function enc(s: string): string {
  const out = s.replace(/[^A-Za-z0-9_.=:,-]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
  return out === '.' || out === '..' ? out.replace(/\./g, '%2E') : out;
}

export function dec(s: string): string {
  return decodeURIComponent(s);
}

const sha = (...parts: string[]): string => hash('sha256', parts.join('\0')).slice(0, 40);

export class Layout {
  constructor(readonly root: string) {}

  dir(name: string): string {
    return `${this.root}/${name}`;
  }

  ticketBucket(id: number): string {
    return `${this.root}/tickets/${Math.floor(id / 10_000)}`;
  }

  ticket(id: number): string {
    return `${this.ticketBucket(id)}/${id}`;
  }

  queueKind(kind: string): string {
    return `${this.root}/queues/${enc(kind)}`;
  }

  queue(kind: string, labels: readonly string[]): string {
    return `${this.queueKind(kind)}/${labelsName(labels)}`;
  }

  pending(t: { kind: string; labels: readonly string[]; priority: number; refs: Ticket['refs'] }, id: number): string {
    return `${this.queue(t.kind, t.labels)}/${pendingName(t.priority, id, ticketShare(t))}`;
  }

  lease(id: number): string {
    return `${this.root}/leases/${id}`;
  }

  cancelFlag(id: number): string {
    return `${this.lease(id)}/cancel`;
  }

  claimKey(workerId: string, claimId: string): string {
    return sha('claim', workerId, claimId);
  }

  claim(key: string): string {
    return `${this.root}/claims/${key}`;
  }

  idem(key: string): string {
    return `${this.root}/idem/${sha('idem', key)}`;
  }

  byKind(kind: string): string {
    return `${this.root}/by-kind/${enc(kind)}`;
  }

  byJob(job: string): string {
    return `${this.root}/by-job/${enc(job) || '%'}`; // '%' alone: the empty job name ('%' itself is %25)
  }

  reservationPrefix(): string {
    return `${this.root}/ids/r`;
  }

  get bell(): string {
    return `${this.root}/bell`;
  }

  get clock(): string {
    return `${this.root}/clock`;
  }

  counter(name: string): string {
    return `${this.root}/counters/${enc(name)}`;
  }

  /** `a/b/c` → ROOT/records/da/db/rc: records and directories never share a name. */
  record(key: string): string {
    const segments = key.split('/');
    const leaf = segments.pop()!;
    return `${this.recordDir(segments)}/r${enc(leaf)}`;
  }

  recordDir(segments: readonly string[]): string {
    return [`${this.root}/records`, ...segments.map((s) => `d${enc(s)}`)].join('/');
  }

  lock(name: string): string {
    return `${this.root}/locks/${enc(name)}`;
  }
}

/** The empty label set is `-`, which no label can spell (labels start with a letter or digit). */
export function labelsName(labels: readonly string[]): string {
  return labels.length === 0 ? '-' : labels.map(enc).join(',');
}

export function parseLabelsName(name: string): string[] {
  return name === '-' ? [] : name.split(',').map(dec);
}

/**
 * Sorting names ascending gives priority descending, then ticket id ascending (FIFO); the
 * share follows, so a claim learns every entry's share from the listing alone.
 */
export function pendingName(priority: number, id: number, share: string): string {
  const name = `${String(1000 - priority).padStart(4, '0')}-${String(id).padStart(10, '0')}`;
  return share === '' ? name : `${name}-${enc(share)}`;
}

export function parsePendingName(name: string): { id: number; priority: number; share: string } | null {
  const m = /^([0-9]{4})-([0-9]{10})(?:-(.+))?$/.exec(name);
  return m ? { priority: 1000 - Number(m[1]), id: Number(m[2]), share: m[3] === undefined ? '' : dec(m[3]) } : null;
}

/** Ticket ids of this backend: the id reservation's sequence number + 1, in decimal. */
export function parseTicketId(id: string): number | null {
  return /^[1-9][0-9]{0,10}$/.test(id) && Number(id) <= 2 ** 31 ? Number(id) : null;
}

export function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function parse<T>(data: Buffer): T {
  return JSON.parse(data.toString('utf8')) as T;
}

export function toTicket(id: number, h: Header, stat: Stat, lease: LeaseState | null): Ticket {
  const leased = h.status === 'leased';
  const leases: LeaseRecord[] = h.leases.map((l) => ({ attempt: l.attempt, holder: l.holder, at: l.at ?? stat.mtime }));
  return {
    id: String(id),
    kind: h.kind,
    labels: h.labels,
    payload: h.payload,
    refs: h.refs,
    priority: h.priority,
    status: h.status,
    attempt: h.attempt,
    maxAttempts: h.maxAttempts,
    lease:
      leased && h.holder !== null && lease
        ? { holder: h.holder, token: stat.version, expiresAt: lease.mtime + lease.ttl }
        : null,
    holder: h.holder,
    leases,
    result: h.result,
    idempotencyKey: h.idempotencyKey,
    cancelRequested: h.cancelRequested || (leased && (lease?.cancel ?? false)),
    followUp: h.followUp,
    createdAt: stat.ctime,
    updatedAt: stat.mtime,
  };
}

/** Only the refs the model knows, as the embedded backend keeps them. */
function pickRefs(refs: Ticket['refs']): Ticket['refs'] {
  const out: Ticket['refs'] = {};
  if (refs.job !== undefined && refs.job !== null) out.job = refs.job;
  if (refs.build !== undefined && refs.build !== null) out.build = refs.build;
  if (refs.step !== undefined && refs.step !== null) out.step = refs.step;
  return out;
}

/** A new header for a posted ticket. */
export function newHeader(t: NormalizedTicket, op: string): Header {
  return {
    kind: t.kind,
    labels: t.labels,
    payload: t.payload,
    refs: pickRefs(t.refs),
    priority: t.priority,
    maxAttempts: t.maxAttempts,
    idempotencyKey: t.idempotencyKey,
    followUp: t.followUp,
    status: 'pending',
    attempt: 0,
    holder: null,
    leases: [],
    result: null,
    completedToken: null,
    cancelRequested: false,
    claimKey: null,
    op,
  };
}

/** The header after its live lease ends: the lease's grant time (the old mtime) is fixed. */
export function closeLease(h: Header, grantedAt: number): Header['leases'] {
  return h.leases.map((l) => (l.at === null ? { ...l, at: grantedAt } : l));
}
