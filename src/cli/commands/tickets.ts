import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { TicketsApi } from '../../client/tickets-api.js';
import { ConfigError } from '../../config/settings.js';
import type { Ticket, TicketStatus } from '../../core/ticket.js';
import { clients, printJson as print } from '../client.js';
import { addSettingsFlags } from '../settings-flags.js';

function api(opts: Record<string, string>): TicketsApi {
  return clients(opts).tickets;
}

const retry = { retryUntil: Date.now() + 10_000 };

function row(t: Ticket): string {
  const lease = t.lease ? `${t.lease.holder}#${t.lease.token}` : '-';
  const outcome = t.result?.outcome ?? '-';
  return [t.id.padEnd(8), t.kind.padEnd(18), t.status.padEnd(8), String(t.attempt).padEnd(4), lease.padEnd(24), outcome].join(' ');
}

export function ticketsCommand(program: Command): void {
  const tickets = program.command('tickets').description('look at and post tickets');

  addSettingsFlags(tickets.command('list').description('list tickets, oldest first'), ['server'])
    .option('--status <status>', 'pending, leased or done')
    .option('--kind <kind>', 'only this kind')
    .option('--job <job>', 'only tickets of this job')
    .option('--limit <n>', 'at most this many (1-1000)', '100')
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, string>) => {
      const client = api(opts);
      const page = await client.list(
        { status: opts.status as TicketStatus | undefined, kind: opts.kind, job: opts.job, limit: Number(opts.limit) },
        retry,
      );
      if (opts.json) print(page);
      else {
        process.stdout.write(`${['ID'.padEnd(8), 'KIND'.padEnd(18), 'STATUS'.padEnd(8), 'TRY'.padEnd(4), 'LEASE'.padEnd(24), 'OUTCOME'].join(' ')}\n`);
        for (const t of page.tickets) process.stdout.write(`${row(t)}\n`);
      }
      await client.client.close();
    });

  addSettingsFlags(tickets.command('show').argument('<id>').description('show one ticket as JSON'), ['server']).action(
    async (id: string, opts: Record<string, string>) => {
      const client = api(opts);
      print(await client.get(id, retry));
      await client.client.close();
    },
  );

  addSettingsFlags(tickets.command('post').description('post a ticket'), ['server'])
    .requiredOption('--kind <kind>', 'worker kind that serves it')
    .option('--labels <l1,l2>', 'capabilities the worker must offer')
    .option('--payload <json>', 'payload as JSON', 'null')
    .option('--priority <n>', 'higher runs first', '0')
    .option('--max-attempts <n>', 'leases that may expire before the ticket ends as worker_lost', '3')
    .option('--idempotency-key <key>', 'a retry with the same key returns the same ticket (default: a new one)')
    .action(async (opts: Record<string, string>) => {
      let payload: unknown;
      try {
        payload = JSON.parse(opts.payload ?? 'null');
      } catch {
        throw new ConfigError('--payload must be JSON, e.g. --payload \'{"script":"make test"}\'');
      }
      const client = api(opts);
      const { ticket } = await client.post(
        {
          kind: opts.kind!,
          labels: opts.labels ? opts.labels.split(',') : [],
          payload,
          priority: Number(opts.priority),
          maxAttempts: Number(opts.maxAttempts),
          idempotencyKey: opts.idempotencyKey ?? randomUUID(),
        },
        retry,
      );
      print(ticket);
      await client.client.close();
    });
}
