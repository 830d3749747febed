import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { TicketsApi } from '../../src/client/tickets-api.js';
import type { Ticket } from '../../src/core/ticket.js';
import type { Proc } from '../../src/harness/processes.js';
import { LocalCluster, lines, tally } from '../support/cluster.js';
import { eventually } from '../support/wait.js';

/** A machine dying: the worker and the script it started go at once. */
function killWorkerAndScript(pidFile: string, worker: Proc): void {
  worker.child.kill('SIGKILL');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function until(api: TicketsApi, id: string, status: Ticket['status']): Promise<Ticket> {
  return eventually(async () => {
    const t = await api.get(id);
    assert.equal(t.status, status);
    return t;
  }, 30_000, 20);
}

describe('fault recovery with real processes', () => {
  let cluster: LocalCluster;
  let api: TicketsApi;
  let effects: string;
  let pidFile: string;
  const script = (): string =>
    `echo "start $DISTCI_ATTEMPT" >> ${effects}; echo $$ > ${pidFile}; sleep 1; echo "end $DISTCI_ATTEMPT" >> ${effects}`;

  beforeEach(async () => {
    cluster = await LocalCluster.start(2, ['--lease-ttl-ms', '1000', '--sweep-ms', '100', '--log-level', 'warn']);
    api = cluster.api();
    effects = join(cluster.dir, 'effects');
    pidFile = join(cluster.dir, 'pid');
  });
  afterEach(() => cluster.stop());

  it('a worker SIGKILLed mid-ticket: the ticket is claimed again after the TTL with attempt 2 and completes', async () => {
    const doomed = cluster.startWorker(['--worker-id', 'doomed']);
    const { ticket } = await api.post({ kind: 'execute-shell', payload: { script: script() } });
    await eventually(() => assert.deepEqual(lines(effects), ['start 1']));
    killWorkerAndScript(pidFile, doomed);
    cluster.startWorker(['--worker-id', 'survivor']);
    const done = await until(api, ticket.id, 'done');
    assert.equal(done.result?.outcome, 'success');
    assert.equal(done.attempt, 2);
    assert.deepEqual(lines(effects), ['start 1', 'start 2', 'end 2']);
  });

  it('past max attempts, a lost worker ends the ticket as error worker_lost', async () => {
    const doomed = cluster.startWorker(['--worker-id', 'doomed']);
    const { ticket } = await api.post({ kind: 'execute-shell', payload: { script: script() }, maxAttempts: 1 });
    await eventually(() => assert.deepEqual(lines(effects), ['start 1']));
    killWorkerAndScript(pidFile, doomed);
    cluster.startWorker(['--worker-id', 'bystander']);
    const done = await until(api, ticket.id, 'done');
    assert.equal(done.result?.outcome, 'error');
    assert.equal(done.result?.code, 'worker_lost');
    assert.deepEqual(lines(effects), ['start 1'], 'it did not run again');
  });

  it('a worker told to stop (SIGTERM) releases its ticket and another worker runs it', async () => {
    const leaving = cluster.startWorker(['--worker-id', 'leaving', '--grace-ms', '100']);
    const { ticket } = await api.post({ kind: 'execute-shell', payload: { script: script() } });
    await eventually(() => assert.deepEqual(lines(effects), ['start 1']));
    assert.equal(await leaving.stop(), 0);
    const released = await api.get(ticket.id);
    assert.equal(released.status, 'pending', 'released at once, not left to expire');
    cluster.startWorker(['--worker-id', 'next']);
    const done = await until(api, ticket.id, 'done');
    assert.equal(done.result?.outcome, 'success');
    assert.equal(done.attempt, 2);
  });

  it('a frontend SIGKILLed mid-request: workers retry on the other one and nothing is lost or run twice', async () => {
    for (let w = 0; w < 3; w++) cluster.startWorker(['--worker-id', `w${w}`, '--concurrency', '3']);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const payload = { script: `echo "$DISTCI_TICKET_ID" >> ${effects}; sleep 0.3; echo "$DISTCI_TICKET_ID" >> ${effects}.end` };
      ids.push((await api.post({ kind: 'execute-shell', payload })).ticket.id);
    }
    await eventually(() => assert.ok(lines(effects).length >= 5));
    await cluster.frontends[0]!.kill();
    const survivor = cluster.api([cluster.frontends[1]!.url]);
    for (const id of ids) {
      const t = await until(survivor, id, 'done');
      assert.equal(t.result?.outcome, 'success', `ticket ${id}: ${JSON.stringify(t.result)}`);
    }
    const starts = tally(lines(effects));
    assert.equal(starts.size, ids.length);
    assert.deepEqual([...starts.values()].filter((n) => n !== 1), [], 'no ticket ran twice');
    assert.equal(lines(`${effects}.end`).length, ids.length);
  });
});
