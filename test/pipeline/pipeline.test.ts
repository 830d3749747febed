/**
 * Whole builds through real processes on the default `file:` store (the shared suite in
 * pipeline-suite.ts), and the job concurrency limit.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { defaultStoreUrl, openStore } from '../../src/storage/open.js';
import { LocalCluster, lines } from '../support/cluster.js';
import { eventually } from '../support/wait.js';
import { pipelineSuite } from './pipeline-suite.js';

pipelineSuite('file: store', async () => ({
  frontendArgs: [],
  env: {},
  keys: async (prefix, dataDir) => {
    const store = await openStore(defaultStoreUrl(dataDir));
    const keys: string[] = [];
    for (let cursor: string | undefined; ; ) {
      const page = await store.list(prefix, cursor ? { after: cursor } : {});
      keys.push(...page.keys.map((k) => k.key));
      if (!page.next) break;
      cursor = page.next;
    }
    await store.close();
    return keys;
  },
}));

describe('job concurrency limit', () => {
  let cluster: LocalCluster;
  let api: BuildsApi;
  let client: ApiClient;
  before(async () => {
    cluster = await LocalCluster.start(1, ['--log-level', 'warn']);
    client = new ApiClient({ servers: cluster.urls });
    api = new BuildsApi(client);
    cluster.startWorker(['--concurrency', '8', '--log-level', 'warn']);
  });
  after(async () => {
    await client.close();
    await cluster.stop();
  });

  it('runs at most `concurrency` builds of a job at once and starts the queued ones as others end', async () => {
    const log = join(cluster.dir, 'overlap');
    const script = `echo "start $(date +%s%N)" >> ${log}; sleep 0.4; echo "end $(date +%s%N)" >> ${log}`;
    await api.applyJob('limited', `id: limited\nconcurrency: 1\nsteps:\n  - {name: s, type: execute-shell, params: {script: '${script}'}}\n`, 'yaml');
    const numbers: number[] = [];
    for (let i = 0; i < 3; i++) numbers.push((await api.trigger('limited')).build.number);
    await eventually(async () => {
      for (const n of numbers) assert.equal((await api.getBuild('limited', n)).status, 'success');
    }, 30_000, 50);
    const events = lines(log).map((l) => l.split(' ')[0]);
    assert.deepEqual(events, ['start', 'end', 'start', 'end', 'start', 'end'], 'never two at once');
  });
});
