import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { JOB_PATTERN, ROLES, tokenProblems, type TokenConfig } from '../frontend/auth.js';

const Strings = Type.Array(Type.String({ minLength: 1 }));

/** Every setting of every command, validated once at start-up. */
export const SettingsSchema = Type.Object(
  {
    data: Type.String({ minLength: 1 }),
    coordinator: Type.Optional(Type.String({ pattern: '^(sqlite:|zookeeper://)' })),
    store: Type.Optional(Type.String({ pattern: '^(file:|s3://)' })),
    maxUploadBytes: Type.Integer({ minimum: 1024 }),
    secrets: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' }), Type.String()),
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    leaseTtlMs: Type.Integer({ minimum: 100, maximum: 300_000 }),
    maxWaitMs: Type.Integer({ minimum: 0, maximum: 120_000 }),
    sweepMs: Type.Integer({ minimum: 10, maximum: 60_000 }),
    ticketRetentionMs: Type.Integer({ minimum: 1_000 }),
    bodyLimit: Type.Integer({ minimum: 1024, maximum: 1024 ** 3 }),
    tokens: Type.Array(
      Type.Object(
        {
          name: Type.String({ minLength: 1 }),
          role: Type.Union(ROLES.map((r) => Type.Literal(r))),
          /** The token, or its digest `sha256:<64 hex digits>` so the plaintext need not be on disk. */
          token: Type.String({ minLength: 16 }),
          /** Limits the token to jobs whose names match this glob, e.g. `team-a-*`. */
          jobs: Type.Optional(Type.String({ pattern: JOB_PATTERN })),
        },
        { additionalProperties: false },
      ),
    ),
    /** Secrets keys (32 bytes each, base64; the first seals, all open), separated by commas. */
    secretsKey: Type.Optional(Type.String({ minLength: 1 })),
    /** A file holding the secrets keys, one per line, the first sealing. */
    secretsKeyFile: Type.Optional(Type.String({ minLength: 1 })),
    logLevel: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
    server: Strings,
    /** Base URL of the web UI as people reach it; commit statuses link to builds under it. */
    publicUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
    token: Type.Optional(Type.String({ minLength: 1 })),
    kinds: Strings,
    labels: Type.Array(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._=-]{0,63}$' })),
    concurrency: Type.Integer({ minimum: 1, maximum: 1024 }),
    workerId: Type.String({ minLength: 1 }),
    claimWaitMs: Type.Integer({ minimum: 0, maximum: 120_000 }),
    graceMs: Type.Integer({ minimum: 0 }),
    sandbox: Type.Union([Type.Literal('off'), Type.Literal('bwrap')]),
    sandboxNetwork: Type.Union([Type.Literal('allow'), Type.Literal('none')]),
    sandboxUid: Type.Integer({ minimum: 1, maximum: 4_294_967_294 }),
    sandboxMemoryMb: Type.Integer({ minimum: 64, maximum: 16 * 1024 * 1024 }),
    sandboxProcesses: Type.Integer({ minimum: 8, maximum: 4_194_304 }),
    maxStepOutputBytes: Type.Integer({ minimum: 1024 }),
  },
  { additionalProperties: false },
);
export type Settings = Static<typeof SettingsSchema>;

export const DEFAULTS: Settings = {
  data: './.distci',
  host: '127.0.0.1',
  port: 8080,
  leaseTtlMs: 10_000,
  maxWaitMs: 60_000,
  sweepMs: 1_000,
  ticketRetentionMs: 24 * 3_600_000,
  bodyLimit: 1024 * 1024,
  maxUploadBytes: 4 * 1024 ** 3,
  secrets: {},
  tokens: [],
  logLevel: 'info',
  server: ['http://127.0.0.1:8080'],
  kinds: [],
  labels: [],
  concurrency: 1,
  workerId: `${hostname()}-${process.pid}`,
  claimWaitMs: 30_000,
  graceMs: 10_000,
  sandbox: 'off',
  sandboxNetwork: 'allow',
  sandboxUid: 65534,
  sandboxMemoryMb: 4096,
  sandboxProcesses: 512,
  maxStepOutputBytes: 64 * 1024 * 1024,
};

/** Environment variable for each setting that has one. */
export const ENV: Partial<Record<keyof Settings, string>> = {
  data: 'DISTCI_DATA',
  coordinator: 'DISTCI_COORDINATOR',
  store: 'DISTCI_STORE',
  host: 'DISTCI_HOST',
  port: 'DISTCI_PORT',
  leaseTtlMs: 'DISTCI_LEASE_TTL_MS',
  ticketRetentionMs: 'DISTCI_TICKET_RETENTION_MS',
  tokens: 'DISTCI_AUTH_TOKENS',
  secretsKey: 'DISTCI_SECRETS_KEY',
  secretsKeyFile: 'DISTCI_SECRETS_KEY_FILE',
  logLevel: 'DISTCI_LOG_LEVEL',
  server: 'DISTCI_SERVER',
  publicUrl: 'DISTCI_PUBLIC_URL',
  token: 'DISTCI_TOKEN',
  kinds: 'DISTCI_KINDS',
  labels: 'DISTCI_LABELS',
  concurrency: 'DISTCI_CONCURRENCY',
  workerId: 'DISTCI_WORKER_ID',
  sandbox: 'DISTCI_SANDBOX',
  sandboxNetwork: 'DISTCI_SANDBOX_NETWORK',
  sandboxUid: 'DISTCI_SANDBOX_UID',
  sandboxMemoryMb: 'DISTCI_SANDBOX_MEMORY_MB',
  sandboxProcesses: 'DISTCI_SANDBOX_PROCESSES',
  maxStepOutputBytes: 'DISTCI_MAX_STEP_OUTPUT_BYTES',
};

export class ConfigError extends Error {}

/** Strings from the environment or flags, turned into the setting's type. */
function fromString(key: keyof Settings, raw: string, source: string): unknown {
  const schema = (SettingsSchema.properties as Record<string, TSchema>)[key]!;
  const type = schema.type ?? (schema.anyOf ? 'string' : undefined);
  if (key === 'tokens') return raw.split(',').filter(Boolean).map((entry) => parseTokenEntry(entry, source));
  if (type === 'integer') {
    if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${source}: ${key} must be a whole number, got '${raw}'`);
    return Number(raw);
  }
  if (type === 'array') return raw.split(',').map((s) => s.trim()).filter(Boolean);
  return raw;
}

/**
 * `name:role:secret` or `name:role:secret:pattern`; the secret may be a digest
 * `sha256:<hex>`. The secret itself cannot contain `:` here (the config file can).
 */
function parseTokenEntry(entry: string, source: string): TokenConfig {
  const [name, role, ...rest] = entry.split(':');
  const digest = rest[0] === 'sha256' && rest.length >= 2;
  const secret = digest ? `sha256:${rest[1]}` : rest[0];
  const pattern = rest.slice(digest ? 2 : 1);
  if (!name || !role || !secret || pattern.length > 1) {
    throw new ConfigError(`${source}: each token is name:role:secret or name:role:secret:job-pattern, got '${entry.split(':')[0]}:…'`);
  }
  return { name, role: role as TokenConfig['role'], token: secret, ...(pattern[0] !== undefined ? { jobs: pattern[0] } : {}) };
}

/** Settings whose values must never be echoed in an error. */
const HIDDEN = new Set(['tokens', 'token', 'secrets', 'secretsKey']);

function readFile(path: string): Partial<Settings> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const parsed = parseYaml(text) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('expected a mapping of settings');
    return parsed as Partial<Settings>;
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * defaults → config file (--config / DISTCI_CONFIG) → DISTCI_* environment → flags.
 * A bad value is reported as one line naming the setting and where it came from.
 */
export function loadSettings(flags: Partial<Record<keyof Settings, string>>, configPath?: string, env: NodeJS.ProcessEnv = process.env): Settings {
  const merged: Record<string, unknown> = { ...DEFAULTS };
  const sources: Record<string, string> = {};
  const file = configPath ?? env.DISTCI_CONFIG;
  if (file) {
    for (const [key, value] of Object.entries(readFile(file))) {
      merged[key] = value;
      sources[key] = `config file ${file}`;
    }
  }
  for (const [key, name] of Object.entries(ENV) as [keyof Settings, string][]) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') {
      merged[key] = fromString(key, raw, name);
      sources[key] = name;
    }
  }
  for (const [key, raw] of Object.entries(flags) as [keyof Settings, string | undefined][]) {
    if (raw === undefined) continue;
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    merged[key] = fromString(key, raw, flag);
    sources[key] = flag;
  }
  const first = Value.Errors(SettingsSchema, merged).First();
  if (first) {
    const key = first.path.split('/')[1] ?? '';
    const where = sources[key] ?? 'defaults';
    const shown = HIDDEN.has(key) ? '' : ` (got ${JSON.stringify(first.value)})`;
    throw new ConfigError(`invalid setting ${first.path.slice(1) || '(root)'} from ${where}: ${first.message}${shown}`);
  }
  const problem = tokenProblems((merged as Settings).tokens)[0];
  if (problem) throw new ConfigError(`invalid setting tokens/${problem.index} from ${sources.tokens ?? 'defaults'}: ${problem.message}`);
  return merged as Settings;
}
