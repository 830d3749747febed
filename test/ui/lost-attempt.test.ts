/**
 * A worker dies mid-step: the build page marks the lost attempt in the console, shows the
 * second attempt on the node, and lists both attempts with the worker of each.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { drain, spawnDistci, type Proc } from '../../src/harness/processes.js';
import { applyJob, launchBrowser, startDistci, type Distci, type TestBrowser } from './browser.js';
import { getBuild, trigger } from './support.js';
import { eventually } from '../support/wait.js';

const FRAGILE = `
id: fragile
steps:
  - name: work
    type: execute-shell
    labels: [fragile]
    params: {script: "echo \\"attempt $DISTCI_ATTEMPT starts\\"; if [ \\"$DISTCI_ATTEMPT\\" = 1 ]; then sleep 120; fi; echo finished"}
`;

describe('web UI: a lost attempt', () => {
  let d: Distci;
  let b: TestBrowser;
  const workers: Proc[] = [];

  const startWorker = (id: string): Proc => {
    const w = spawnDistci(['worker', '--server', d.url, '--kinds', 'execute-shell', '--labels', 'fragile', '--worker-id', id, '--log-level', 'warn']);
    drain(w);
    workers.push(w);
    return w;
  };

  before(async () => {
    // Short leases: a killed worker's step is back in play within about two seconds.
    d = await startDistci({}, ['--lease-ttl-ms', '1500']);
    b = await launchBrowser();
    await applyJob(d, 'fragile', FRAGILE);
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop(5_000)));
    await b?.close();
    await d?.stop();
  });

  it('marks where an attempt was lost and shows each attempt with its worker', { timeout: 90_000 }, async () => {
    const doomed = startWorker('doomed-worker');
    const n = await trigger(d, 'fragile');
    const { page } = b;
    await page.goto(`${d.url}/#/jobs/fragile/builds/${n}`);
    const log = page.locator('[data-testid=console]');
    await log.getByText('attempt 1 starts').waitFor({ timeout: 30_000 });

    await doomed.kill();
    startWorker('rescue-worker');
    await log.locator('.log-lost').waitFor({ timeout: 30_000 });
    assert.match(await log.locator('.log-lost').innerText(), /attempt 1 of work was lost: .*retried as attempt 2/);
    await log.getByText('attempt 2 starts').waitFor({ timeout: 30_000 });
    await page.locator('[data-build-status=success]').waitFor({ timeout: 30_000 });

    const node = page.locator('[data-testid=pipeline] [data-step=work]');
    assert.match(await node.innerText(), /attempt 2/);
    await node.click();
    const rows = page.locator('[data-testid=step-details] tbody tr');
    await eventually(async () => assert.equal(await rows.count(), 2));
    assert.match(await rows.nth(0).innerText(), /doomed-worker[\s\S]*worker_lost/);
    assert.match(await rows.nth(1).innerText(), /rescue-worker[\s\S]*success/);
    const build = await getBuild(d, 'fragile', n);
    assert.deepEqual(
      build.steps[0]?.attempts.map((a) => a.worker),
      ['doomed-worker', 'rescue-worker'],
    );
  });
});
