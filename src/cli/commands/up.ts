import type { Command } from 'commander';
import { resolve } from 'node:path';
import { BuildsApi } from '../../client/builds-api.js';
import { ensureExampleJob, prepareSampleRepository, runExampleBuild } from '../example.js';
import { addSettingsFlags, settingsFrom } from '../settings-flags.js';
import { startFrontend } from './frontend.js';
import { startWorker } from './worker.js';

/**
 * Single-machine mode: one frontend on the embedded coordinator and workers of every
 * built-in kind, all in this process, state under --data. The workers still talk HTTP
 * to the frontend, exactly as remote workers would.
 */
export function upCommand(program: Command): void {
  const cmd = program.command('up').description('run distci on this machine: frontend, workers of every kind, embedded state');
  addSettingsFlags(cmd, ['data', 'coordinator', 'store', 'host', 'port', 'leaseTtlMs', 'ticketRetentionMs', 'concurrency', 'logLevel', 'publicUrl'])
    .option('--no-example', 'do not run the example build at start')
    .action(async (opts: Record<string, string | boolean>) => {
      const settings = { ...settingsFrom({ concurrency: '4', logLevel: 'warn', ...opts }), noExample: opts.example === false };
      const running = await startFrontend(settings);
      const { worker, client } = startWorker({
        ...settings,
        server: [running.url],
        token: settings.token ?? settings.tokens.find((t) => t.role === 'worker' || t.role === 'admin')?.token,
        kinds: [],
      });
      let stopping = false;
      const stop = (): void => {
        if (stopping) return;
        stopping = true;
        process.stdout.write('stopping: finishing or releasing running tickets...\n');
        void worker
          .stop(settings.graceMs)
          .then(() => client.close())
          .then(() => running.close())
          .then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const builds = new BuildsApi(client);
      await ensureExampleJob(builds, prepareSampleRepository(settings.data));
      process.stdout.write(
        [
          `distci is up: ${running.url}`,
          `  API:        ${running.url}/api/v1  (OpenAPI: ${running.url}/api/v1/openapi.json)`,
          `  data:       ${resolve(settings.data)}`,
          `  workers:    ${settings.concurrency} slots, every built-in kind`,
          '  stop:       Ctrl-C',
          '',
        ].join('\n'),
      );
      if (!settings.noExample) {
        process.stdout.write('running the example job hello (clone the sample project, test, publish)...\n');
        const example = await runExampleBuild(builds);
        const seconds = ((example.finishedAt ?? Date.now()) - example.createdAt) / 1000;
        process.stdout.write(`example build hello#${example.number}: ${example.status} in ${seconds.toFixed(1)} s` +
          ` — console: ${running.url}/api/v1/jobs/hello/builds/${example.number}/console\n`);
      }
    });
}
