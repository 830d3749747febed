import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../support/embedded.js';
import { KindsHarness, seedWorkspace, stepPayload } from './support.js';

describe('copy-artifacts', () => {
  let h: KindsHarness;
  let outside: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  const copy = async (params: Record<string, unknown>, inputs = [{ step: 'src', attempt: 1 }]) => {
    const step = `copy${n++}`;
    const run = await h.run(stepPayload('copy-artifacts', step, params, { inputs }));
    return { ...run, dir: h.dirFor(step) };
  };
  const artifacts = (job: string, build: number, files: Record<string, string>): void => {
    h.api.artifacts.set(`${job}/${build}`, new Map(Object.entries(files).map(([p, s]) => [p, Buffer.from(s)])));
  };

  before(async () => {
    h = await KindsHarness.start();
    outside = await tempDir('distci-outside-');
    artifacts('lib', 3, { 'lib.so': 'old' });
    artifacts('lib', 4, { 'lib.so': 'new', 'include/lib.h': 'header', 'docs/readme.md': 'docs' });
    h.api.lastSuccessful.set('lib', 4);
    artifacts('evil', 1, { '../escape.txt': 'pwned', 'fine.txt': 'ok' });
    await seedWorkspace(h.api, 'src', { 'main.c': 'int main;' });
  });
  after(async () => {
    await h.close();
    await outside.remove();
  });

  it('copies every artifact of the last successful build into dir, next to the workspace files', async () => {
    const { result, dir, console } = await copy({ job: 'lib', dir: 'deps' });
    assert.equal(result.outcome, 'success', console);
    assert.equal(await readFile(join(dir, 'deps/lib.so'), 'utf8'), 'new');
    assert.equal(await readFile(join(dir, 'deps/include/lib.h'), 'utf8'), 'header');
    assert.equal(await readFile(join(dir, 'main.c'), 'utf8'), 'int main;');
    const data = result.data as { artifacts: { path: string; size: number }[]; fromBuild: number };
    assert.equal(data.fromBuild, 4);
    assert.deepEqual(data.artifacts, [
      { path: 'docs/readme.md', size: 4 },
      { path: 'include/lib.h', size: 6 },
      { path: 'lib.so', size: 3 },
    ]);
    assert.deepEqual((await readdir(join(dir, 'deps'))).sort(), ['docs', 'include', 'lib.so'], 'no temporary files left');
  });

  it('copies only the artifacts matching paths, from a given build', async () => {
    const { result, dir } = await copy({ job: 'lib', build: 3, paths: ['*.so'] });
    assert.equal(result.outcome, 'success');
    assert.equal(await readFile(join(dir, 'lib.so'), 'utf8'), 'old');
    const filtered = await copy({ job: 'lib', paths: ['include'] });
    assert.deepEqual((filtered.result.data as { artifacts: { path: string }[] }).artifacts.map((a) => a.path), ['include/lib.h']);
    assert.equal(existsSync(join(filtered.dir, 'lib.so')), false);
  });

  it('fails with artifacts_not_found for an unknown job or build, and no_artifacts when nothing matches', async () => {
    const unknown = await copy({ job: 'nope' });
    assert.equal(unknown.result.outcome, 'failure');
    assert.equal(unknown.result.code, 'artifacts_not_found');
    const none = await copy({ job: 'lib', paths: ['*.dll'] });
    assert.equal(none.result.code, 'no_artifacts');
    assert.match(none.result.message ?? '', /'\*\.dll'/);
  });

  it('refuses an artifact path climbing out, and writing through a symlink leading out', async () => {
    const climbing = await copy({ job: 'evil', build: 1 });
    assert.equal(climbing.result.outcome, 'failure');
    assert.equal(climbing.result.code, 'unsafe_path');
    assert.equal(existsSync(join(climbing.dir, '..', 'escape.txt')), false);
    // A stored archive may not carry a link leading out; a step of the build can still make one.
    const linked = await h.run(stepPayload('execute-shell', 'link', { script: `ln -s ${outside.path} escape` }));
    assert.equal(linked.result.outcome, 'success');
    const through = await copy({ job: 'lib', dir: 'escape' }, [{ step: 'link', attempt: 1 }]);
    assert.equal(through.result.code, 'unsafe_path');
    assert.deepEqual(await readdir(outside.path), []);
  });

  it('refuses bad params', async () => {
    for (const params of [{}, { job: '' }, { job: 'lib', build: 0 }, { job: 'lib', build: 'latest' }, { job: 'lib', dir: '/abs' }, { job: 'lib', paths: ['../*'] }]) {
      const { result } = await copy(params);
      assert.equal(result.code, 'bad_params', JSON.stringify(params));
    }
  });
});
