import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../support/embedded.js';
import { eventually } from '../../support/wait.js';
import type { KindsHarness } from '../kinds/support.js';
import { requireBwrap, sandboxHarness, sandboxedProcesses, shell, uploadedFiles } from './support.js';

describe('bwrap sandbox: what a script can see and change', () => {
  let h: KindsHarness;
  let unconfined: KindsHarness;
  before(async () => {
    await requireBwrap();
    h = await sandboxHarness();
    unconfined = await sandboxHarness({}, 'off');
  });
  after(async () => {
    await h?.close();
    await unconfined?.close();
  });

  it('runs a normal script: bash, git and node work, files written in the workspace reach the next step', async () => {
    const script = [
      'git init -q repo && cd repo',
      'echo "int main() {}" > main.c && git add main.c',
      'git -c user.name=ci -c user.email=ci@example.org commit -q -m first',
      'echo "commits: $(git rev-list --count HEAD)"',
      'node -e "console.log(\'node says\', 6 * 7)"',
      'echo "in $PWD, workspace $DISTCI_WORKSPACE, job $DISTCI_JOB, home $HOME"',
      'echo built > ../out.txt',
      'sort <<< $\'b\\na\' | tr "\\n" " "; echo',
      "awk 'BEGIN { print \"awk ok\" }'",
    ].join('\n');
    const { result, console } = await h.run(shell('build', script));
    assert.equal(result.outcome, 'success', console);
    assert.match(console, /commits: 1/);
    assert.match(console, /node says 42/);
    assert.match(console, /in \/workspace\/repo, workspace \/workspace, job app, home \/tmp\/home/);
    assert.match(console, /a b/);
    assert.match(console, /awk ok/);
    assert.ok((await uploadedFiles(h.api, 'build')).includes('out.txt'));
    const chained = await h.run({ ...shell('test2', 'cat out.txt && git -C repo log --format=%s'), inputs: [{ step: 'build', attempt: 1 }] });
    assert.equal(chained.result.outcome, 'success', chained.console);
    assert.match(chained.console, /built\nfirst/);
  });

  it('runs the script as an unprivileged host user, and hands the workspace back to the worker afterwards', async () => {
    const running = h.run(shell('who', 'sleep 30'), { signal: AbortSignal.timeout(20_000) });
    const seen = await eventually(() => {
      const procs = sandboxedProcesses().filter((p) => p.command === 'sleep');
      assert.equal(procs.length, 1);
      return procs[0]!;
    }, 10_000);
    const expected = process.getuid?.() === 0 ? 65534 : process.getuid?.();
    assert.equal(seen.uid, expected, 'the sandboxed process runs as the sandbox uid on the host, never root');
    process.kill(seen.pid, 'SIGKILL');
    assert.equal((await running).result.code, 'exit_137');
    const kept = await h.run(shell('owned', 'mkdir -p sub && echo mine > sub/mine.txt && ln -s /etc/passwd link'));
    assert.equal(kept.result.outcome, 'success', kept.console);
    for (const path of ['.', 'sub', 'sub/mine.txt']) {
      assert.equal((await stat(join(h.dirFor('owned'), path))).uid, process.getuid?.(), `${path} belongs to the worker again`);
    }
    assert.equal((await stat('/etc/passwd')).uid, 0, 'handing the workspace over and back never follows its links');
  });

  it('cannot read the worker token, its credentials or its environment', async () => {
    const home = await tempDir('distci-worker-home-');
    const tokenFile = join(home.path, '.config', 'distci', 'token');
    await mkdir(join(home.path, '.config', 'distci'), { recursive: true });
    await writeFile(tokenFile, 'file-token-5f0c2b\n', { mode: 0o600 });
    const rootToken = join(h.workRoot, 'worker-token');
    await writeFile(rootToken, 'root-token-91ad7e\n', { mode: 0o600 });
    await writeFile(join(unconfined.workRoot, 'worker-token'), 'root-token-91ad7e\n', { mode: 0o600 });
    const saved = { ...process.env };
    Object.assign(process.env, { DISTCI_TOKEN: 'env-token-c3e8a4', WORKER_CLOUD_KEY: 'cloud-key-77b1d0', HOME: home.path });
    const script = (workRoot: string) => [
      'env',
      `cat ${tokenFile} || true`,
      `cat ${join(workRoot, 'worker-token')} || true`,
      'cat ~/.config/distci/token || true',
      'cat /proc/1/environ /proc/self/environ | tr "\\0" "\\n" || true',
      `grep -rsh -e env-token -e file-token -e root-token -e cloud-key /etc /tmp /workspace ${home.path} || true`,
    ].join('\n');
    try {
      const confined = await h.run(shell('steal', script(h.workRoot)));
      assert.equal(confined.result.outcome, 'success', confined.console);
      for (const secret of ['env-token-c3e8a4', 'file-token-5f0c2b', 'root-token-91ad7e', 'cloud-key-77b1d0']) {
        assert.ok(!confined.console.includes(secret), `the sandboxed script saw ${secret}:\n${confined.console}`);
      }
      // The same script without the sandbox finds the files and the worker's variable.
      const open = await unconfined.run(shell('steal', script(unconfined.workRoot)));
      for (const secret of ['file-token-5f0c2b', 'root-token-91ad7e', 'cloud-key-77b1d0']) {
        assert.ok(open.console.includes(secret), `control: the unconfined script should see ${secret}`);
      }
    } finally {
      process.env = saved;
      await home.remove();
    }
  });

  it('cannot write outside its workspace: host /tmp, the work root, another build\'s workspace, /etc, /usr, the worker\'s home', async () => {
    const victim = h.dirFor('victim', 1, 'other-job', 7);
    await mkdir(victim, { recursive: true });
    await writeFile(join(victim, 'keep.txt'), 'untouched');
    const home = await tempDir('distci-worker-home-');
    const marker = `distci-escape-${process.pid}-${Date.now()}`;
    const targets = [
      join('/tmp', marker),
      join(h.workRoot, marker),
      join(victim, marker),
      join('/etc', marker),
      join('/usr', marker),
      join('/', marker),
      join(home.path, marker),
    ];
    const script = [
      ...targets.map((t) => `mkdir -p $(dirname ${t}) 2>/dev/null; echo pwned > ${t} 2>/dev/null && echo "wrote ${t}" || echo "refused ${t}"`),
      `echo pwned > ${join(victim, 'keep.txt')} 2>/dev/null || true`,
      `rm -rf ${victim} 2>/dev/null || true`,
      'echo mine > inside.txt',
    ].join('\n');
    try {
      const { result, console } = await h.run(shell('escape', script));
      assert.equal(result.outcome, 'success', console);
      for (const target of targets) assert.ok(!existsSync(target), `${target} was written from the sandbox`);
      assert.equal(readFileSync(join(victim, 'keep.txt'), 'utf8'), 'untouched');
      assert.ok((await uploadedFiles(h.api, 'escape')).includes('inside.txt'));
    } finally {
      await Promise.all(targets.map((t) => rm(t, { force: true })));
      await home.remove();
    }
  });

  it('leaves nothing running when the step times out, background children included', async () => {
    const started = Date.now();
    const { result } = await h.run(shell('linger', '(sleep 60 &); setsid sleep 60 & sleep 60', { timeoutSeconds: 1 }));
    assert.equal(result.code, 'timeout');
    assert.ok(Date.now() - started < 5000);
    await eventually(() => assert.deepEqual(sandboxedProcesses(), []), 5000);
  });

  it('dies with bwrap: killing it (as when the worker dies) ends every process of the sandbox', async () => {
    const running = h.run(shell('orphan', '(sleep 60 &); sleep 60'), { signal: AbortSignal.timeout(20_000) });
    await eventually(() => assert.equal(sandboxedProcesses().filter((p) => p.command === 'sleep').length, 2), 10_000);
    const outer = bwrapChildren();
    assert.equal(outer.length, 1, 'one bwrap started by this worker');
    process.kill(outer[0]!, 'SIGKILL');
    await eventually(() => assert.deepEqual(sandboxedProcesses(), []), 5000);
    const { result } = await running;
    assert.equal(result.outcome, 'failure');
  });
});

/** bwrap processes whose parent is this test process. */
function bwrapChildren(): number[] {
  const found: number[] = [];
  for (const line of readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8').trim().split(/\s+/)) {
    if (!line) continue;
    try {
      if (readFileSync(`/proc/${line}/comm`, 'utf8').trim() === 'bwrap') found.push(Number(line));
    } catch {
      // Gone.
    }
  }
  return found;
}
