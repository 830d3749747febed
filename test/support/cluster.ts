import { readFileSync } from 'node:fs';
import { ApiClient } from '../../src/client/api-client.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import { drain, spawnDistci, startFrontendProc, stopAll, type FrontendProc, type Proc } from '../../src/harness/processes.js';
import { tempDir } from './embedded.js';

/** Frontend and worker processes on one shared data directory, stopped together. */
export class LocalCluster {
  readonly frontends: FrontendProc[] = [];
  readonly workers: Proc[] = [];
  private readonly clients: ApiClient[] = [];

  private constructor(readonly dir: string, private readonly removeDir: () => Promise<void>) {}

  static async start(frontends: number, frontendArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<LocalCluster> {
    const dir = await tempDir('distci-cluster-');
    const cluster = new LocalCluster(dir.path, dir.remove);
    try {
      for (let i = 0; i < frontends; i++) cluster.frontends.push(await startFrontendProc(['--data', dir.path, ...frontendArgs], env));
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get urls(): string[] {
    return this.frontends.map((f) => f.url);
  }

  startWorker(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    const proc = spawnDistci(['worker', '--server', this.urls.join(','), '--claim-wait-ms', '5000', ...args], env);
    drain(proc);
    this.workers.push(proc);
    return proc;
  }

  api(servers = this.urls): TicketsApi {
    const client = new ApiClient({ servers, baseBackoffMs: 10, maxBackoffMs: 200 });
    this.clients.push(client);
    return new TicketsApi(client);
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
    await stopAll([...this.workers, ...this.frontends]);
    await this.removeDir();
  }
}

/** Lines of a side-effect file, or none when it does not exist yet. */
export function lines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** How many times each line occurs. */
export function tally(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}
