/**
 * The coordinator on a ZooKeeper ensemble: `zookeeper://host:port,host:port/chroot`.
 * Layout in `layout.ts`; the lease clock is ZooKeeper's (znode mtimes, see `expiry.ts`).
 * Every call runs through `Session.run` (an unknown outcome is re-read, never blindly
 * retried) and its errors through `toDistciError` (the one translation of ZooKeeper's).
 */
import { ValidationError } from '../../core/errors.js';
import type { NewTicket, Ticket, TicketResult } from '../../core/ticket.js';
import type {
  BackendRequests,
  ChangeHint,
  Claim,
  ClaimRequest,
  Coordinator,
  Fence,
  LockHandle,
  PostOutcome,
  QueueStat,
  ReadFreshness,
  RecordPage,
  RecordPageRequest,
  TicketFilter,
  Unsubscribe,
  VersionedRecord,
} from '../contract.js';
import { Counters } from './counters.js';
import { toDistciError } from './errors.js';
import { Expiry, LEASE_BACKUP_MS, LEASE_TRUST_MS } from './expiry.js';
import { Layout } from './layout.js';
import { Leases } from './leases.js';
import { Locks } from './locks.js';
import { Members } from './members.js';
import { purgeDone, type PurgeCursor } from './purge.js';
import { Records } from './records.js';
import { Session } from './session.js';
import { queueStats, Tickets } from './tickets.js';
import { ClaimableWatch } from './watches.js';
import { WatchedReads } from './watched-reads.js';

export interface ZookeeperOptions {
  /** `host:port,host:port,...` */
  servers: string;
  /** Where this deployment's znodes live, e.g. `/distci`. */
  root: string;
  /** Asked of the ensemble, which clamps it to 2-20 ticks. */
  sessionTimeoutMs?: number;
  /** How long `ready()` waits for the ensemble. */
  connectTimeoutMs?: number;
  /** How long one call may take, reconnecting and retrying included (then UnavailableError). */
  operationTimeoutMs?: number;
  /** Added to every lease's TTL before expiry: covers clock differences between successive leaders. */
  expiryMarginMs?: number;
  /** How long a lease read by a sweep is trusted before it is read again (default 5 s; tests shorten it). */
  leaseTrustMs?: number;
  /**
   * Routine sweeps leave a lease to the instance that granted or renewed it: another
   * instance reads it only once it has been listed this long, and again this long after
   * (default 10 s): the backup for an instance that died.
   */
  leaseBackupMs?: number;
}

const HOST = /^[A-Za-z0-9.-]+:[0-9]{1,5}$|^\[[0-9A-Fa-f:.]+\]:[0-9]{1,5}$/;
const CHROOT = /^(\/[A-Za-z0-9_.=-]+)+$/;
const NUMERIC_OPTIONS = ['sessionTimeoutMs', 'connectTimeoutMs', 'operationTimeoutMs', 'expiryMarginMs', 'leaseTrustMs', 'leaseBackupMs'] as const;

/** `zookeeper://h1:2181,h2:2181/distci?sessionTimeoutMs=10000` → options. */
export function parseZookeeperUrl(url: string): ZookeeperOptions {
  const usage = 'use zookeeper://host:port[,host:port...][/chroot], e.g. zookeeper://zk1:2181,zk2:2181,zk3:2181/distci';
  const m = /^zookeeper:\/\/([^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/.exec(url);
  if (!m) throw new ValidationError(`coordinator URL '${url}' is not a ZooKeeper URL: ${usage}`);
  const servers = m[1]!.split(',');
  const bad = servers.find((s) => !HOST.test(s));
  if (bad !== undefined) throw new ValidationError(`coordinator URL '${url}': '${bad}' is not host:port; ${usage}`);
  const root = !m[2] || m[2] === '/' ? '/distci' : m[2].replace(/\/$/, '');
  if (!CHROOT.test(root) || root.split('/').some((s) => s === '.' || s === '..')) {
    throw new ValidationError(`coordinator URL '${url}': chroot '${root}' must be /name[/name...] of A-Z a-z 0-9 _ . = -`);
  }
  const options: ZookeeperOptions = { servers: servers.join(','), root };
  for (const [name, value] of new URLSearchParams(m[3] ?? '')) {
    const known = NUMERIC_OPTIONS.find((o) => o === name);
    if (!known || !/^[0-9]{1,9}$/.test(value)) {
      throw new ValidationError(`coordinator URL '${url}': unknown option '${name}=${value}' (known: ${NUMERIC_OPTIONS.join(', ')}, in ms)`);
    }
    options[known] = Number(value);
  }
  return options;
}

export class ZookeeperCoordinator implements Coordinator {
  readonly backend = 'zookeeper';
  private readonly session: Session;
  private readonly reader: Session;
  private readonly tickets: Tickets;
  private readonly leases: Leases;
  private readonly expiry: Expiry;
  /** Where this instance's purge walk goes on (see purge.ts). */
  private readonly purgeCursor: PurgeCursor = { after: 0 };
  private readonly records: Records;
  private readonly counters: Counters;
  private readonly locks: Locks;
  private readonly watch: ClaimableWatch;
  private readonly members: Members;
  private closed = false;

  constructor(private readonly options: ZookeeperOptions) {
    const sessionOptions = {
      servers: options.servers,
      layout: new Layout(options.root),
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      operationTimeoutMs: options.operationTimeoutMs ?? 15_000,
    };
    this.session = new Session(sessionOptions);
    // ZooKeeper answers one session's requests in order, so a read waits for every write
    // this instance has in flight (renewals, claims, record writes). Reads for callers
    // (get, list, records, current numbers) go through a second session that writes
    // nothing but barriers: they still see every acknowledged write, and wait for none.
    this.reader = new Session(sessionOptions);
    this.tickets = new Tickets(this.session, this.reader);
    this.members = new Members(this.session);
    this.leases = new Leases(this.session, this.tickets, this.members, () => this.watch.epoch);
    this.expiry = new Expiry(this.session, this.tickets, {
      marginMs: options.expiryMarginMs ?? 500,
      trustMs: options.leaseTrustMs ?? LEASE_TRUST_MS,
      backupMs: options.leaseBackupMs ?? LEASE_BACKUP_MS,
    });
    const watched = new WatchedReads(this.reader);
    this.records = new Records(this.session, this.reader, watched);
    this.counters = new Counters(this.session, this.tickets, this.records, this.reader, watched);
    this.locks = new Locks(this.session);
    this.watch = new ClaimableWatch(this.session);
  }

  static fromUrl(url: string): ZookeeperCoordinator {
    return new ZookeeperCoordinator(parseZookeeperUrl(url));
  }

  async ready(): Promise<void> {
    await this.guard(() => Promise.all([this.session.ready(), this.reader.ready()]));
    this.watch.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.watch.stop();
    this.members.stop();
    this.locks.close();
    await Promise.all([this.session.close(), this.reader.close()]);
  }

  post(input: NewTicket): Promise<PostOutcome> {
    return this.guard(() => this.tickets.post(input));
  }

  get(id: string, fresh?: ReadFreshness): Promise<Ticket> {
    return this.guard(() => this.tickets.get(id, fresh));
  }

  list(filter: TicketFilter): Promise<Ticket[]> {
    return this.guard(() => this.tickets.list(filter));
  }

  async claim(request: ClaimRequest): Promise<Claim | null> {
    void this.members.join(); // claims from here compete with other instances' claims
    const claim = await this.guard(() => this.leases.claim(request));
    if (claim) this.expiry.remember(Number(claim.ticket.id), claim.expiresAt - request.ttlMs, request.ttlMs);
    return claim;
  }

  async renew(id: string, token: number, ttlMs: number): Promise<Claim> {
    this.expiry.forget(Number(id));
    const claim = await this.guard(() => this.leases.renew(id, token, ttlMs));
    this.expiry.remember(Number(id), claim.expiresAt - ttlMs, ttlMs);
    return claim;
  }

  complete(id: string, token: number, result: TicketResult): Promise<Ticket> {
    return this.guard(() => this.leases.complete(id, token, result));
  }

  cancel(id: string): Promise<Ticket> {
    return this.guard(() => this.leases.cancel(id));
  }

  release(id: string, token: number): Promise<Ticket> {
    return this.guard(() => this.leases.release(id, token));
  }

  purgeDone(retainMs: number, limit: number): Promise<number> {
    return this.guard(() => purgeDone(this.session, retainMs, limit, this.purgeCursor));
  }

  expireLeases(options: { routine?: boolean } = {}): Promise<number> {
    return this.guard(() => this.expiry.expireLeases(options.routine === true));
  }

  backendRequests(): BackendRequests[] {
    const out: BackendRequests[] = [];
    for (const [connection, session] of [['writer', this.session], ['reader', this.reader]] as const) {
      for (const [request, count] of session.requests) out.push({ connection, request, count });
    }
    return out;
  }

  async queueStats(): Promise<QueueStat[]> {
    return this.guard(() => queueStats(this.tickets, this.session));
  }

  onClaimable(listener: (hint: ChangeHint) => void): Unsubscribe {
    return this.watch.subscribe(listener);
  }

  currentNumber(counter: string, fresh?: ReadFreshness): Promise<number> {
    return this.guard(() => this.counters.current(counter, fresh));
  }

  nextNumber(counter: string): Promise<number> {
    return this.guard(() => this.counters.next(counter));
  }

  createNumbered<T>(
    counter: string,
    prefix: string,
    value: (n: number) => T,
    also?: { ticket?: (n: number) => NewTicket; uniqueKey?: string },
  ): Promise<VersionedRecord<T> & { number: number; key: string }> {
    return this.guard(() => this.counters.createNumbered(counter, prefix, value, also));
  }

  getRecord<T>(key: string, fresh?: ReadFreshness): Promise<VersionedRecord<T> | null> {
    return this.guard(() => this.records.get<T>(key, fresh));
  }

  putRecord<T>(key: string, value: T, expectedVersion: number, fence?: Fence): Promise<VersionedRecord<T>> {
    return this.guard(() => this.records.put(key, value, expectedVersion, fence));
  }

  deleteRecord(key: string, expectedVersion: number): Promise<void> {
    return this.guard(() => this.records.delete(key, expectedVersion));
  }

  listRecords<T>(prefix: string, page?: RecordPageRequest): Promise<RecordPage<T>> {
    return this.guard(() => this.records.list<T>(prefix, page));
  }

  tryLock(name: string, holder: string): Promise<LockHandle | null> {
    return this.guard(() => this.locks.tryLock(name, holder));
  }

  /** Diagnostics and fault tests: the current session and the server it talks to. */
  sessionInfo(): { id: string; password: Buffer; timeoutMs: number; serverPort: number | null } {
    const zk = this.session.client;
    return { id: zk.sessionId, password: zk.sessionPassword, timeoutMs: zk.sessionTimeoutMs, serverPort: zk.serverPort };
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toDistciError(err, this.options.servers);
    }
  }
}
