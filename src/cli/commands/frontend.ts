import { readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { parseKeys, type Keyring } from '../../core/crypto/keyring.js';
import { defaultCoordinatorUrl, openCoordinator } from '../../coordination/open.js';
import type { Settings } from '../../config/settings.js';
import { ConfigError } from '../../config/settings.js';
import { buildFrontend, type Frontend } from '../../frontend/server.js';
import { ConfiguredSecrets, secretsFromEnv } from '../../frontend/services/secrets.js';
import { defaultStoreUrl, openStore } from '../../storage/open.js';
import { createLogger } from '../../log.js';
import { addSettingsFlags, settingsFrom } from '../settings-flags.js';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

/**
 * The keys sealing stored secrets, from --secrets-key-file / DISTCI_SECRETS_KEY_FILE or
 * DISTCI_SECRETS_KEY; null when none is configured. Errors never show key material.
 */
export function loadSecretsKeyring(settings: Settings, log?: Logger): Keyring | null {
  if (settings.secretsKey !== undefined && settings.secretsKeyFile !== undefined) {
    throw new ConfigError('secrets keys are given twice (a key file and DISTCI_SECRETS_KEY / secretsKey): keep one, so which key seals is never in doubt');
  }
  const file = settings.secretsKeyFile;
  let text = settings.secretsKey;
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
      if ((statSync(file).mode & 0o077) !== 0) log?.warn({ file }, 'secrets key file is readable by group or others; chmod 600 it');
    } catch (err) {
      throw new ConfigError(`secrets key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (text === undefined) return null;
  try {
    return parseKeys(text);
  } catch (err) {
    throw new ConfigError(`invalid secrets key from ${file !== undefined ? `key file ${file}` : 'DISTCI_SECRETS_KEY (or secretsKey)'}: ${(err as Error).message}`);
  }
}

export interface RunningFrontend {
  frontend: Frontend;
  url: string;
  close(): Promise<void>;
}

/** Starts a frontend on the settings' coordinator; shared by `frontend` and `up`. */
export async function startFrontend(settings: Settings): Promise<RunningFrontend> {
  if (!LOOPBACK.test(settings.host) && settings.tokens.length === 0) {
    throw new ConfigError(
      `refusing to listen on ${settings.host} without tokens: configure DISTCI_AUTH_TOKENS (name:role:secret,...) or "tokens" in the config file, or bind to 127.0.0.1`,
    );
  }
  const log = createLogger(settings.logLevel, { component: 'frontend' });
  const secretsKeyring = loadSecretsKeyring(settings, log);
  const coordinator = await openCoordinator(settings.coordinator ?? defaultCoordinatorUrl(settings.data));
  await coordinator.ready();
  const store = await openStore(settings.store ?? defaultStoreUrl(settings.data));
  await store.ready();
  const frontend = await buildFrontend({
    coordinator,
    store,
    secrets: new ConfiguredSecrets({ ...settings.secrets, ...secretsFromEnv(process.env) }),
    secretsKeyring,
    maxUploadBytes: settings.maxUploadBytes,
    log,
    tokens: settings.tokens,
    leaseTtlMs: settings.leaseTtlMs,
    maxWaitMs: settings.maxWaitMs,
    sweepMs: settings.sweepMs,
    ticketRetentionMs: settings.ticketRetentionMs,
    bodyLimit: settings.bodyLimit,
  });
  const url = await frontend.app.listen({ host: settings.host, port: settings.port });
  const keys = secretsKeyring ? { primary: secretsKeyring.primary.id, count: secretsKeyring.ids.length } : null;
  log.info({ url, coordinator: coordinator.backend, store: store.backend, auth: settings.tokens.length > 0, secretsKeys: keys }, 'listening');
  return {
    frontend,
    url,
    close: async () => {
      await frontend.close();
      await coordinator.close();
      await store.close();
      log.flush();
    },
  };
}

export function frontendCommand(program: Command): void {
  const cmd = program.command('frontend').description('run a stateless HTTP frontend (start as many as you like)');
  addSettingsFlags(cmd, ['data', 'coordinator', 'store', 'maxUploadBytes', 'host', 'port', 'leaseTtlMs', 'sweepMs', 'ticketRetentionMs', 'bodyLimit', 'logLevel', 'secretsKeyFile']).action(
    async (opts: Record<string, string>) => {
      const running = await startFrontend(settingsFrom(opts));
      process.stdout.write(`distci frontend listening on ${running.url}\n`);
      const stop = (): void => {
        void running.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
  );
}
