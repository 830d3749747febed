/**
 * Starts a throwaway ZooKeeper through scripts/zookeeper.sh, for tests and benchmarks.
 * Another ensemble starting on the machine at the same moment can take a port between the
 * script's probe and a node's bind; the script then fails and stops what it started, so a
 * failed start is tried again on fresh ports (three tries in all).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ZOOKEEPER_SCRIPT = fileURLToPath(new URL('../../../scripts/zookeeper.sh', import.meta.url));
const run = promisify(execFile);

export interface StartedZookeeper {
  /** host:port,host:port,... */
  servers: string;
  /** The state directory the script's other commands take. */
  state: string;
}

export class ZookeeperStartError extends Error {}

export interface StartOptions {
  /** Told why a try failed before the next one. */
  onRetry?: (reason: string) => void;
  tries?: number;
  /** The start script; tests of this function substitute their own. */
  script?: string;
}

export async function startZookeeper(nodes: number, options: StartOptions = {}): Promise<StartedZookeeper> {
  const { onRetry = () => {}, tries = 3, script = ZOOKEEPER_SCRIPT } = options;
  let stdout = '';
  for (let attempt = 1; ; attempt++) {
    try {
      ({ stdout } = await run('bash', [script, 'start', '--nodes', String(nodes)], { timeout: 300_000 }));
      break;
    } catch (err) {
      const reason = ((err as { stderr?: string }).stderr || (err as Error).message).trim();
      // Not installed and cannot be installed: trying again changes nothing.
      if (attempt >= tries || /not installed|still missing/.test(reason)) {
        throw new ZookeeperStartError(`could not start a ${nodes}-node ZooKeeper with scripts/zookeeper.sh: ${reason}`);
      }
      onRetry(reason);
    }
  }
  const servers = /^ZK_CONNECT=(.+)$/m.exec(stdout)?.[1];
  const state = /^ZK_STATE=(.+)$/m.exec(stdout)?.[1];
  if (!servers || !state) throw new Error(`scripts/zookeeper.sh start printed no ZK_CONNECT/ZK_STATE:\n${stdout}`);
  return { servers, state };
}
