/** A throwaway 3-node ZooKeeper ensemble on loopback for benchmarks (scripts/zookeeper.sh). */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { UsageError, type BenchArgs } from './common.js';

const ZOOKEEPER_SCRIPT = fileURLToPath(new URL('../../scripts/zookeeper.sh', import.meta.url));
const execFileAsync = promisify(execFile);

export interface Ensemble {
  servers: string;
  /** `zookeeper<N> (<mode>)` → PID, for CPU accounting. */
  pids: Record<string, number>;
}

/**
 * Starts the ensemble, stopped by the bench's cleanup. Another ensemble on the machine can
 * take a port between the script's probe and a node's bind, so a failed start is tried
 * again on fresh ports (three tries).
 */
export async function startEnsemble(args: Pick<BenchArgs, 'cleanup' | 'log'>): Promise<Ensemble> {
  args.log('starting a throwaway 3-node ZooKeeper ensemble on loopback (scripts/zookeeper.sh)');
  let stdout = '';
  for (let attempt = 1; ; attempt++) {
    try {
      ({ stdout } = await execFileAsync('bash', [ZOOKEEPER_SCRIPT, 'start', '--nodes', '3'], { timeout: 300_000 }));
      break;
    } catch (err) {
      const reason = ((err as { stderr?: string }).stderr || (err as Error).message).trim();
      if (attempt >= 3) throw new UsageError(`could not start ZooKeeper with scripts/zookeeper.sh: ${reason}`);
      args.log(`scripts/zookeeper.sh start failed (${reason.split('\n')[0]}); trying again`);
    }
  }
  const servers = /^ZK_CONNECT=(.+)$/m.exec(stdout)?.[1];
  const state = /^ZK_STATE=(.+)$/m.exec(stdout)?.[1];
  if (!servers || !state) throw new Error(`scripts/zookeeper.sh start printed no ZK_CONNECT/ZK_STATE:\n${stdout}`);
  args.cleanup.defer(`stop the ZooKeeper ensemble in ${state}`, async () => {
    await execFileAsync('bash', [ZOOKEEPER_SCRIPT, 'stop', state], { timeout: 60_000 });
  });
  const { stdout: status } = await execFileAsync('bash', [ZOOKEEPER_SCRIPT, 'status', state]);
  const pids: Record<string, number> = {};
  for (const line of status.trim().split('\n')) {
    const [node, , pid, mode] = line.split(' ');
    pids[`zookeeper${node} (${mode})`] = Number(pid);
  }
  args.log(`ensemble ${servers}: ${Object.entries(pids).map(([n, pid]) => `${n} pid ${pid}`).join(', ')}`);
  return { servers, pids };
}
