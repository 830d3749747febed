/**
 * The deployment the scale benchmark measures, as real processes: one or two
 * `distci frontend`s sharing one backend — the embedded SQLite file of one data dir, or a
 * fresh root on a throwaway 3-node ZooKeeper ensemble (scripts/zookeeper.sh) with a
 * shared `file:` store — and `distci worker` processes with many slots each. Every
 * process and the ensemble are registered with the bench's cleanup by PID before they
 * can fail, so an error or Ctrl-C stops them.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { defaultCoordinatorUrl } from '../../src/coordination/open.js';
import type { Proc } from '../../src/harness/processes.js';
import { defaultStoreUrl } from '../../src/storage/open.js';
import { expectStatus, requestJson, sleep, startDistci, type BenchArgs } from '../common.js';
import { startEnsemble, type Ensemble } from '../zookeeper-ensemble.js';
import { merge, scrape, sumOf, type Scrape } from './observe.js';

export type Backend = 'sqlite' | 'zookeeper';

export interface Deployment {
  backend: Backend;
  dir: string;
  /** The URLs the frontends were given, for in-process access to the same state. */
  coordinatorUrl: string;
  storeUrl: string;
  urls: string[];
  /** One pool per frontend, for the bench's own requests (registration, scrapes). */
  pools: Pool[];
  frontends: Proc[];
  workers: Proc[];
  /** ZooKeeper nodes (when the bench started the ensemble), by name. */
  zookeeper: Record<string, number>;
  /** Starts `count` more worker processes of `slots` slots each. */
  addWorkers(count: number, slots: number): Promise<void>;
  /** Every process worth metering, by name. */
  pids(): Record<string, number>;
  /** The frontends' metrics, summed. */
  scrape(): Promise<Scrape>;
  stop(): Promise<void>;
}

export interface DeploymentPlan {
  name: string;
  backend: Backend;
  frontends: number;
  workers: number;
  /** Slots per worker process (`--concurrency`). */
  slots: number;
  /** Lease TTL given to workers (frontend `--lease-ttl-ms`). */
  leaseTtlMs?: number;
  /** Extra environment for the frontends and workers (profiling). */
  profileEnv?: NodeJS.ProcessEnv;
}


let ensemble: Promise<Ensemble> | null = null;

/** One throwaway 3-node ensemble per bench run, started on first use, stopped by the cleanup. */
function sharedEnsemble(args: Pick<BenchArgs, 'cleanup' | 'log'>): Promise<Ensemble> {
  ensemble ??= startEnsemble(args);
  return ensemble;
}

/** Settings from the caller's environment must not change what is measured. */
function childEnv(tmp: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { TMPDIR: tmp, ...extra };
  for (const name of Object.keys(process.env)) if (name.startsWith('DISTCI_') && !(name in env)) env[name] = '';
  return env;
}

export async function startDeployment(args: Pick<BenchArgs, 'cleanup' | 'log'>, plan: DeploymentPlan): Promise<Deployment> {
  const dir = await args.cleanup.tempDir(`distci-scale-${plan.name}-`);
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const data = join(dir, 'data');
  let coordinatorUrl = defaultCoordinatorUrl(data);
  const storeUrl = defaultStoreUrl(data);
  let zookeeper: Record<string, number> = {};
  if (plan.backend === 'zookeeper') {
    const zk = await sharedEnsemble(args);
    zookeeper = zk.pids;
    coordinatorUrl = `zookeeper://${zk.servers}/distci-scale-${plan.name}-${randomBytes(4).toString('hex')}`;
  }
  const backendArgv = ['--data', data, '--coordinator', coordinatorUrl, '--store', storeUrl];
  const frontends: Proc[] = [];
  const urls: string[] = [];
  for (let i = 0; i < plan.frontends; i++) {
    const argv = ['frontend', '--port', '0', '--log-level', 'warn', ...backendArgv];
    if (plan.leaseTtlMs !== undefined) argv.push('--lease-ttl-ms', String(plan.leaseTtlMs));
    const { proc, match } = await startDistci(args, `frontend ${i + 1} (${plan.name})`, argv, childEnv(tmp, plan.profileEnv), /listening on (http:\/\/\S+)/);
    frontends.push(proc);
    urls.push(match![1]!);
  }
  const pools = urls.map((url) => {
    const pool = new Pool(url, { connections: 32, pipelining: 1, keepAliveTimeout: 60_000 });
    args.cleanup.defer(`close the pool to ${url}`, () => pool.close());
    return pool;
  });
  const workers: Proc[] = [];
  const addWorkers = async (count: number, slots: number): Promise<void> => {
    for (let k = 0; k < count; k++) {
      const i = workers.length;
      // Each worker lists the frontends starting at a different one, to spread the claims.
      const servers = urls.map((_, j) => urls[(i + j) % urls.length]!).join(',');
      const argv = ['worker', '--server', servers, '--concurrency', String(slots), '--log-level', 'warn', '--worker-id', `scale-worker-${i + 1}`];
      const { proc } = await startDistci(args, `worker ${i + 1} (${plan.name})`, argv, childEnv(tmp, plan.profileEnv));
      workers.push(proc);
    }
    await waitParked(d, workers.length);
  };
  const d: Deployment = {
    backend: plan.backend,
    dir,
    coordinatorUrl,
    storeUrl,
    urls,
    pools,
    frontends,
    workers,
    zookeeper,
    addWorkers,
    pids: () => ({
      ...Object.fromEntries(frontends.map((p, i) => [`frontend${i + 1}`, p.pid])),
      ...Object.fromEntries(workers.map((p, i) => [`worker${i + 1}`, p.pid])),
      ...zookeeper,
    }),
    scrape: async () => merge(await Promise.all(pools.map((p) => scrape(p)))),
    stop: async () => {
      await Promise.all([...workers, ...frontends].map((p) => p.stop(5_000)));
    },
  };
  await addWorkers(plan.workers, plan.slots);
  args.log(
    `${plan.name}: ${plan.backend}, frontends ${urls.join(' ')} (pids ${frontends.map((p) => p.pid).join(', ')}), ` +
      `${plan.workers} worker(s) × ${plan.slots} slots (pids ${workers.map((p) => p.pid).join(', ')})`,
  );
  return d;
}

/**
 * Waits until the workers are ready: their claims are parked on the frontends. A worker
 * parks one claim per idle slot, or (multi-ticket claims) one claim for all of them, so
 * this waits for at least one per worker and then for the count to stop growing.
 */
async function waitParked(d: Deployment, workers: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    const parked = sumOf(await d.scrape(), 'distci_claims_parked');
    if (parked !== last) {
      last = parked;
      stableSince = Date.now();
    }
    if (parked >= workers && Date.now() - stableSince >= 1000) return;
    if (Date.now() > deadline) throw new Error(`only ${parked} claims parked for ${workers} workers after 60 s`);
    await sleep(200);
  }
}

// --- jobs --------------------------------------------------------------------------------

/** A git repository with a README and the one file the publish step publishes. */
export function makeRepository(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'README.md'), '# scale benchmark project\n');
  writeFileSync(join(dir, 'artifact.txt'), 'x'.repeat(1024));
  const env = { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@localhost', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@localhost' };
  for (const argv of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'bench project']]) execFileSync('git', argv, { cwd: dir, env, stdio: 'ignore' });
  return dir;
}

export const jobName = (i: number): string => `scale-${String(i).padStart(5, '0')}`;

/** The measured job: checkout, a shell step sleeping `$SLEEP` seconds, publish one file. */
export const scaleJob = (id: string, repo: string): Record<string, unknown> => ({
  id,
  parameters: { SLEEP: { default: '1', description: 'seconds the shell step sleeps' } },
  steps: [
    { name: 'checkout', type: 'git-checkout', params: { repository: repo, dir: 'src' } },
    { name: 'work', type: 'execute-shell', params: { script: 'sleep "$SLEEP"' } },
    { name: 'publish', type: 'publish-artifacts', params: { paths: ['src/artifact.txt'] } },
  ],
});

/** The jobs that hold the seeded finished builds: one shell step. */
export const seedJob = (id: string): Record<string, unknown> => ({
  id,
  steps: [{ name: 'work', type: 'execute-shell', params: { script: 'true' } }],
});

/**
 * PUTs the jobs, `inFlight` at once spread over the frontends, retrying 503s (retryable
 * by contract, e.g. SQLITE_BUSY) as every distci client does; returns seconds taken and
 * how many PUTs were answered 503.
 */
export async function registerJobs(d: Deployment, configs: (i: number) => Record<string, unknown>, count: number, inFlight = 32): Promise<{ seconds: number; retried: number }> {
  const started = performance.now();
  let next = 0;
  let retried = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, lane) => {
      const pool = d.pools[lane % d.pools.length]!;
      while (next < count) {
        const config = configs(next++);
        for (let attempt = 1; ; attempt++) {
          const answer = await requestJson(pool, 'PUT', `/api/v1/jobs/${String(config.id)}`, config);
          if (answer.status === 503 && attempt < 10) {
            retried++;
            await sleep(100 * attempt);
            continue;
          }
          expectStatus(`apply job ${String(config.id)}`, answer, 200, 201);
          break;
        }
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, retried };
}
