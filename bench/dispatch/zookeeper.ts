/**
 * dispatch on ZooKeeper: with `--coordinator zookeeper://HOSTS/ROOT` the frontends run on
 * that ensemble (under a fresh child of ROOT, removed afterwards); with `--coordinator
 * zookeeper` the benchmark starts a throwaway 3-node ensemble on loopback with
 * scripts/zookeeper.sh and stops it at the end. Measured: the same wake-up latency;
 * claims/s with 16 and 64 concurrent client loops (workers) through frontend A, then spread over both,
 * tickets pre-filled through ZookeeperCoordinator.post; and, in the same run, the raw
 * ZooKeeper conditional-write rate — setData expecting the version, through the
 * project's ZkClient, each loop on its own znode — sequentially, 16 and 64 in flight.
 */
import { randomUUID } from 'node:crypto';
import type { Pool } from 'undici';
import { newClaimId } from '../../src/core/claim-id.js';
import { isZk, ZK } from '../../src/coordination/zookeeper/errors.js';
import { ZkClient } from '../../src/coordination/zookeeper/zk-client.js';
import { parseZookeeperUrl, ZookeeperCoordinator } from '../../src/coordination/zookeeper/zookeeper-coordinator.js';
import { expectStatus, requestJson as send, UsageError, type BenchArgs, type BenchResult } from '../common.js';
import { claimBody, poolTo, startFrontends, stopFrontends, wakeUpLines, type Grant } from './frontends.js';
import { closedLoop, pooled, type LoopResult } from './loops.js';
import { LEASE_TTL_MS, payload, ZK_IN_FLIGHT, type Settings } from './settings.js';
import { reportZk } from './zookeeper-report.js';
import { startEnsemble } from '../zookeeper-ensemble.js';


interface Ensemble {
  servers: string;
  /** This run's root: a fresh child of the URL's root (or of /distci-bench on a started ensemble). */
  root: string;
  /** The URL's query (session timeout and such), passed on to the frontends. */
  query: string;
  /** PIDs of the nodes, when the benchmark started them (for CPU accounting). */
  pids: Record<string, number>;
}

/** The ensemble to measure: started here for `zookeeper`, else the one the URL names. */
async function ensembleFor(args: BenchArgs, url: string, runId: string): Promise<Ensemble> {
  if (url === 'zookeeper' || url === 'zookeeper://') return { ...(await startEnsemble(args)), root: `/distci-bench/run-${runId}`, query: '' };
  let options: ReturnType<typeof parseZookeeperUrl>;
  try {
    options = parseZookeeperUrl(url);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const root = `${options.root}/bench-${runId}`;
  args.cleanup.defer(`remove ${root} from the ensemble`, () => removeTree(options.servers, root));
  return { servers: options.servers, root, query: url.includes('?') ? url.slice(url.indexOf('?')) : '', pids: {} };
}

/** Runs `fn` over `items` with at most `ZK_IN_FLIGHT` calls at once. */
async function inFlight<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(ZK_IN_FLIGHT, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const unlessMissing = <T>(value: T) => (err: unknown): T => {
  if (isZk(err, ZK.NO_NODE)) return value;
  throw err;
};

/** Removes `root` and everything under it. */
async function removeTree(servers: string, root: string): Promise<void> {
  const zk = new ZkClient({ servers, sessionTimeoutMs: 10_000, opTimeoutMs: 30_000 });
  try {
    await zk.whenConnected(10_000);
    const levels: string[][] = [[root]];
    for (;;) {
      const next = (await inFlight(levels.at(-1)!, (p) => zk.getChildren(p).then((c) => c.map((n) => `${p}/${n}`), unlessMissing<string[]>([])))).flat();
      if (next.length === 0) break;
      levels.push(next);
    }
    for (const level of levels.reverse()) await inFlight(level, (p) => zk.remove(p, -1).catch(unlessMissing(undefined)));
  } finally {
    await zk.close();
  }
}

/** Posts the given number of pending tickets of each kind through ZookeeperCoordinator.post, 64 in flight. */
async function prefillZk(url: string, queues: Record<string, number>): Promise<void> {
  const coordinator = ZookeeperCoordinator.fromUrl(url);
  try {
    await coordinator.ready();
    for (const [kind, n] of Object.entries(queues)) {
      const indexes = Array.from({ length: n }, (_, i) => i);
      await inFlight(indexes, (i) => coordinator.post({ kind, payload: payload(i), refs: { job: 'bench', build: i, step: 'test' } }));
    }
  } finally {
    await coordinator.close();
  }
}

/**
 * The raw conditional-write rate: `inFlightWrites` loops, each on its own znode (as each
 * ticket has its own), call ZkClient.setData expecting the version the previous write left.
 */
async function rawSetData(zk: ZkClient, base: string, inFlightWrites: number, s: Settings, pids: Record<string, number>): Promise<LoopResult> {
  const data = Buffer.alloc(512, 'x'); // about a ticket header's size
  const versions = new Map<string, number>();
  for (let i = 0; i < inFlightWrites; i++) {
    const path = `${base}/n${i}`;
    await zk.create(path, data).catch((err: unknown) => (isZk(err, ZK.NODE_EXISTS) ? path : Promise.reject(err)));
    versions.set(path, (await zk.exists(path))!.version);
  }
  const free = [...versions.keys()];
  return closedLoop(inFlightWrites, s, pids, async () => {
    const path = free.pop()!;
    versions.set(path, (await zk.setData(path, data, versions.get(path)!)).version);
    free.push(path);
    return true;
  });
}

export async function runZookeeper(args: BenchArgs, s: Settings, url: string): Promise<BenchResult> {
  const { log, cleanup } = args;
  const runId = randomUUID().slice(0, 8);
  const ensemble = await ensembleFor(args, url, runId);
  const coordinatorUrl = `zookeeper://${ensemble.servers}${ensemble.root}${ensemble.query}`;
  const tmp = await cleanup.tempDir('distci-bench-dispatch-zk-');
  const kind = (what: string): string => `bench-${what}-${runId}`;
  const top = Math.max(...s.workers);
  const k = {
    claimComplete: kind('claim-complete'),
    claimMany: kind('claim-many'),
    inProcess: kind('in-process'),
    inProcessSequential: kind('in-process-sequential'),
    claims: Object.fromEntries(s.workers.map((w) => [w, kind(`claim-${w}`)])),
    spread: Object.fromEntries(s.workers.map((w) => [w, kind(`claim-spread-${w}`)])),
  };
  const queues: Record<string, number> = Object.fromEntries([
    ...s.workers.map((w) => [k.claims[w]!, s.zkRoundTickets] as const),
    ...[...s.workers.map((w) => k.spread[w]!), k.inProcess, k.claimMany].map((q) => [q, s.zkClaimTickets] as const),
    ...[k.claimComplete, k.inProcessSequential].map((q) => [q, s.zkTickets] as const),
  ]);
  const posts = Object.values(queues).reduce((a, b) => a + b, 0);
  log(
    `pre-filling ${s.zkRoundTickets.toLocaleString('en-US')} pending tickets × ${s.workers.length} target claim kinds, ` +
      `${s.zkClaimTickets.toLocaleString('en-US')} × ${s.workers.length + 2} spread, in-process and multi-ticket claim kinds and ${s.zkTickets.toLocaleString('en-US')} × 2 other kinds ` +
      `under ${coordinatorUrl} (ZookeeperCoordinator.post, ${ZK_IN_FLIGHT} in flight)`,
  );
  const t = performance.now();
  await prefillZk(coordinatorUrl, queues);
  const prefillSeconds = (performance.now() - t) / 1000;
  const prefillPerSecond = posts / prefillSeconds;
  log(`pre-filled in ${prefillSeconds.toFixed(1)} s (${Math.round(prefillPerSecond)} posts/s)`);

  const flags = ['--data', tmp, '--coordinator', coordinatorUrl, '--log-level', 'warn', '--lease-ttl-ms', String(LEASE_TTL_MS), '--sweep-ms', String(s.sweepMs)];
  const [a, b] = await startFrontends(args, s, flags);
  const poolA = poolTo(args, a.url, top + 4);
  const poolB = poolTo(args, b.url, top + 4);
  const pids = { frontendA: a.pid, frontendB: b.pid, client: process.pid, ...ensemble.pids };

  const wake = await wakeUpLines(args, s, poolA, poolB, kind);

  const inProcessCoordinator = ZookeeperCoordinator.fromUrl(coordinatorUrl);
  cleanup.defer('close the in-process coordinator', () => inProcessCoordinator.close());
  await inProcessCoordinator.ready();

  /**
   * Claim windows over a queue of `tickets` (one window, or the rounds of a target line).
   * `claim` answers the lease it got, `true` when it already completed it, or null for an
   * empty answer. Under contention ZooKeeper claims may come back empty while tickets are
   * still pending (a claim skips entries its frontend's other claims are trying, and gives
   * up after many lost races), so an empty answer ends a window only once every ticket of
   * the queue was claimed. After each window its leases are completed, untimed: leases
   * left over would make the frontends' sweeps list more in the windows after it.
   */
  type Held = { id: string; token: number };
  const claimQueue = (tickets: number) => {
    let claimed = 0;
    return async (loops: number, claim: () => Promise<Held | Held[] | true | null>, window = s): Promise<LoopResult> => {
      const held: Held[] = [];
      const result = await closedLoop(loops, window, pids, async () => {
        const got = await claim();
        if (got === null) return claimed >= tickets ? false : null;
        if (Array.isArray(got)) {
          held.push(...got);
          claimed += got.length;
          return claimed <= tickets ? got.length : false;
        }
        if (got !== true) held.push(got);
        return ++claimed <= tickets;
      });
      await inFlight(held, ({ id, token }) => inProcessCoordinator.complete(id, token, { outcome: 'success' }));
      return result;
    };
  };
  const claimsUntilEmpty = (loops: number, claim: () => Promise<Held | Held[] | true | null>, tickets = s.zkTickets): Promise<LoopResult> =>
    claimQueue(tickets)(loops, claim);
  const overHttp = async (p: Pool, queue: string): Promise<{ id: string; token: number } | null> => {
    const answer = await send(p, 'POST', '/api/v1/tickets/claim', claimBody(queue, 0));
    expectStatus('claim', answer, 200, 204);
    if (answer.status === 204) return null;
    const grant = answer.body as Grant;
    return { id: grant.ticket.id, token: grant.lease.token };
  };

  log(`GET /healthz on A and B, ${s.workers[0]} loops, ${s.durationMs} ms`);
  let turn = 0;
  const either = (): Pool => (turn++ % 2 === 0 ? poolA : poolB);
  const healthz = await closedLoop(s.workers[0]!, s, pids, async () => {
    expectStatus('healthz', await send(either(), 'GET', '/healthz'), 200);
    return true;
  });

  const zk = new ZkClient({ servers: ensemble.servers, sessionTimeoutMs: 10_000, opTimeoutMs: 15_000 });
  cleanup.defer('close the raw ZooKeeper client', () => zk.close());
  await zk.whenConnected(10_000);
  const rawBase = `${ensemble.root}/raw-setdata`;
  await zk.create(rawBase).catch((err: unknown) => (isZk(err, ZK.NODE_EXISTS) ? rawBase : Promise.reject(err)));
  const raw: Record<number, LoopResult> = {};
  log(`raw ZkClient.setData with version, sequential, ${s.durationMs} ms`);
  raw[1] = await rawSetData(zk, rawBase, 1, s, pids);
  const claims: Record<number, LoopResult> = {};
  const rounds: Record<number, { raw: number; claims: number }[]> = {};
  const spread: Record<number, LoopResult> = {};
  // The target compares a claim line with the raw line of the same concurrency. Both move
  // with the machine (a ZooKeeper snapshot or collection lands in one window or the other),
  // so their windows alternate in rounds and each is pooled over its rounds. As in the
  // SQLite lines, the workers claim through frontend A; then the same spread over A and B,
  // where two frontends on these two cores halve each one's group commits.
  const round = { ...s, durationMs: s.roundMs };
  for (const w of s.workers) {
    const rawWindows: LoopResult[] = [];
    const claimWindows: LoopResult[] = [];
    const claimA = claimQueue(s.zkRoundTickets);
    for (let r = 1; r <= s.rounds; r++) {
      log(`round ${r}/${s.rounds}: raw ZkClient.setData with version, ${w} in flight, then claims over HTTP on A (waitMs 0), ${w} loops; ${s.roundMs} ms each`);
      rawWindows.push(await rawSetData(zk, rawBase, w, round, pids));
      claimWindows.push(await claimA(w, () => overHttp(poolA, k.claims[w]!), round));
      if (claimWindows.at(-1)!.drained) break;
    }
    raw[w] = pooled(rawWindows);
    claims[w] = pooled(claimWindows);
    rounds[w] = claimWindows.map((c, i) => ({ raw: rawWindows[i]!.rate, claims: c.rate }));
    log(`claims over HTTP spread over A and B, ${w} loops, ${s.durationMs} ms or until empty`);
    spread[w] = await claimsUntilEmpty(w, () => overHttp(either(), k.spread[w]!), s.zkClaimTickets);
  }
  log(`claims of up to ${s.claimMax} tickets each over HTTP, ${s.workers[0]} loops spread over A and B, ${s.durationMs} ms or until empty`);
  const claimMany = await claimQueue(s.zkClaimTickets)(s.workers[0]!, async () => {
    const answer = await send(either(), 'POST', '/api/v1/tickets/claim', { ...claimBody(k.claimMany, 0), max: s.claimMax });
    expectStatus('claim', answer, 200, 204);
    if (answer.status === 204) return null;
    return (answer.body as { grants: Grant[] }).grants.map((g) => ({ id: g.ticket.id, token: g.lease.token }));
  });
  log(`claim + complete over HTTP, ${s.workers[0]} loops spread over A and B`);
  const claimComplete = await claimsUntilEmpty(s.workers[0]!, async () => {
    const p = either();
    const got = await overHttp(p, k.claimComplete);
    if (got === null) return null;
    const body = { token: got.token, result: { outcome: 'success' } };
    expectStatus('complete', await send(p, 'POST', `/api/v1/tickets/${got.id}/complete`, body), 200);
    return true;
  });

  const claimInProcess = (queue: string, loops: number, tickets: number): Promise<LoopResult> => {
    log(`ZookeeperCoordinator.claim in this process (no HTTP), ${loops === 1 ? 'sequential' : `${loops} loops`}`);
    return claimsUntilEmpty(
      loops,
      async () => {
        const claim = await inProcessCoordinator.claim({ workerId: 'bench-worker', kinds: [queue], labels: [], ttlMs: LEASE_TTL_MS, claimId: newClaimId() });
        return claim && { id: claim.ticket.id, token: claim.token };
      },
      tickets,
    );
  };
  const inProcessSequential = await claimInProcess(k.inProcessSequential, 1, s.zkTickets);
  const inProcess = await claimInProcess(k.inProcess, top, s.zkClaimTickets);
  await inProcessCoordinator.close();

  await stopFrontends(args, [a, b]);
  return reportZk(s, {
    ensemble: ensemble.servers,
    ...wake,
    healthz,
    claims,
    rounds,
    spread,
    claimComplete,
    claimMany,
    raw,
    inProcess,
    inProcessSequential,
    prefillSeconds,
    prefillPerSecond,
  });
}

