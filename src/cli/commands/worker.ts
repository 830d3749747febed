import type { Command } from 'commander';
import { ApiClient } from '../../client/api-client.js';
import { BuildsApi } from '../../client/builds-api.js';
import { StepApi } from '../../client/step-api.js';
import { TicketsApi } from '../../client/tickets-api.js';
import { ConfigError, type Settings } from '../../config/settings.js';
import { createLogger } from '../../log.js';
import { COMMIT_STATUS_KIND } from '../../core/builds/commit-status.js';
import { buildControl } from '../../worker/kinds/build-control.js';
import { commitStatus } from '../../worker/kinds/commit-status/index.js';
import { builtinKinds, type KindsOptions } from '../../worker/kinds/index.js';
import { Worker, type TicketHandler } from '../../worker/runtime.js';
import { probeBwrap, type SandboxConfig } from '../../worker/sandbox/index.js';
import { addSettingsFlags, settingsFrom } from '../settings-flags.js';

/** Every kind a worker process can serve: the pipeline's build-control and commit-status, and the step kinds. */
export function allKinds(client: ApiClient, options: Omit<KindsOptions, 'api'> & { publicUrl?: string }): Record<string, TicketHandler> {
  const { publicUrl = client.servers[0]!, ...stepOptions } = options;
  const builds = new BuildsApi(client);
  const tickets = new TicketsApi(client);
  const steps = new StepApi(client);
  return {
    'build-control': buildControl({ builds, tickets }),
    [COMMIT_STATUS_KIND]: commitStatus({ builds, tickets, secrets: steps, publicUrl }),
    ...builtinKinds({ ...stepOptions, api: steps }),
  };
}

/** Picks the handlers for `--kinds` (every kind when none are named). */
export function selectHandlers(kinds: string[], all: Record<string, TicketHandler>): Record<string, TicketHandler> {
  if (kinds.length === 0) return all;
  const chosen: Record<string, TicketHandler> = {};
  for (const kind of kinds) {
    const handler = all[kind];
    if (!handler) throw new ConfigError(`unknown worker kind '${kind}': choose from ${Object.keys(all).join(', ')}`);
    chosen[kind] = handler;
  }
  return chosen;
}

/** The sandbox settings as the step kinds take them. */
export function sandboxConfig(settings: Settings): SandboxConfig {
  if (settings.sandbox === 'off') return { mode: 'off' };
  const memoryBytes = settings.sandboxMemoryMb * 1024 * 1024;
  return {
    mode: 'bwrap',
    network: settings.sandboxNetwork === 'allow',
    uid: settings.sandboxUid,
    limits: { memoryBytes, processes: settings.sandboxProcesses, tmpBytes: memoryBytes },
  };
}

/** Refuses to start a worker whose sandbox cannot work here, in one line saying why. */
export async function checkSandbox(settings: Settings): Promise<void> {
  const config = sandboxConfig(settings);
  if (config.mode === 'off') return;
  const problem = await probeBwrap(config);
  if (problem) throw new ConfigError(`--sandbox bwrap: ${problem}`);
}

export function startWorker(settings: Settings): { worker: Worker; client: ApiClient } {
  const log = createLogger(settings.logLevel, { component: 'worker', workerId: settings.workerId });
  const client = new ApiClient({ servers: settings.server, ...(settings.token ? { token: settings.token } : {}) });
  const kindsOptions = {
    log,
    sandbox: sandboxConfig(settings),
    maxStepOutputBytes: settings.maxStepOutputBytes,
    ...(settings.publicUrl ? { publicUrl: settings.publicUrl } : {}),
  };
  const handlers = selectHandlers(settings.kinds, allKinds(client, kindsOptions));
  const worker = new Worker({
    api: new TicketsApi(client),
    workerId: settings.workerId,
    handlers,
    labels: settings.labels,
    concurrency: settings.concurrency,
    claimWaitMs: settings.claimWaitMs,
    log,
  });
  worker.start();
  log.info({ kinds: Object.keys(handlers), servers: settings.server, concurrency: settings.concurrency, sandbox: settings.sandbox }, 'worker started');
  return { worker, client };
}

export function workerCommand(program: Command): void {
  const cmd = program.command('worker').description('pull tickets from the frontends and work on them');
  const flags: (keyof Settings)[] = ['server', 'kinds', 'labels', 'concurrency', 'workerId', 'claimWaitMs', 'graceMs', 'logLevel', 'publicUrl'];
  const limits: (keyof Settings)[] = ['sandbox', 'sandboxNetwork', 'sandboxUid', 'sandboxMemoryMb', 'sandboxProcesses', 'maxStepOutputBytes'];
  addSettingsFlags(cmd, [...flags, ...limits]).action(
    async (opts: Record<string, string>) => {
      const settings = settingsFrom(opts);
      await checkSandbox(settings);
      const { worker, client } = startWorker(settings);
      const stop = (): void => {
        void worker
          .stop(settings.graceMs)
          .then(() => client.close())
          .then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
  );
}
