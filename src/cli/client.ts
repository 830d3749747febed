import { ApiClient } from '../client/api-client.js';
import { BuildsApi } from '../client/builds-api.js';
import { TicketsApi } from '../client/tickets-api.js';
import { settingsFrom } from './settings-flags.js';

/** Clients for a command: people get a quick answer, retrying other frontends for 10 s. */
export function clients(opts: Record<string, string>) {
  const settings = settingsFrom(opts);
  const client = new ApiClient({ servers: settings.server, timeoutMs: 10_000, ...(settings.token ? { token: settings.token } : {}) });
  return { client, builds: new BuildsApi(client), tickets: new TicketsApi(client), retry: { retryUntil: Date.now() + 10_000 } };
}

export const printJson = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

export function duration(from: number | null, to: number | null): string {
  if (from === null) return '-';
  const ms = (to ?? Date.now()) - from;
  return ms < 1000 ? `${ms}ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}
