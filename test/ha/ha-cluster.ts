/**
 * A deployment in miniature for the high-availability scenarios: frontend processes on one
 * ZooKeeper ensemble (a fresh root) sharing a `file:` store, and worker processes given
 * every frontend. Everything it starts it stops by PID; the ensemble belongs to the caller.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { ApiClient } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import { drain, spawnDistci, startFrontendProc, stopAll, type FrontendProc, type Proc } from '../../src/harness/processes.js';
import { tempDir } from '../support/embedded.js';
import type { Ensemble, NodeStatus } from '../support/zookeeper.js';

export interface HaOptions {
  frontends: number;
  workers: number;
  /** Slots per worker. */
  concurrency: number;
  leaseTtlMs: number;
  sweepMs: number;
}

export const HA_DEFAULTS: HaOptions = { frontends: 3, workers: 6, concurrency: 2, leaseTtlMs: 2000, sweepMs: 100 };

export interface HaWorker {
  id: string;
  proc: Proc;
}

interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  pgid: number;
}

function procStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the parenthesised command name: state, ppid, pgrp, ...
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { pid, comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ppid: Number(fields[1]), pgid: Number(fields[2]) };
  } catch {
    return null; // gone meanwhile
  }
}

/** The processes whose parent is `pid` (from /proc). */
export function childrenOf(pid: number): ProcStat[] {
  return readdirSync('/proc')
    .filter((name) => /^[0-9]+$/.test(name))
    .map((name) => procStat(Number(name)))
    .filter((p): p is ProcStat => p !== null && p.ppid === pid);
}

/** A ZooKeeper four-letter command's answer (`srvr`, `cons`, ...). */
export function fourLetters(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const socket = connect(port, '127.0.0.1', () => socket.end(command));
    socket.setTimeout(2000, () => socket.destroy(new Error(`${command} on port ${port} timed out`)));
    socket.on('data', (d: Buffer) => (out += d.toString()));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

/** A node that serves, with the number of client connections it holds (the frontends' sessions). */
export async function servingNodes(ensemble: Ensemble): Promise<(NodeStatus & { pid: number; connections: number })[]> {
  const nodes = (await ensemble.status()).filter((n): n is NodeStatus & { pid: number } => n.pid !== null && n.mode !== 'down');
  return Promise.all(
    nodes.map(async (n) => ({ ...n, connections: Number(/^Connections: ([0-9]+)/m.exec(await fourLetters(n.port, 'srvr'))?.[1] ?? 0) })),
  );
}

export class HaCluster {
  readonly frontends: FrontendProc[] = [];
  readonly workers: HaWorker[] = [];
  readonly builds: BuildsApi;
  readonly tickets: TicketsApi;
  private readonly client: ApiClient;

  private constructor(
    readonly ensemble: Ensemble,
    readonly root: string,
    readonly dir: string,
    private readonly removeDir: () => Promise<void>,
    frontends: FrontendProc[],
  ) {
    this.frontends.push(...frontends);
    this.client = new ApiClient({ servers: this.urls, baseBackoffMs: 20, maxBackoffMs: 500, timeoutMs: 20_000 });
    this.builds = new BuildsApi(this.client);
    this.tickets = new TicketsApi(this.client);
  }

  /** Starts the frontends, then the workers (all in parallel within each group). */
  static async start(ensemble: Ensemble, options: Partial<HaOptions> = {}): Promise<HaCluster> {
    const o = { ...HA_DEFAULTS, ...options };
    const dir = await tempDir('distci-ha-');
    const root = ensemble.freshRoot();
    const args = ['--data', dir.path, '--coordinator', ensemble.url(root), '--lease-ttl-ms', String(o.leaseTtlMs), '--sweep-ms', String(o.sweepMs), '--log-level', 'warn'];
    const started = await Promise.allSettled(Array.from({ length: o.frontends }, () => startFrontendProc(args)));
    const frontends = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await stopAll(frontends);
      await ensemble.removeRoot(root).catch(() => undefined);
      await dir.remove();
      throw failed.reason;
    }
    const cluster = new HaCluster(ensemble, root, dir.path, dir.remove, frontends);
    for (let i = 1; i <= o.workers; i++) cluster.startWorker(`ha-w${i}`, o.concurrency);
    return cluster;
  }

  get urls(): string[] {
    return this.frontends.map((f) => f.url);
  }

  startWorker(id: string, concurrency: number): HaWorker {
    const proc = spawnDistci(['worker', '--server', this.urls.join(','), '--worker-id', id, '--concurrency', String(concurrency), '--claim-wait-ms', '5000', '--log-level', 'warn']);
    drain(proc);
    const worker = { id, proc };
    this.workers.push(worker);
    return worker;
  }

  /** The step scripts a worker is running now: bash, each leading its own process group. */
  scriptsOf(worker: HaWorker): number[] {
    return childrenOf(worker.proc.pid)
      .filter((p) => p.comm === 'bash' && p.pgid === p.pid)
      .map((p) => p.pid);
  }

  /**
   * SIGKILL a worker and every script it runs with its process group, as when its machine
   * dies. The worker is stopped first so that it starts nothing meanwhile; a child caught
   * between fork and exec (not yet leading its group) is killed by its own PID.
   */
  async killWorker(worker: HaWorker): Promise<void> {
    try {
      process.kill(worker.proc.pid, 'SIGSTOP');
    } catch {
      // already gone
    }
    const children = childrenOf(worker.proc.pid).map((p) => p.pid);
    await worker.proc.kill();
    for (const target of children.flatMap((pid) => [-pid, pid])) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone, or not a group leader
      }
    }
  }

  /** Resolves with a worker that is running a step script right now. */
  async workerMidStep(timeoutMs = 30_000): Promise<HaWorker> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const busy = this.workers.find((w) => w.proc.child.exitCode === null && this.scriptsOf(w).length > 0);
      if (busy) return busy;
      if (Date.now() > deadline) throw new Error(`no worker ran a script within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    await this.client.close();
    await stopAll([...this.workers.map((w) => w.proc), ...this.frontends]);
    await this.ensemble.removeRoot(this.root).catch(() => undefined);
    await this.removeDir();
  }
}

