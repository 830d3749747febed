import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { drain, spawnDistci, waitForLine } from '../../src/harness/processes.js';
import { tempDir } from '../support/embedded.js';

describe('distci up', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => (dir = await tempDir()));
  after(() => dir.remove());

  it('runs the example build, stops cleanly on Ctrl-C, and finds its builds again on the next start', { timeout: 120_000 }, async () => {
    for (const number of [1, 2]) {
      const up = spawnDistci(['up', '--data', dir.path, '--port', '0']);
      const [, url] = await waitForLine(up, /distci is up: (http:\/\/\S+)/, 30_000);
      const [, status] = await waitForLine(up, new RegExp(`example build hello#${number}: (\\w+)`), 60_000);
      assert.equal(status, 'success', up.stderr().slice(-2000));
      const res = await fetch(`${url}/api/v1/jobs/hello/builds`);
      const { builds } = (await res.json()) as { builds: { number: number; status: string }[] };
      assert.deepEqual(builds.map((b) => [b.number, b.status]).reverse().slice(0, number), [[1, 'success'], [2, 'success']].slice(0, number));
      drain(up);
      up.child.kill('SIGINT');
      assert.equal(await up.exited, 0);
    }
  });
});
