import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KindsHarness, seedWorkspace, stepPayload } from './support.js';

describe('publish-artifacts', () => {
  let h: KindsHarness;
  let n = 0;
  /** A shell step adds the links (a stored archive may not carry links leading out), then publish runs on its workspace. */
  const publish = async (params: Record<string, unknown>) => {
    const prep = `prep${n++}`;
    const script = 'ln -s src/main.c link-inside; ln -s /etc/hostname link-outside; ln -s nothing-here dangling';
    const made = await h.run(stepPayload('execute-shell', prep, { script }, { build: 7, inputs: [{ step: 'built', attempt: 1 }] }));
    assert.equal(made.result.outcome, 'success', made.console);
    return h.run(stepPayload('publish-artifacts', `pub${n++}`, params, { build: 7, inputs: [{ step: prep, attempt: 1 }] }));
  };
  const stored = (): Map<string, Buffer> => h.api.artifacts.get('app/7') ?? new Map();

  before(async () => {
    h = await KindsHarness.start();
    await seedWorkspace(h.api, 'built', {
      'dist/app-1.0.tgz': 'tarball',
      'dist/app-1.0.tgz.sha256': 'sum',
      'dist/docs/index.html': '<html>',
      'dist/.meta': 'dot',
      'src/main.c': 'int main;',
      'logs/big.log': 'x'.repeat(5000),
      'logs/small.log': 'y'.repeat(10),
    });
    // Build 7's workspace came from a step of build 1; seed it there too.
    h.api.workspaces.set('app/7/built/1', h.api.workspaces.get('app/1/built/1')!);
  });
  after(() => h.close());

  it('uploads the files matching the globs and lists them with their sizes', async () => {
    const { result, console } = await publish({ paths: ['dist/*.tgz', 'src/**/*.c'] });
    assert.equal(result.outcome, 'success', console);
    assert.deepEqual((result.data as { artifacts: unknown }).artifacts, [
      { path: 'dist/app-1.0.tgz', size: 7 },
      { path: 'src/main.c', size: 9 },
    ]);
    assert.equal(stored().get('dist/app-1.0.tgz')?.toString(), 'tarball');
    assert.match(console, /published dist\/app-1\.0\.tgz \(7 bytes\)/);
  });

  it('publishes everything below a matching directory, dotfiles included', async () => {
    const { result } = await publish({ paths: ['dist/docs', './dist/.meta'] });
    assert.deepEqual((result.data as { artifacts: { path: string }[] }).artifacts.map((a) => a.path), ['dist/.meta', 'dist/docs/index.html']);
  });

  it('publishes a symlink inside the workspace as the file it points to', async () => {
    const { result } = await publish({ paths: ['link-inside'] });
    assert.equal(result.outcome, 'success');
    assert.equal(stored().get('link-inside')?.toString(), 'int main;');
  });

  it('refuses a symlink leading out of the workspace, and a dangling one', async () => {
    const out = await publish({ paths: ['link-outside'] });
    assert.equal(out.result.outcome, 'failure');
    assert.equal(out.result.code, 'unsafe_path');
    const dangling = await publish({ paths: ['dangling'] });
    assert.equal(dangling.result.code, 'broken_symlink');
  });

  it('fails with no_artifacts naming the patterns when nothing matches', async () => {
    const { result } = await publish({ paths: ['*.jar', 'target/**'] });
    assert.equal(result.outcome, 'failure');
    assert.equal(result.code, 'no_artifacts');
    assert.match(result.message ?? '', /'\*\.jar', 'target\/\*\*'/);
  });

  it('enforces maxBytes per file and in total, before uploading anything', async () => {
    const before = stored().size;
    const perFile = await publish({ paths: ['logs/*.log'], maxBytes: 4000 });
    assert.equal(perFile.result.code, 'artifact_too_large');
    assert.match(perFile.result.message ?? '', /logs\/big\.log has 5000 bytes/);
    const total = await publish({ paths: ['logs/*.log'], maxBytes: 5005 });
    assert.equal(total.result.code, 'artifact_too_large');
    assert.match(total.result.message ?? '', /5010 bytes together/);
    assert.equal(stored().has('logs/small.log'), false);
    assert.equal(stored().size, before);
  });

  it('refuses bad params', async () => {
    for (const params of [{}, { paths: [] }, { paths: [''] }, { paths: ['../x'] }, { paths: ['/etc/*'] }, { paths: ['x'], maxBytes: 0 }]) {
      const { result } = await publish(params);
      assert.equal(result.code, 'bad_params', JSON.stringify(params));
    }
  });
});
