import { join, resolve } from 'node:path';
import { ValidationError } from '../core/errors.js';
import type { Coordinator } from './contract.js';
import { SqliteCoordinator } from './embedded/sqlite-coordinator.js';
import { ZookeeperCoordinator } from './zookeeper/zookeeper-coordinator.js';

/** Default coordinator URL for a data directory. */
export function defaultCoordinatorUrl(dataDir: string): string {
  return `sqlite:${join(resolve(dataDir), 'coordinator.db')}`;
}

/** Opens the coordinator named by a URL: `sqlite:PATH` or `zookeeper://host:port,host:port/chroot`. */
export async function openCoordinator(url: string): Promise<Coordinator> {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new ValidationError('coordinator URL sqlite: needs a path, e.g. sqlite:/var/lib/distci/coordinator.db');
    return new SqliteCoordinator({ path: resolve(path) });
  }
  if (url.startsWith('zookeeper://')) return ZookeeperCoordinator.fromUrl(url);
  throw new ValidationError(
    `coordinator URL '${url}' is not supported: use sqlite:PATH or zookeeper://host:port[,host:port...]/chroot`,
  );
}
