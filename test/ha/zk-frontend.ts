/**
 * An in-process frontend on a ZooKeeper coordinator (its own session, as a separate
 * frontend process would have) and a `file:` store in a shared directory: for tests that
 * need what only an in-process frontend offers, such as an injected clock.
 */
import { join } from 'node:path';
import { ApiClient } from '../../src/client/api-client.js';
import { openCoordinator } from '../../src/coordination/open.js';
import { buildFrontend, type Frontend } from '../../src/frontend/server.js';
import { ConfiguredSecrets } from '../../src/frontend/services/secrets.js';
import { FsStore } from '../../src/storage/fs/fs-store.js';
import { silent } from '../support/embedded.js';

export interface ZkTestFrontend {
  url: string;
  frontend: Frontend;
  client(): ApiClient;
  close(): Promise<void>;
}

/** Listens on a free loopback port; cron runs only when the test calls `frontend.cron.tick()`. */
export async function startZkFrontend(coordinatorUrl: string, storeDir: string, now?: () => number): Promise<ZkTestFrontend> {
  const coordinator = await openCoordinator(coordinatorUrl);
  await coordinator.ready();
  const store = new FsStore({ root: join(storeDir, 'store') });
  const frontend = await buildFrontend({
    coordinator,
    store,
    secrets: new ConfiguredSecrets({}),
    maxUploadBytes: 64 * 1024 * 1024,
    log: silent,
    tokens: [],
    leaseTtlMs: 10_000,
    maxWaitMs: 60_000,
    sweepMs: 100,
    bodyLimit: 1024 * 1024,
    cronIntervalMs: 0,
    ...(now ? { now } : {}),
  });
  const url = await frontend.app.listen({ host: '127.0.0.1', port: 0 });
  const clients: ApiClient[] = [];
  return {
    url,
    frontend,
    client: () => {
      const client = new ApiClient({ servers: [url] });
      clients.push(client);
      return client;
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
      await frontend.close();
      await coordinator.close();
      await store.close();
    },
  };
}
