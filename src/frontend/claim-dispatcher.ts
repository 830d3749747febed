import type { Logger } from 'pino';
import type { Claim, ClaimRequest, Coordinator, Unsubscribe } from '../coordination/contract.js';

interface Waiter {
  request: ClaimRequest;
  max: number;
  /** Waiters with the same signature compete for the same tickets. */
  signature: string;
  settle(claims: Claim[]): boolean;
}

/** Signatures whose last yield is remembered; worker configurations are few. */
const MAX_SIGNATURES = 1000;

/** Attempt `i` of a claim: its own claim id, so a retried request finds what it won. */
function withAttempt(request: ClaimRequest, i: number): ClaimRequest {
  return i === 0 || request.claimId === undefined ? request : { ...request, claimId: `${request.claimId}#${i}` };
}

export interface DispatcherOptions {
  /** How often this frontend returns expired leases to the queue (idempotent housekeeping). */
  sweepMs: number;
  log: Logger;
  /** Told how many expired leases each sweep returned or ended. */
  onExpired?: (count: number) => void;
  /** Told how long each round took. */
  onRound?: (seconds: number) => void;
}

/**
 * Long-poll claims woken by coordinator notifications — no sleep loop.
 *
 * A claim first tries at once; if nothing matches it parks. Every notification starts a
 * round (one at a time; notifications arriving meanwhile are merged into one more round)
 * that offers the queue to parked waiters in arrival order: per (kinds, labels) signature,
 * in waves of 1, 2, 4, … waiters claiming together, signatures side by side. Once a wave
 * comes back short, the other waiters of that signature are skipped: N idle workers cost
 * a query or two per signature, not N.
 *
 * Parking is race-free: `generation` counts notifications; a waiter that parks after a
 * notification arrived during its first try starts a round itself.
 *
 * A claim may ask for up to `max` tickets (a worker with that many free slots). They are
 * coordinator claims issued in waves: the claims of one wave go out in the same turn, so
 * the embedded coordinator's group commit leases them in one transaction; each gets its
 * own lease and token. A wave that comes back short means the queue is dry and ends the
 * claim (and, in a round, marks the signature empty); a full one is followed by one twice
 * its size. The first wave is one bigger than what the last claim of that signature found
 * (at least two), so a deep queue is drained in one wave and a lone ticket costs two
 * claims in one round trip, not `max` — the scale bench measured 2,200 coordinator claims
 * per build when every request fired `max` at once — and not a second wave that the
 * worker waits for. Attempt `i` carries the claim id `claimId#i` (the first one `claimId` itself),
 * so a retry of the request finds every lease it already won and never holds more than
 * `max`.
 */
export class ClaimDispatcher {
  private waiters: Waiter[] = [];
  private generation = 0;
  private round: Promise<void> | null = null;
  private again = false;
  private unsubscribe: Unsubscribe | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  /** How many tickets the last claim of each signature found: the size of the next first wave. */
  private readonly found = new Map<string, number>();

  constructor(
    private readonly coordinator: Coordinator,
    private readonly options: DispatcherOptions,
  ) {}

  start(): void {
    this.unsubscribe = this.coordinator.onClaimable(() => this.wake());
    this.sweeper = setInterval(() => void this.sweep(), this.options.sweepMs);
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.sweeper) clearInterval(this.sweeper);
    for (const waiter of this.waiters) waiter.settle([]);
    this.waiters = [];
    await this.round;
  }

  get parked(): number {
    return this.waiters.length;
  }

  /** Up to `max` leases (none when `waitMs` passes or `signal` aborts first). */
  async claim(request: ClaimRequest, waitMs: number, signal: AbortSignal, max = 1): Promise<Claim[]> {
    const seen = this.generation;
    const signature = `${[...request.kinds].sort().join(',')}|${[...request.labels].sort().join(',')}`;
    const claims = await this.claimUpTo(request, max, signature);
    if (claims.length > 0 || waitMs <= 0 || signal.aborted) return claims;
    return new Promise<Claim[]>((resolve) => {
      let settled = false;
      const waiter: Waiter = {
        request,
        max,
        signature,
        settle: (result) => {
          if (settled) return false;
          settled = true;
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(result);
          return true;
        },
      };
      const onAbort = (): void => void waiter.settle([]);
      const timer = setTimeout(onAbort, waitMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      if (this.generation !== seen) this.wake();
    });
  }

  private wake(): void {
    this.generation++;
    if (this.waiters.length === 0) return;
    if (this.round) {
      this.again = true;
      return;
    }
    this.round = this.runRounds().finally(() => {
      this.round = null;
    });
  }

  private async runRounds(): Promise<void> {
    do {
      this.again = false;
      const started = performance.now();
      const bySignature = new Map<string, Waiter[]>();
      for (const waiter of this.waiters) {
        const same = bySignature.get(waiter.signature);
        if (same) same.push(waiter);
        else bySignature.set(waiter.signature, [waiter]);
      }
      await Promise.all([...bySignature.values()].map((waiters) => this.offer(waiters)));
      this.options.onRound?.((performance.now() - started) / 1000);
    } while (this.again && this.waiters.length > 0);
  }

  /**
   * Offers the queue to the parked waiters of one signature, in arrival order, in waves of
   * 1, 2, 4, … waiters whose claims go out together (one after another, each waiter cost a
   * coordinator round trip: on ZooKeeper ~10 ms, so the tenth ticket of a burst waited for
   * nine). A wave in which a waiter got fewer tickets than it asked for means the queue ran
   * dry: the waiters after it would find nothing.
   */
  private async offer(waiters: readonly Waiter[]): Promise<void> {
    for (let next = 0, wave = 1; next < waiters.length; wave *= 2) {
      const batch = waiters.slice(next, next + wave);
      next += batch.length;
      const found = await Promise.all(
        batch.map((waiter) =>
          this.claimUpTo(waiter.request, waiter.max, waiter.signature).catch((err: unknown) => {
            this.options.log.warn({ err }, 'claim for a parked waiter failed; it stays parked');
            return null;
          }),
        ),
      );
      let dry = false;
      const undelivered: Claim[] = [];
      for (const [i, claims] of found.entries()) {
        if (claims === null) continue;
        const waiter = batch[i]!;
        if (claims.length < waiter.max) dry = true;
        if (claims.length > 0 && !waiter.settle(claims)) undelivered.push(...claims);
      }
      await Promise.all(undelivered.map((claim) => this.giveBack(claim)));
      if (dry) return;
    }
  }

  private async claimUpTo(request: ClaimRequest, max: number, signature: string): Promise<Claim[]> {
    if (max === 1) {
      // One ticket (a worker with one free slot): one coordinator claim, no waves.
      const claim = await this.coordinator.claim(request);
      return this.remember(signature, claim ? [claim] : []);
    }
    const claims: Claim[] = [];
    // One more than the last claim found: when the queue holds what it held then, the extra
    // claim comes back empty in the same round trip and ends the claim, instead of a
    // further wave after it (an empty claim costs ZooKeeper a barrier and a re-list, and
    // the worker would wait for it).
    let wave = Math.min(max, Math.max(1, this.found.get(signature) ?? 1) + 1);
    for (let next = 0; next < max; wave *= 2) {
      const size = Math.min(wave, max - next);
      const outcomes = await Promise.allSettled(Array.from({ length: size }, (_, i) => this.coordinator.claim(withAttempt(request, next + i))));
      next += size;
      const won = outcomes.flatMap((o) => (o.status === 'fulfilled' && o.value ? [o.value] : []));
      claims.push(...won);
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      // Leases already won are delivered; a retry with the same claim id would find them
      // anyway. Only when nothing was won is the request an error.
      if (failed && claims.length === 0) throw failed.reason;
      if (won.length < size) break;
    }
    return this.remember(signature, claims);
  }

  /** Remembers how many tickets a claim of this signature found (the next first wave's size). */
  private remember(signature: string, claims: Claim[]): Claim[] {
    if (this.found.size >= MAX_SIGNATURES && !this.found.has(signature)) this.found.clear();
    this.found.set(signature, claims.length);
    return claims;
  }

  /** The waiter left (timeout, disconnect) while its claim was in flight. */
  private async giveBack(claim: Claim): Promise<void> {
    try {
      await this.coordinator.release(claim.ticket.id, claim.token);
    } catch (err) {
      this.options.log.warn({ err, ticketId: claim.ticket.id }, 'could not release an undelivered claim; its lease will expire');
    }
  }

  private async sweep(): Promise<void> {
    try {
      const expired = await this.coordinator.expireLeases({ routine: true });
      if (expired > 0) {
        this.options.log.info({ expired }, 'returned expired leases');
        this.options.onExpired?.(expired);
      }
    } catch (err) {
      this.options.log.warn({ err }, 'lease sweep failed; will retry');
    }
  }
}
