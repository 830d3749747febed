/**
 * A data directory written by an older distci keeps working: the embedded coordinator
 * migrates a schema-1 database (one queue per kind and label set) to fair-share queues
 * without losing or reordering a ticket.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteCoordinator } from '../../src/coordination/embedded/sqlite-coordinator.js';

let dir: string;
let path: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'distci-migrate-'));
  path = join(dir, 'coordinator.db');
  const db = new Database(path);
  db.exec(await readFile(new URL('../../../test/fixtures/coordinator-v1.sql', import.meta.url), 'utf8'));
  db.close();
});
after(() => rm(dir, { recursive: true, force: true }));

it('migrates a schema-1 database: every ticket kept, queues by job, leases still expire', async () => {
  const c = new SqliteCoordinator({ path });
  try {
    await c.ready();
    assert.deepEqual(
      (await c.queueStats()).map((q) => [q.kind, q.labels, q.pending, q.oldestCreatedAt]).sort((x, y) => Number(x[3]) - Number(y[3])),
      [['k', [], 3, 1000], ['k', ['linux'], 1, 1002]],
    );
    const claimed = [];
    for (let i = 0; i < 4; i++) {
      const claim = await c.claim({ workerId: 'w', kinds: ['k'], labels: ['linux'], ttlMs: 60_000 });
      claimed.push((claim?.ticket.payload as { n: number }).n);
    }
    // Job a first (oldest head), then b and the job-less share in turn, then a again.
    assert.deepEqual(claimed, [1, 3, 4, 2]);
    assert.equal(await c.expireLeases(), 1, 'the lease taken before the upgrade still expires');
    const again = await c.claim({ workerId: 'w', kinds: ['k'], labels: [], ttlMs: 60_000 });
    assert.equal((again?.ticket.payload as { n: number }).n, 5);
    assert.equal(again?.ticket.attempt, 2);
  } finally {
    await c.close();
  }
});
