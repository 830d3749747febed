import type { Command } from 'commander';
import { clients, printJson, table } from '../client.js';
import { addSettingsFlags } from '../settings-flags.js';

interface AuditEntry {
  seq: number;
  at: number;
  action: string;
  actor: { name: string; role: string };
  job?: string;
  build?: number;
  secret?: string;
  frontend: string;
}

function target(e: AuditEntry): string {
  if (e.secret) return `secret ${e.secret}`;
  if (e.job) return e.build ? `${e.job}#${e.build}` : e.job;
  return '-';
}

export function auditCommand(program: Command): void {
  const audit = program.command('audit').description('the audit log: who triggered, cancelled, changed or deleted what');

  addSettingsFlags(audit.command('list').description('audit entries, oldest first'), ['server'])
    .option('--after <seq>', 'only entries after this sequence number')
    .option('--limit <n>', 'at most this many (1-1000)', '100')
    .option('--job <job>', 'only entries about this job')
    .option('--actor <name>', 'only entries made with this token (its configured name)')
    .option('--action <action>', 'only this action, e.g. build.trigger or secret.set')
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, string>) => {
      const query = new URLSearchParams();
      for (const key of ['after', 'limit', 'job', 'actor', 'action']) if (opts[key] !== undefined) query.set(key, opts[key]);
      const { client, retry } = clients(opts);
      const { body } = await client.call<{ entries: AuditEntry[]; next: number | null }>('GET', `/api/v1/audit?${query}`, undefined, retry);
      if (opts.json) printJson(body);
      else {
        const rows = [['SEQ', 'TIME', 'ACTOR', 'ACTION', 'TARGET', 'FRONTEND']];
        for (const e of body.entries) rows.push([String(e.seq), new Date(e.at).toISOString(), `${e.actor.name} (${e.actor.role})`, e.action, target(e), e.frontend]);
        process.stdout.write(table(rows));
        if (body.next !== null) process.stdout.write(`more: --after ${body.next}\n`);
      }
      await client.close();
    });
}
