import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silent } from '../support/embedded.js';
import { eventually } from '../support/wait.js';
import { KindsHarness, stepPayload, ticketFor } from './kinds/support.js';

const shell = (params: Record<string, unknown>, more = {}) => stepPayload('execute-shell', 'sh', params, more);

describe('execute-shell', () => {
  let h: KindsHarness;
  before(async () => (h = await KindsHarness.start()));
  after(() => h.close());

  it('succeeds on exit code 0, with the step env, in the workspace, output in the console', async () => {
    const { result, console } = await h.run(shell({ script: 'echo "hello $WHO from $DISTCI_JOB #$DISTCI_BUILD $DISTCI_STEP"; pwd' }, { env: { WHO: 'tests' } }));
    assert.equal(result.outcome, 'success');
    assert.equal((result.data as { exitCode: number }).exitCode, 0);
    assert.match(console, /hello tests from app #1 sh/);
    assert.ok(console.includes(h.dirFor('sh')), console);
  });

  it('fails with the exit code of the script, stderr in the console', async () => {
    const { result, console } = await h.run(shell({ script: 'echo oops >&2; exit 3' }));
    assert.equal(result.outcome, 'failure');
    assert.equal(result.code, 'exit_3');
    assert.match(console, /oops/);
    assert.match(console, /\[distci\] failure \(exit_3\)/);
  });

  it('runs with -e and pipefail: a failing command in the middle or in a pipe fails the step', async () => {
    const mid = await h.run(shell({ script: 'false\necho not reached' }));
    assert.equal(mid.result.code, 'exit_1');
    assert.doesNotMatch(mid.console, /not reached/);
    const pipe = await h.run(shell({ script: 'exit 4 | cat' }));
    assert.equal(pipe.result.code, 'exit_4');
  });

  it('starts in workdir, and fails clearly when workdir does not exist', async () => {
    const ok = await h.run(shell({ script: 'mkdir -p sub && cd sub && pwd' }));
    assert.equal(ok.result.outcome, 'success');
    const missing = await h.run(shell({ script: 'true', workdir: 'nope' }));
    assert.equal(missing.result.outcome, 'failure');
    assert.equal(missing.result.code, 'bad_workdir');
  });

  it('hides the worker token and DISTCI_* settings from the script', async () => {
    process.env.DISTCI_TOKEN = 'worker-secret-token';
    process.env.DISTCI_SERVER = 'http://frontend';
    try {
      const { console } = await h.run(shell({ script: 'echo "[${DISTCI_TOKEN:-unset}] [${DISTCI_SERVER:-unset}] [$CI]"' }));
      assert.match(console, /\[unset\] \[unset\] \[true\]/);
    } finally {
      delete process.env.DISTCI_TOKEN;
      delete process.env.DISTCI_SERVER;
    }
  });

  it('kills the whole process group on timeout, background children included', async () => {
    const pidFile = join(h.workRoot, 'group');
    const { result } = await h.run(shell({ script: `echo $$ > ${pidFile}; (sleep 30; echo survived) & sleep 30`, timeoutSeconds: 1 }));
    assert.equal(result.outcome, 'failure');
    assert.equal(result.code, 'timeout');
    const group = Number(readFileSync(pidFile, 'utf8').trim());
    await eventually(() => assert.throws(() => process.kill(-group, 0), { code: 'ESRCH' }), 5000);
  });

  it("enforces the step's timeoutSeconds from the payload", async () => {
    const { result } = await h.run(shell({ script: 'sleep 30' }, { timeoutSeconds: 1 }));
    assert.equal(result.outcome, 'failure');
    assert.equal(result.code, 'timeout');
  });

  it('stops when its signal aborts (lease lost, cancel or shutdown) and writes nothing more', async () => {
    const abort = new AbortController();
    const pidFile = join(h.workRoot, 'pid');
    const running = h.run(shell({ script: `echo $$ > ${pidFile}; sleep 30` }), { signal: abort.signal });
    await eventually(() => assert.ok(readFileSync(pidFile, 'utf8').trim().length > 0));
    abort.abort();
    const { result, console } = await running;
    assert.equal(result.outcome, 'error');
    assert.equal(result.code, 'aborted');
    assert.doesNotMatch(console, /\[distci\] error/);
  });

  it('refuses bad params as a failure naming the field', async () => {
    for (const params of [{}, { script: '' }, { script: 1 }, { script: 'true', workdir: '../x' }, { script: 'true', timeoutSeconds: -1 }, { script: 'x'.repeat(200_000) }]) {
      const { result } = await h.run(shell(params));
      assert.equal(result.outcome, 'failure', JSON.stringify(params).slice(0, 80));
      assert.equal(result.code, 'bad_params');
      assert.match(result.message ?? '', /execute-shell param "(script|workdir|timeoutSeconds)"/);
    }
  });

  it('still runs an ad-hoc ticket posted without a build ({script, env?, timeoutSeconds?})', async () => {
    const ticket = ticketFor('execute-shell', { script: 'echo "adhoc $WHO $DISTCI_TICKET_ID $DISTCI_ATTEMPT"; exit 0', env: { WHO: 'me' } });
    const result = await h.handlers['execute-shell']!({ ticket, token: 1, signal: new AbortController().signal, log: silent });
    assert.equal(result.outcome, 'success');
    assert.match((result.data as { outputTail: string }).outputTail, new RegExp(`adhoc me ${ticket.id} 1`));
    const bad = await h.handlers['execute-shell']!({ ticket: ticketFor('execute-shell', null), token: 1, signal: new AbortController().signal, log: silent });
    assert.equal(bad.code, 'bad_params');
  });
});
