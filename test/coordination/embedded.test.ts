import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteCoordinator } from '../../src/coordination/embedded/sqlite-coordinator.js';
import { coordinatorContract } from './contract-suite.js';

coordinatorContract('embedded sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'distci-coord-'));
  return {
    open: async () => new SqliteCoordinator({ path: join(dir, 'coordinator.db') }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
