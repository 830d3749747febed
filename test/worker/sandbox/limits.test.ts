import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../../support/wait.js';
import type { KindsHarness } from '../kinds/support.js';
import { GiB, requireBwrap, sandboxHarness, sandboxedProcesses, shell } from './support.js';

describe('bwrap sandbox: limits', () => {
  before(requireBwrap);

  it('bounds a fork bomb by the process limit: the worker survives and the step fails within its timeout', async () => {
    const h = await sandboxHarness({ limits: { processes: 64 } });
    try {
      let most = 0;
      // bwrap's own reaper (PID 1 of the sandbox) is not the script's and not limited.
      const scripts = (): number => sandboxedProcesses().filter((p) => p.command !== 'bwrap').length;
      const sampler = setInterval(() => (most = Math.max(most, scripts())), 25);
      const started = Date.now();
      // The sleep keeps the step going, as a malicious script would; without it the script
      // ends at once and its PID namespace, bomb and all, dies with it.
      const { result } = await h.run(shell('bomb', ':(){ :|:& };:\nsleep 30', { timeoutSeconds: 3 }));
      clearInterval(sampler);
      assert.equal(result.outcome, 'failure');
      assert.ok(Date.now() - started < 3000 + 2000 + 2000, `stopped after ${Date.now() - started} ms`);
      assert.ok(most > 8, `the bomb ran (${most} processes seen)`);
      assert.ok(most <= 64, `at most 64 processes at once, saw ${most}`);
      await eventually(() => assert.deepEqual(sandboxedProcesses(), []), 5000);
      assert.equal(spawnSync('true').status, 0, 'the worker can still start processes');
    } finally {
      await h.close();
    }
  });

  it('refuses memory beyond the limit', async () => {
    const h = await sandboxHarness({ limits: { memoryBytes: 1.5 * GiB } });
    try {
      const script = `node -e 'const kept = []; for (let mb = 64; mb <= 3072; mb += 64) { kept.push(Buffer.alloc(64 << 20, 1)); console.log("holding", mb) } console.log("got all 3 GiB")'`;
      const { result, console } = await h.run(shell('hog', script, { timeoutSeconds: 60 }));
      assert.equal(result.outcome, 'failure', console);
      assert.equal(result.code, 'exit_1');
      assert.match(console, /allocation failed/i);
      assert.doesNotMatch(console, /got all/);
      const held = Math.max(0, ...[...console.matchAll(/holding (\d+)/g)].map((m) => Number(m[1])));
      assert.ok(held < 1536, `held ${held} MiB under a 1.5 GiB limit`);
    } finally {
      await h.close();
    }
  });

  it('stops a script past the output limit, fails the step and keeps the console within it', async () => {
    const h = await sandboxHarness({ maxStepOutputBytes: 64 * 1024 });
    try {
      const started = Date.now();
      const { result, console } = await h.run(shell('chatty', 'while true; do echo "all work and no play"; done', { timeoutSeconds: 8 }));
      assert.equal(result.outcome, 'failure');
      assert.equal(result.code, 'output_limit');
      assert.ok(Date.now() - started < 10_000);
      const scriptOutput = console.split('\n').filter((l) => l.startsWith('all work')).join('\n');
      assert.ok(scriptOutput.length <= 64 * 1024 && scriptOutput.length > 60 * 1024, `forwarded ${scriptOutput.length} bytes`);
      assert.match(console, /output limit of 65536 bytes reached/);
      await eventually(() => assert.deepEqual(sandboxedProcesses(), []), 5000);
    } finally {
      await h.close();
    }
  });

  it('applies the output limit without a sandbox too', async () => {
    const h = await sandboxHarness({ maxStepOutputBytes: 4096 }, 'off');
    try {
      const { result, console } = await h.run(shell('chatty', 'yes', { timeoutSeconds: 8 }));
      assert.equal(result.code, 'output_limit');
      assert.ok(console.length < 4096 + 1024);
    } finally {
      await h.close();
    }
  });
});

describe('bwrap sandbox: network', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  let h: KindsHarness;
  let offline: KindsHarness;
  const probe = () => `if (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; then echo connected; else echo unreachable; fi`;

  before(async () => {
    await requireBwrap();
    server = createServer((socket) => {
      connections++;
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    h = await sandboxHarness();
    offline = await sandboxHarness({ network: false });
  });
  after(async () => {
    await h?.close();
    await offline?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('reaches a server on the host by default (the control for the tests below)', async () => {
    const before = connections;
    const { console } = await h.run(shell('net', probe()));
    assert.match(console, /connected/);
    await eventually(() => assert.equal(connections, before + 1));
  });

  it('has no network when the step says network: false', async () => {
    const before = connections;
    const { result, console } = await h.run(shell('net', probe(), { network: false }));
    assert.equal(result.outcome, 'success', console);
    assert.match(console, /unreachable/);
    assert.match(console, /no network/);
    assert.equal(connections, before);
  });

  it('has no network on a worker that allows none, whatever the step asks', async () => {
    const before = connections;
    const { console } = await offline.run(shell('net', probe(), { network: true }));
    assert.match(console, /unreachable/);
    assert.equal(connections, before);
  });

  it('fails a network: false step on a worker without a sandbox rather than run it with a network', async () => {
    const unconfined = await sandboxHarness({}, 'off');
    try {
      const before = connections;
      const { result } = await unconfined.run(shell('net', probe(), { network: false }));
      assert.equal(result.outcome, 'failure');
      assert.equal(result.code, 'sandbox_required');
      assert.equal(connections, before);
    } finally {
      await unconfined.close();
    }
  });
});
