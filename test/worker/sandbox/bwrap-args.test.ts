import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bwrapInvocation, ETC_FILES, WORKSPACE_MOUNT } from '../../../src/worker/sandbox/bwrap-args.js';
import type { SandboxCommand } from '../../../src/worker/sandbox/sandbox.js';
import { LIMITS } from './support.js';

const command = (more: Partial<SandboxCommand> = {}): SandboxCommand => ({
  command: 'bash',
  args: ['-c', 'make test'],
  workspace: '/var/lib/distci/ws/app/3/test-1',
  cwd: '/var/lib/distci/ws/app/3/test-1/src/lib',
  env: { CI: 'true', DEPLOY_KEY: 'secret-value-0193' },
  network: true,
  ...more,
});

/** bwrap's options before the `--` that ends them, as [option, ...operands]. */
function options(args: string[]): string[][] {
  const arity: Record<string, number> = {
    '--uid': 1, '--gid': 1, '--hostname': 1, '--bind': 2, '--ro-bind': 2, '--ro-bind-try': 2, '--proc': 1, '--dev': 1,
    '--tmpfs': 1, '--size': 1, '--dir': 1, '--remount-ro': 1, '--chdir': 1, '--symlink': 2,
  };
  const out: string[][] = [];
  for (let i = 0; i < args.length && args[i] !== '--'; ) {
    const name = args[i]!;
    const n = arity[name] ?? 0;
    out.push(args.slice(i, i + 1 + n));
    i += 1 + n;
  }
  return out;
}

describe('bwrap invocation', () => {
  it('mounts the workspace read-write at /workspace and every other host path read-only', () => {
    const ops = options(bwrapInvocation(command(), LIMITS).args);
    const writable = ops.filter(([op]) => op === '--bind' || op === '--dev-bind' || op === '--bind-try');
    assert.deepEqual(writable, [['--bind', '/var/lib/distci/ws/app/3/test-1', WORKSPACE_MOUNT]]);
    const readOnly = ops.filter(([op]) => op === '--ro-bind' || op === '--ro-bind-try').map(([, src]) => src!);
    for (const src of readOnly) assert.ok(src === '/usr' || /^\/(s?bin|lib\w*)$/.test(src) || ETC_FILES.includes(src), `unexpected host path ${src}`);
    assert.ok(!readOnly.some((p) => /^\/(root|home|var|run|etc)$/.test(p) || p.includes('ssh') || p.includes('npmrc')));
    assert.deepEqual(ops.at(-2), ['--remount-ro', '/'], 'the root is made read-only after everything is mounted');
  });

  it('gives the script private, size-capped tmpfs mounts for /tmp and /dev/shm', () => {
    const ops = options(bwrapInvocation(command(), LIMITS).args);
    const tmpfs = ops.flatMap((op, i) => (op[0] === '--tmpfs' ? [[ops[i - 1], op[1]]] : []));
    assert.deepEqual(tmpfs, [
      [['--size', String(LIMITS.tmpBytes)], '/dev/shm'],
      [['--size', String(LIMITS.tmpBytes)], '/tmp'],
    ]);
  });

  it('unshares users (nobody, no nested namespaces), PIDs, IPC and UTS, dies with its parent and leaves the terminal session', () => {
    const flags = options(bwrapInvocation(command(), LIMITS).args).map((op) => op.join(' '));
    for (const flag of ['--unshare-user', '--disable-userns', '--uid 65534', '--gid 65534', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session']) {
      assert.ok(flags.includes(flag), `missing ${flag}`);
    }
    assert.ok(!flags.includes('--unshare-net'));
    assert.ok(options(bwrapInvocation(command({ network: false }), LIMITS).args).some(([op]) => op === '--unshare-net'));
  });

  it('runs the command through prlimit with the memory and process limits, in the workdir under /workspace', () => {
    const { args } = bwrapInvocation(command(), { ...LIMITS, memoryBytes: 1234567890, processes: 99 });
    assert.deepEqual(args.slice(args.indexOf('--') + 1), ['/usr/bin/prlimit', '--as=1234567890', '--nproc=99', '--core=0', '--', 'bash', '-c', 'make test']);
    assert.ok(options(args).some((op) => op.join(' ') === '--chdir /workspace/src/lib'));
  });

  it('passes variables in the environment, never in argv, over defaults for PATH, HOME, TMPDIR and LANG', () => {
    const { args, env } = bwrapInvocation(command(), LIMITS);
    assert.equal(env.DEPLOY_KEY, 'secret-value-0193');
    assert.ok(!args.some((a) => a.includes('secret-value')), 'no secret in the command line other users can read');
    assert.deepEqual(Object.keys(env).sort(), ['CI', 'DEPLOY_KEY', 'HOME', 'LANG', 'PATH', 'TMPDIR']);
    assert.equal(bwrapInvocation(command({ env: { PATH: '/workspace/bin:/usr/bin' } }), LIMITS).env.PATH, '/workspace/bin:/usr/bin');
  });

  it('refuses a working directory outside the workspace', () => {
    assert.throws(() => bwrapInvocation(command({ cwd: '/var/lib/distci/ws/app/3/test-10' }), LIMITS), /not inside the workspace/);
    assert.throws(() => bwrapInvocation(command({ cwd: '/etc' }), LIMITS), /not inside the workspace/);
  });
});
