import type { Command } from 'commander';
import { ConfigError } from '../../config/settings.js';
import { clients, printJson, table } from '../client.js';
import { addSettingsFlags } from '../settings-flags.js';

interface SecretInfo {
  name: string;
  source: 'store' | 'config';
  keyId: string | null;
  jobs: string | null;
  updatedAt: number | null;
  updatedBy: string | null;
}

interface RotationReport {
  keyId: string;
  rotated: string[];
  alreadyCurrent: number;
  unreadable: { name: string; keyId: string; reason: string }[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * The value comes from standard input, never from an argument (arguments show in `ps`
 * and shell history). One trailing newline is dropped, so `echo "$X" |` works.
 */
async function readValue(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('secret value (end with Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (value === '') throw new ConfigError('no secret value on standard input: pipe it in, e.g. printf %s "$VALUE" | distci secrets set NAME');
  return value;
}

function checkName(name: string): string {
  if (!NAME.test(name)) throw new ConfigError(`secret name '${name}' is invalid: use letters, digits and _, not starting with a digit (it becomes a variable name)`);
  return name;
}

export function secretsCommand(program: Command): void {
  const secrets = program.command('secrets').description('secrets steps may name: stored sealed (AES-256-GCM), never shown again');

  addSettingsFlags(secrets.command('set').argument('<name>').description('create or replace a secret; the value is read from standard input'), ['server'])
    .option('--jobs <pattern>', 'only steps of jobs matching this glob may receive it, e.g. team-a-*')
    .action(async (name: string, opts: Record<string, string>) => {
      checkName(name);
      const value = await readValue();
      const { client, retry } = clients(opts);
      const res = await client.call<SecretInfo>('PUT', `/api/v1/secrets/${name}`, { value, ...(opts.jobs ? { jobs: opts.jobs } : {}) }, retry);
      process.stdout.write(`secret ${name} ${res.status === 201 ? 'created' : 'updated'} (key ${res.body.keyId}${res.body.jobs ? `, jobs ${res.body.jobs}` : ''})\n`);
      await client.close();
    });

  addSettingsFlags(secrets.command('list').description('list secrets: names and metadata, never values'), ['server'])
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, string>) => {
      const { client, retry } = clients(opts);
      const { body } = await client.call<{ secrets: SecretInfo[]; keys: string[] }>('GET', '/api/v1/secrets', undefined, retry);
      if (opts.json) printJson(body);
      else {
        const rows = [['NAME', 'SOURCE', 'KEY', 'JOBS', 'UPDATED', 'BY']];
        for (const s of body.secrets) {
          rows.push([s.name, s.source, s.keyId ?? '-', s.jobs ?? '*', s.updatedAt ? new Date(s.updatedAt).toISOString() : '-', s.updatedBy ?? '-']);
        }
        process.stdout.write(table(rows));
      }
      await client.close();
    });

  addSettingsFlags(secrets.command('delete').argument('<name>').description('delete a stored secret'), ['server']).action(
    async (name: string, opts: Record<string, string>) => {
      checkName(name);
      const { client, retry } = clients(opts);
      await client.call('DELETE', `/api/v1/secrets/${name}`, undefined, retry);
      process.stdout.write(`secret ${name} deleted\n`);
      await client.close();
    },
  );

  addSettingsFlags(
    secrets.command('rotate').description("re-seal every secret with the frontend's first key, so older keys can be removed (exits 1 if some cannot be read)"),
    ['server'],
  ).action(async (opts: Record<string, string>) => {
    const { client, retry } = clients(opts);
    const { body } = await client.call<RotationReport>('POST', '/api/v1/secrets/rotate', undefined, retry);
    process.stdout.write(`sealed with key ${body.keyId}: ${body.rotated.length} re-sealed, ${body.alreadyCurrent} already current\n`);
    for (const u of body.unreadable) {
      const why = u.reason === 'tampered' ? 'it fails its integrity check; set it again' : `sealed with key ${u.keyId}, which that frontend does not hold`;
      process.stdout.write(`cannot re-seal ${u.name}: ${why}\n`);
    }
    await client.close();
    if (body.unreadable.length > 0) process.exitCode = 1;
  });
}
