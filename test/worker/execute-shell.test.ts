import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Ticket } from '../../src/core/ticket.js';
import { executeShell } from '../../src/worker/kinds/execute-shell.js';
import { silent, tempDir } from '../support/embedded.js';
import { eventually } from '../support/wait.js';

function ticket(payload: unknown): Ticket {
  return {
    id: '7', kind: 'execute-shell', labels: [], payload, refs: {}, priority: 0, status: 'leased', attempt: 1, maxAttempts: 3,
    lease: null, result: null, idempotencyKey: null, cancelRequested: false, followUp: null, createdAt: 0, updatedAt: 0,
  };
}

describe('execute-shell', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const run = (payload: unknown, signal = new AbortController().signal) =>
    executeShell({ workRoot: dir.path })({ ticket: ticket(payload), token: 1, signal, log: silent });
  before(async () => (dir = await tempDir()));
  after(() => dir.remove());

  it('succeeds on exit code 0 with the env it was given', async () => {
    const result = await run({ script: 'echo "hello $WHO from $DISTCI_TICKET_ID"', env: { WHO: 'tests' } });
    assert.equal(result.outcome, 'success');
    assert.match((result.data as { outputTail: string }).outputTail, /hello tests from 7/);
  });

  it('fails with the exit code of the script', async () => {
    const result = await run({ script: 'echo oops >&2; exit 3' });
    assert.equal(result.outcome, 'failure');
    assert.equal(result.code, 'exit_3');
    assert.match((result.data as { outputTail: string }).outputTail, /oops/);
  });

  it('kills the whole process group on timeout, background children included', async () => {
    const marker = join(dir.path, 'survivor');
    const result = await run({ script: `(sleep 2; touch ${marker}) & sleep 30`, timeoutSeconds: 1 });
    assert.equal(result.outcome, 'failure');
    assert.equal(result.code, 'timeout');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(existsSync(marker), false, 'the background child was killed too');
  });

  it('stops when its signal aborts (lease lost or shutdown)', async () => {
    const abort = new AbortController();
    const pidFile = join(dir.path, 'pid');
    const running = run({ script: `echo $$ > ${pidFile}; sleep 30` }, abort.signal);
    await eventually(() => assert.ok(readFileSync(pidFile, 'utf8').trim().length > 0));
    abort.abort();
    const result = await running;
    assert.equal(result.outcome, 'error');
    assert.equal(result.code, 'aborted');
  });

  it('refuses bad params as a failure naming the field', async () => {
    for (const payload of [null, {}, { script: '' }, { script: 'true', env: { A: 1 } }, { script: 'true', timeoutSeconds: -1 }]) {
      const result = await run(payload);
      assert.equal(result.outcome, 'failure');
      assert.equal(result.code, 'bad_params');
    }
  });
});
