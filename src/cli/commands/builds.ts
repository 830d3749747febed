import type { Command } from 'commander';
import type { ApiClient } from '../../client/api-client.js';
import type { BuildsApi } from '../../client/builds-api.js';
import { renderText, type ConsoleEvent } from '../../core/builds/console-events.js';
import type { BuildRecord } from '../../core/builds/build.js';
import { ConfigError } from '../../config/settings.js';
import { clients, duration, printJson, table } from '../client.js';
import { addSettingsFlags } from '../settings-flags.js';

/** Streams a build's console (Server-Sent Events) to stdout; resolves with the final status. */
async function follow(client: ApiClient, builds: BuildsApi, job: string, number: number): Promise<BuildRecord['status']> {
  const body = await client.download(`/api/v1/jobs/${encodeURIComponent(job)}/builds/${number}/console?follow=1`, { holdMs: 24 * 3600_000 });
  const state = {};
  let buffer = '';
  for await (const chunk of body) {
    buffer += (chunk as Buffer).toString('utf8');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = message.split('\n').find((l) => l.startsWith('data: '));
      if (!data) continue;
      const event = JSON.parse(data.slice(6)) as ConsoleEvent;
      process.stdout.write(renderText(event, state));
      if (event.type === 'end') return event.status;
    }
  }
  // The stream ended early (frontend went away): report what the build says now.
  return (await builds.getBuild(job, number)).status;
}

function parseParams(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const at = v.indexOf('=');
    if (at <= 0) throw new ConfigError(`-p ${v}: give parameters as NAME=value`);
    out[v.slice(0, at)] = v.slice(at + 1);
  }
  return out;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function parseNumber(n: string): number {
  if (!/^[1-9][0-9]*$/.test(n)) throw new ConfigError(`build number '${n}' must be a positive whole number`);
  return Number(n);
}

export function buildCommand(program: Command): void {
  const build = program.command('build').description('trigger, list, show, follow and cancel builds');

  addSettingsFlags(build.command('trigger').argument('<job>').description('trigger a build'), ['server'])
    .option('-p, --param <NAME=value>', 'build parameter (repeatable)', collect, [])
    .option('--follow', 'stream the console until the build ends; exit 1 unless it succeeded')
    .action(async (job: string, opts: Record<string, string> & { param: string[] }) => {
      const { builds, client, retry } = clients(opts);
      const { build: b } = await builds.trigger(job, { parameters: parseParams(opts.param), cause: { kind: 'cli' }, idempotencyKey: `cli-${process.pid}-${Date.now()}` }, retry);
      process.stdout.write(`build ${job}#${b.number} ${b.status}\n`);
      if (opts.follow) {
        const status = await follow(client, builds, job, b.number);
        await client.close();
        process.exitCode = status === 'success' ? 0 : 1;
        return;
      }
      await client.close();
    });

  addSettingsFlags(build.command('list').argument('<job>').description('list builds, newest first'), ['server'])
    .option('--limit <n>', 'at most this many', '20')
    .option('--json', 'print JSON')
    .action(async (job: string, opts: Record<string, string>) => {
      const { builds, client, retry } = clients(opts);
      const page = await builds.listBuilds(job, { limit: Number(opts.limit) }, retry);
      if (opts.json) printJson(page);
      else {
        const rows = [['BUILD', 'STATUS', 'TRIGGER', 'STARTED', 'DURATION']];
        for (const b of page.builds) {
          rows.push([`#${b.number}`, b.status, `${b.trigger.kind}:${b.trigger.by}`, b.startedAt ? new Date(b.startedAt).toISOString() : '-', duration(b.startedAt, b.finishedAt)]);
        }
        process.stdout.write(table(rows));
      }
      await client.close();
    });

  addSettingsFlags(build.command('show').argument('<job>').argument('<number>').description('show a build: steps, attempts, timings'), ['server'])
    .option('--json', 'print JSON')
    .action(async (job: string, n: string, opts: Record<string, string>) => {
      const { builds, client, retry } = clients(opts);
      const b = await builds.getBuild(job, parseNumber(n), retry);
      if (opts.json) printJson(b);
      else {
        process.stdout.write(`${job}#${b.number}: ${b.status} (config v${b.configVersion}, ${b.trigger.kind} by ${b.trigger.by}, ${duration(b.startedAt, b.finishedAt)})\n`);
        const rows = [['STEP', 'STATUS', 'ATTEMPTS', 'WORKER', 'DURATION', 'TICKET']];
        for (const s of b.steps) {
          rows.push([s.name, s.status + (s.code && s.status !== 'success' ? ` (${s.code})` : ''), String(s.attempts.length), s.attempts.at(-1)?.worker ?? '-', duration(s.startedAt, s.finishedAt), s.ticketId ?? '-']);
        }
        process.stdout.write(table(rows));
        if (b.downstream.length) process.stdout.write(`downstream: ${b.downstream.join(', ')}\n`);
      }
      await client.close();
    });

  addSettingsFlags(build.command('logs').argument('<job>').argument('<number>').description("print a build's console"), ['server'])
    .option('--follow', 'stream it live until the build ends')
    .action(async (job: string, n: string, opts: Record<string, string>) => {
      const { builds, client, retry } = clients(opts);
      if (opts.follow) await follow(client, builds, job, parseNumber(n));
      else process.stdout.write(await builds.console(job, parseNumber(n), retry));
      await client.close();
    });

  addSettingsFlags(build.command('cancel').argument('<job>').argument('<number>').description('cancel a build'), ['server']).action(
    async (job: string, n: string, opts: Record<string, string>) => {
      const { builds, client, retry } = clients(opts);
      const b = await builds.cancelBuild(job, parseNumber(n), retry);
      process.stdout.write(`build ${job}#${b.number}: cancel requested (${b.status})\n`);
      await client.close();
    },
  );
}
