import { join, resolve } from 'node:path';
import { ValidationError } from '../core/errors.js';
import type { Coordinator } from './contract.js';
import { SqliteCoordinator } from './embedded/sqlite-coordinator.js';

/** Default coordinator URL for a data directory. */
export function defaultCoordinatorUrl(dataDir: string): string {
  return `sqlite:${join(resolve(dataDir), 'coordinator.db')}`;
}

/** Opens the coordinator named by a URL: `sqlite:PATH` (or, later, `zookeeper://...`). */
export async function openCoordinator(url: string): Promise<Coordinator> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new ValidationError('coordinator URL sqlite: needs a path, e.g. sqlite:/var/lib/distci/coordinator.db');
    return new SqliteCoordinator({ path: resolve(path) });
  }
  throw new ValidationError(
    `coordinator URL '${url}' is not supported: use sqlite:PATH (zookeeper:// arrives with the ZooKeeper backend)`,
  );
}
