import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConfigError } from '../../config/settings.js';
import { parseJobConfig } from '../../core/jobs/job-config.js';
import { clients, duration, printJson, table } from '../client.js';
import { addSettingsFlags } from '../settings-flags.js';

export function jobCommand(program: Command): void {
  const job = program.command('job').description('apply, list, show and delete job configs');

  addSettingsFlags(job.command('apply').argument('<file>', 'YAML or JSON job config').description('create or update a job from a file'), ['server'])
    .option('--name <job>', 'job name (default: the id in the file)')
    .option('--if-match <version>', 'only if the job is at this version (0: it must not exist yet)')
    .action(async (file: string, opts: Record<string, string>) => {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        throw new ConfigError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const format = file.endsWith('.json') ? 'json' : 'yaml';
      // Validate here first: mistakes are shown before anything is sent.
      const config = parseJobConfig(text, format, opts.name);
      const { builds, client, retry } = clients(opts);
      const ifMatch = opts.ifMatch === undefined ? {} : { ifMatch: Number(opts.ifMatch) };
      const { job: applied, created } = await builds.applyJob(config.id, text, format, { ...retry, ...ifMatch });
      process.stdout.write(`job ${applied.id} ${created ? 'created' : 'updated'}: version ${applied.version}\n`);
      await client.close();
    });

  addSettingsFlags(job.command('list').description('list jobs with their last build'), ['server'])
    .option('--q <text>', 'only jobs whose name or description contains this')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, string>) => {
      const { builds, client, retry } = clients(opts);
      const page = await builds.listJobs({ limit: Number(opts.limit), ...(opts.q ? { q: opts.q } : {}) }, retry);
      if (opts.json) printJson(page);
      else {
        const rows = [['JOB', 'VERSION', 'LAST BUILD', 'STATUS', 'DURATION']];
        for (const j of page.jobs) {
          const b = j.lastBuild;
          rows.push([j.id, String(j.version), b ? `#${b.number}` : '-', b?.status ?? '-', b ? duration(b.createdAt, b.finishedAt) : '-']);
        }
        process.stdout.write(table(rows));
      }
      await client.close();
    });

  addSettingsFlags(job.command('show').argument('<job>').description("show a job's config"), ['server'])
    .option('--version <n>', 'an earlier version, as it was applied')
    .action(async (name: string, opts: Record<string, string>) => {
      const { builds, client, retry } = clients(opts);
      if (opts.version) process.stdout.write((await builds.getJobVersion(name, Number(opts.version), retry)).source);
      else printJson(await builds.getJob(name, retry));
      await client.close();
    });

  addSettingsFlags(job.command('delete').argument('<job>').description('delete a job (its builds stay readable)'), ['server']).action(
    async (name: string, opts: Record<string, string>) => {
      const { builds, client, retry } = clients(opts);
      await builds.deleteJob(name, retry);
      process.stdout.write(`job ${name} deleted\n`);
      await client.close();
    },
  );
}
