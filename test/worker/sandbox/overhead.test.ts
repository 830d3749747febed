import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BwrapSandbox, unconfined, type Sandbox } from '../../../src/worker/sandbox/index.js';
import { tempDir } from '../../support/embedded.js';
import { LIMITS, requireBwrap } from './support.js';

const RUNS = 20;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return (sorted[Math.floor((sorted.length - 1) / 2)]! + sorted[Math.ceil((sorted.length - 1) / 2)]!) / 2;
};

describe('bwrap sandbox: cost', () => {
  let root: { path: string; remove(): Promise<void> };
  let workspace: string;
  before(async () => {
    await requireBwrap();
    root = await tempDir('distci-sandbox-cost-');
    workspace = join(root.path, 'ws', 'app', '1', 'build-1');
    // A small checkout: the hand-over to the sandbox user walks every file.
    for (let d = 0; d < 10; d++) {
      await mkdir(join(workspace, `dir${d}`), { recursive: true });
      for (let f = 0; f < 20; f++) await writeFile(join(workspace, `dir${d}`, `file${f}.txt`), 'x');
    }
  });
  after(() => root?.remove());

  async function timeRuns(sandbox: Sandbox): Promise<number[]> {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const started = process.hrtime.bigint();
      const result = await sandbox.run(
        { command: 'bash', args: ['-c', 'true'], workspace, cwd: workspace, env: {}, network: true },
        { signal: new AbortController().signal },
      );
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
      assert.equal(result.exitCode, 0);
    }
    return times;
  }

  it(`adds little to starting a script (median of ${RUNS} runs of \`bash -c true\`, 200-file workspace)`, async (t) => {
    const bare = median(await timeRuns(unconfined));
    const confined = median(await timeRuns(new BwrapSandbox({ network: true, limits: LIMITS, workRoot: root.path })));
    const isolatedNet = median(await timeRuns(new BwrapSandbox({ network: false, limits: LIMITS, workRoot: root.path })));
    t.diagnostic(`unconfined ${bare.toFixed(1)} ms, bwrap ${confined.toFixed(1)} ms (+${(confined - bare).toFixed(1)}), bwrap without network ${isolatedNet.toFixed(1)} ms (+${(isolatedNet - bare).toFixed(1)})`);
    assert.ok(confined - bare < 500, `the sandbox adds ${(confined - bare).toFixed(1)} ms per step`);
  });
});
