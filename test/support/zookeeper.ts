/**
 * A throwaway ZooKeeper ensemble for a test file, started and stopped through
 * scripts/zookeeper.sh. Each test isolates itself under its own root (`freshRoot()`).
 * When ZooKeeper cannot be had, `startEnsemble` throws with the way to get it: the
 * tests fail, they never skip.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { isZk, ZK } from '../../src/coordination/zookeeper/errors.js';
import { ZkClient } from '../../src/coordination/zookeeper/zk-client.js';
import { startZookeeper, ZOOKEEPER_SCRIPT, ZookeeperStartError } from '../../src/harness/zookeeper-script.js';

const run = promisify(execFile);

export interface NodeStatus {
  node: number;
  port: number;
  pid: number | null;
  mode: string;
}

export class Ensemble {
  private stopped = false;

  constructor(
    /** host:port,host:port,... */
    readonly servers: string,
    readonly state: string,
  ) {}

  /** A root no other test uses. */
  freshRoot(): string {
    return `/distci-test-${randomBytes(6).toString('hex')}`;
  }

  url(root: string, options: Record<string, number> = {}): string {
    const query = new URLSearchParams(Object.entries(options).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return `zookeeper://${this.servers}${root}${query ? `?${query}` : ''}`;
  }

  async status(): Promise<NodeStatus[]> {
    const { stdout } = await run('bash', [ZOOKEEPER_SCRIPT, 'status', this.state]);
    return stdout
      .trim()
      .split('\n')
      .map((line) => {
        const [node, port, pid, mode] = line.split(' ');
        return { node: Number(node), port: Number(port), pid: pid === '-' ? null : Number(pid), mode: mode ?? 'down' };
      });
  }

  async leader(): Promise<NodeStatus> {
    for (let i = 0; i < 100; i++) {
      const leader = (await this.status()).find((s) => s.mode === 'leader' || s.mode === 'standalone');
      if (leader) return leader;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no ZooKeeper leader in ${this.state} after 10 s`);
  }

  /** SIGKILL (or `signal`) one node, by the PID the script recorded. */
  async kill(node: number, signal = 'KILL'): Promise<void> {
    await run('bash', [ZOOKEEPER_SCRIPT, 'kill', this.state, String(node), signal]);
  }

  async restart(node: number): Promise<void> {
    await run('bash', [ZOOKEEPER_SCRIPT, 'restart', this.state, String(node)], { timeout: 60_000 });
  }

  /** Removes a test's root and everything under it. */
  async removeRoot(root: string): Promise<void> {
    const zk = new ZkClient({ servers: this.servers, sessionTimeoutMs: 4000, opTimeoutMs: 10_000 });
    try {
      await zk.whenConnected(10_000);
      const levels: string[][] = [[root]];
      for (;;) {
        const children = await Promise.all(levels[levels.length - 1]!.map((p) => zk.getChildren(p).then((c) => c.map((n) => `${p}/${n}`), () => [])));
        const next = children.flat();
        if (next.length === 0) break;
        levels.push(next);
      }
      for (const level of levels.reverse()) {
        await Promise.all(level.map((p) => zk.remove(p, -1).catch((err: unknown) => (isZk(err, ZK.NO_NODE) ? undefined : Promise.reject(err)))));
      }
    } finally {
      await zk.close();
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    running.delete(this);
    await run('bash', [ZOOKEEPER_SCRIPT, 'stop', this.state], { timeout: 60_000 });
  }

  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    spawnSync('bash', [ZOOKEEPER_SCRIPT, 'stop', this.state], { stdio: 'ignore' });
  }
}

const running = new Set<Ensemble>();
// A test runner that exits, or is interrupted or terminated, still stops what it started.
process.once('exit', () => {
  for (const ensemble of running) ensemble.stopSync();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const ensemble of running) ensemble.stopSync();
    process.kill(process.pid, signal);
  });
}

export async function startEnsemble(nodes = 3): Promise<Ensemble> {
  let started;
  try {
    started = await startZookeeper(nodes, { onRetry: (reason) => process.stderr.write(`# scripts/zookeeper.sh start failed (${reason.split('\n')[0]}); trying again\n`) });
  } catch (err) {
    if (!(err instanceof ZookeeperStartError)) throw err;
    throw new Error(
      `${err.message}\n` + "These tests need Debian's zookeeper package (apt-get install zookeeper; the script installs it when run as root).",
    );
  }
  const ensemble = new Ensemble(started.servers, started.state);
  running.add(ensemble);
  return ensemble;
}

interface RawClient {
  once(event: string, fn: () => void): void;
  connect(): void;
  close(): void;
}

/**
 * Expires a session the way a long partition would: a second client joins it with its id
 * and password and closes it. The first client's connection is dropped; when it comes
 * back, the ensemble answers SESSION_EXPIRED.
 */
export async function expireSession(servers: string, id: string, password: Buffer): Promise<void> {
  const zookeeper = createRequire(import.meta.url)('node-zookeeper-client') as {
    createClient(s: string, o: Record<string, unknown>): RawClient;
  };
  const intruder = zookeeper.createClient(servers, { sessionId: Buffer.from(id, 'hex'), sessionPassword: password, sessionTimeout: 4000 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('could not join the session to expire it')), 10_000);
    intruder.once('connected', () => {
      clearTimeout(timer);
      intruder.close();
      setTimeout(resolve, 200);
    });
    intruder.connect();
  });
}
