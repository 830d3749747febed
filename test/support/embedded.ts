import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ApiClient } from '../../src/client/api-client.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import { SqliteCoordinator } from '../../src/coordination/embedded/sqlite-coordinator.js';
import type { TokenConfig } from '../../src/frontend/auth.js';
import { buildFrontend, type Frontend, type FrontendOptions } from '../../src/frontend/server.js';
import { ConfiguredSecrets } from '../../src/frontend/services/secrets.js';
import { FsStore } from '../../src/storage/fs/fs-store.js';

export const silent = pino({ level: 'silent' });

export async function tempDir(prefix = 'distci-test-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface TestFrontend {
  url: string;
  dir: string;
  coordinator: SqliteCoordinator;
  store: FsStore;
  frontend: Frontend;
  api(token?: string): TicketsApi;
  close(): Promise<void>;
}

/** An in-process frontend on a fresh SQLite file, listening on a free loopback port. */
export async function startTestFrontend(
  options: Partial<Omit<FrontendOptions, 'coordinator' | 'log' | 'store' | 'secrets'>> & {
    tokens?: TokenConfig[];
    dir?: string;
    secrets?: Record<string, string>;
  } = {},
): Promise<TestFrontend> {
  const temp = options.dir ? null : await tempDir();
  const dir = options.dir ?? temp!.path;
  const coordinator = new SqliteCoordinator({ path: join(dir, 'coordinator.db') });
  const store = new FsStore({ root: join(dir, 'store') });
  const frontend = await buildFrontend({
    coordinator,
    store,
    secrets: new ConfiguredSecrets(options.secrets ?? {}),
    maxUploadBytes: options.maxUploadBytes ?? 64 * 1024 * 1024,
    log: silent,
    tokens: options.tokens ?? [],
    leaseTtlMs: options.leaseTtlMs ?? 10_000,
    ...(options.ticketRetentionMs !== undefined ? { ticketRetentionMs: options.ticketRetentionMs } : {}),
    maxWaitMs: options.maxWaitMs ?? 60_000,
    sweepMs: options.sweepMs ?? 100,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    cronIntervalMs: options.cronIntervalMs ?? 0,
    ...(options.env ? { env: options.env } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const url = await frontend.app.listen({ host: '127.0.0.1', port: 0 });
  const clients: ApiClient[] = [];
  return {
    url,
    dir,
    coordinator,
    store,
    frontend,
    api: (token?: string) => {
      const client = new ApiClient({ servers: [url], ...(token ? { token } : {}) });
      clients.push(client);
      return new TicketsApi(client);
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
      await frontend.close();
      await coordinator.close();
      await store.close();
      await temp?.remove();
    },
  };
}
