import type { Command } from 'commander';
import { loadSettings, type Settings } from '../config/settings.js';

/** Flags shared by the commands; each maps to the setting of the same name. */
const FLAGS: Record<string, [keyof Settings, string]> = {
  data: ['data', '--data <dir>'],
  coordinator: ['coordinator', '--coordinator <url>'],
  store: ['store', '--store <url>'],
  maxUploadBytes: ['maxUploadBytes', '--max-upload-bytes <bytes>'],
  host: ['host', '--host <host>'],
  port: ['port', '--port <port>'],
  leaseTtlMs: ['leaseTtlMs', '--lease-ttl-ms <ms>'],
  sweepMs: ['sweepMs', '--sweep-ms <ms>'],
  ticketRetentionMs: ['ticketRetentionMs', '--ticket-retention-ms <ms>'],
  bodyLimit: ['bodyLimit', '--body-limit <bytes>'],
  server: ['server', '--server <urls>'],
  publicUrl: ['publicUrl', '--public-url <url>'],
  kinds: ['kinds', '--kinds <k1,k2>'],
  labels: ['labels', '--labels <l1,l2>'],
  concurrency: ['concurrency', '--concurrency <n>'],
  workerId: ['workerId', '--worker-id <id>'],
  claimWaitMs: ['claimWaitMs', '--claim-wait-ms <ms>'],
  graceMs: ['graceMs', '--grace-ms <ms>'],
  logLevel: ['logLevel', '--log-level <level>'],
  sandbox: ['sandbox', '--sandbox <mode>'],
  sandboxNetwork: ['sandboxNetwork', '--sandbox-network <policy>'],
  sandboxUid: ['sandboxUid', '--sandbox-uid <uid>'],
  sandboxMemoryMb: ['sandboxMemoryMb', '--sandbox-memory-mb <mib>'],
  sandboxProcesses: ['sandboxProcesses', '--sandbox-processes <n>'],
  maxStepOutputBytes: ['maxStepOutputBytes', '--max-step-output-bytes <bytes>'],
  secretsKeyFile: ['secretsKeyFile', '--secrets-key-file <file>'],
};

const HELP: Partial<Record<keyof Settings, string>> = {
  data: 'where embedded state lives (DISTCI_DATA, default ./.distci)',
  coordinator: 'sqlite:PATH or zookeeper://h1:2181,.../distci (DISTCI_COORDINATOR)',
  store: 'file:DIR or s3://BUCKET/PREFIX?endpoint=... (DISTCI_STORE, default file:$DATA/store)',
  maxUploadBytes: 'largest workspace or artifact upload (default 4 GiB)',
  host: 'listen address (DISTCI_HOST, default 127.0.0.1)',
  port: 'listen port (DISTCI_PORT, default 8080; 0 picks a free one)',
  leaseTtlMs: 'lease time-to-live granted to workers (default 10000)',
  sweepMs: 'how often expired leases are returned to the queue (default 1000)',
  ticketRetentionMs: 'how long done tickets stay in the coordinator before frontends purge them (DISTCI_TICKET_RETENTION_MS, default 86400000 = 24 h)',
  bodyLimit: 'largest accepted request body in bytes (default 1 MiB)',
  server: 'frontend URLs, comma-separated; any one will do (DISTCI_SERVER)',
  publicUrl: 'web UI address commit statuses link to (DISTCI_PUBLIC_URL, default: the first --server URL)',
  kinds: 'worker kinds to serve, comma-separated (default: all built in)',
  labels: 'capabilities this worker offers, comma-separated (DISTCI_LABELS)',
  concurrency: 'tickets worked on at once (default 1)',
  workerId: 'name shown as the lease holder (default host-pid)',
  claimWaitMs: 'long-poll time of one claim (default 30000)',
  graceMs: 'on SIGTERM, how long running tickets may finish before release (default 10000)',
  logLevel: 'fatal, error, warn, info, debug, trace or silent',
  sandbox: 'off, or bwrap: run execute-shell scripts in a bubblewrap sandbox (DISTCI_SANDBOX)',
  sandboxNetwork: 'allow, or none: no sandboxed step gets a network (DISTCI_SANDBOX_NETWORK)',
  sandboxUid: 'host uid (and gid) of sandboxed scripts when the worker is root (default 65534)',
  sandboxMemoryMb: 'address space of each sandboxed process, and size of its /tmp (default 4096)',
  sandboxProcesses: 'processes and threads one sandboxed step may have at once (default 512)',
  maxStepOutputBytes: 'console output of one execute-shell step before it is stopped (default 64 MiB)',
  secretsKeyFile: 'file of secrets keys, base64, one per line, the first sealing (DISTCI_SECRETS_KEY_FILE; or the keys in DISTCI_SECRETS_KEY)',
};

export function addSettingsFlags(cmd: Command, keys: (keyof Settings)[]): Command {
  cmd.option('--config <file>', 'YAML or JSON settings file (DISTCI_CONFIG)');
  for (const key of keys) {
    const [, flag] = FLAGS[key]!;
    cmd.option(flag, HELP[key] ?? key);
  }
  return cmd;
}

export function settingsFrom(opts: Record<string, string | undefined>): Settings {
  const flags: Partial<Record<keyof Settings, string>> = {};
  for (const [name, [key]] of Object.entries(FLAGS)) if (opts[name] !== undefined) flags[key] = opts[name];
  return loadSettings(flags, opts.config);
}
