/** A throwaway 3-node ZooKeeper ensemble on loopback for benchmarks (scripts/zookeeper.sh). */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startZookeeper, ZOOKEEPER_SCRIPT, ZookeeperStartError, type StartedZookeeper } from '../src/harness/zookeeper-script.js';
import { UsageError, type BenchArgs } from './common.js';

const execFileAsync = promisify(execFile);

export interface Ensemble {
  servers: string;
  /** `zookeeper<N> (<mode>)` → PID, for CPU accounting. */
  pids: Record<string, number>;
}

/** Starts the ensemble (tried again on fresh ports after a port race), stopped by the bench's cleanup. */
export async function startEnsemble(args: Pick<BenchArgs, 'cleanup' | 'log'>): Promise<Ensemble> {
  args.log('starting a throwaway 3-node ZooKeeper ensemble on loopback (scripts/zookeeper.sh)');
  let started: StartedZookeeper;
  try {
    started = await startZookeeper(3, { onRetry: (reason) => args.log(`scripts/zookeeper.sh start failed (${reason.split('\n')[0]}); trying again`) });
  } catch (err) {
    throw err instanceof ZookeeperStartError ? new UsageError(err.message) : err;
  }
  const { servers, state } = started;
  const pids: Record<string, number> = {};
  args.cleanup.defer(`stop the ZooKeeper ensemble in ${state}`, async () => {
    // A node that died during the run is reported, and the logs are kept to find out why.
    const dead = Object.entries(pids).filter(([, pid]) => !alive(pid));
    for (const [name] of dead) {
      const log = join(state, `node${/\d+/.exec(name)![0]}`, 'out.log');
      const tail = await readFile(log, 'utf8').then((text) => text.trim().split('\n').slice(-15).join('\n'), () => '(no log)');
      args.log(`${name} died during the run; its log ${log} ends:\n${tail}`);
    }
    await execFileAsync('bash', [ZOOKEEPER_SCRIPT, 'stop', state, ...(dead.length > 0 ? ['keep-logs'] : [])], { timeout: 60_000 });
  });
  const { stdout: status } = await execFileAsync('bash', [ZOOKEEPER_SCRIPT, 'status', state]);
  for (const line of status.trim().split('\n')) {
    const [node, , pid, mode] = line.split(' ');
    pids[`zookeeper${node} (${mode})`] = Number(pid);
  }
  args.log(`ensemble ${servers}: ${Object.entries(pids).map(([n, pid]) => `${n} pid ${pid}`).join(', ')}`);
  return { servers, pids };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
