import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSandbox, sandboxConfig } from '../../../src/cli/commands/worker.js';
import { ConfigError, loadSettings } from '../../../src/config/settings.js';
import { probeBwrap } from '../../../src/worker/sandbox/index.js';
import { LIMITS, requireBwrap, sandboxHarness } from './support.js';

describe('sandbox settings', () => {
  it('is off by default, with a 64 MiB output limit for every worker', () => {
    const settings = loadSettings({}, undefined, {});
    assert.deepEqual(sandboxConfig(settings), { mode: 'off' });
    assert.equal(settings.maxStepOutputBytes, 64 * 1024 * 1024);
  });

  it('takes the mode, network policy and limits from DISTCI_* variables and flags', () => {
    const env = { DISTCI_SANDBOX: 'bwrap', DISTCI_SANDBOX_NETWORK: 'none', DISTCI_SANDBOX_MEMORY_MB: '2048', DISTCI_SANDBOX_UID: '4242' };
    const settings = loadSettings({ sandboxProcesses: '100' }, undefined, env);
    assert.deepEqual(sandboxConfig(settings), {
      mode: 'bwrap',
      network: false,
      uid: 4242,
      limits: { memoryBytes: 2048 * 1024 * 1024, processes: 100, tmpBytes: 2048 * 1024 * 1024 },
    });
  });

  it('rejects an unknown mode or a silly limit in one line naming where it came from', () => {
    assert.throws(() => loadSettings({}, undefined, { DISTCI_SANDBOX: 'docker' }), (err: Error) => err instanceof ConfigError && /sandbox from DISTCI_SANDBOX/.test(err.message) && !err.message.includes('\n'));
    assert.throws(() => loadSettings({ sandboxProcesses: '2' }, undefined, {}), /sandboxProcesses from --sandbox-processes/);
    assert.throws(() => loadSettings({ sandboxUid: '0' }, undefined, {}), /sandboxUid from --sandbox-uid/);
  });

  it('refuses to start a sandboxing worker where bwrap is missing, saying how to install it', async () => {
    const problem = await probeBwrap({ network: true, limits: LIMITS, bwrap: '/nonexistent/bwrap' });
    assert.match(problem ?? '', /apt-get install -y bubblewrap/);
    await requireBwrap();
    assert.equal(await probeBwrap({ network: true, limits: LIMITS }), null, 'and starts it where bwrap works');
    await assert.doesNotReject(checkSandbox(loadSettings({ sandbox: 'bwrap' }, undefined, {})));
  });

  it('refuses ad-hoc execute-shell tickets on a sandboxing worker: they would run unconfined', async () => {
    await requireBwrap();
    const h = await sandboxHarness();
    try {
      const { result } = await h.run({ script: 'id' }, { kind: 'execute-shell' });
      assert.equal(result.outcome, 'failure');
      assert.equal(result.code, 'sandbox_required');
    } finally {
      await h.close();
    }
  });
});
