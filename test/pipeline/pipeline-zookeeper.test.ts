/**
 * The pipeline suite (pipeline-suite.ts) on a real 3-node ZooKeeper ensemble started by
 * scripts/zookeeper.sh: both frontends run with `--coordinator zookeeper://<ensemble>/<root>`
 * (a root no other test uses) and the default `file:` store in their shared data directory.
 * Without ZooKeeper the suite fails, saying how to get it.
 */
import { after } from 'node:test';
import { defaultStoreUrl, openStore } from '../../src/storage/open.js';
import { startEnsemble, type Ensemble } from '../support/zookeeper.js';
import { pipelineSuite } from './pipeline-suite.js';

let ensemble: Ensemble | undefined;
let root: string | undefined;

after(async () => {
  if (ensemble && root) await ensemble.removeRoot(root);
  await ensemble?.stop();
});

pipelineSuite('zookeeper 3-node ensemble', async () => {
  ensemble = await startEnsemble(3);
  root = ensemble.freshRoot();
  return {
    frontendArgs: ['--coordinator', ensemble.url(root)],
    env: {},
    keys: async (prefix, dataDir) => {
      const store = await openStore(defaultStoreUrl(dataDir));
      try {
        const keys: string[] = [];
        for (let cursor: string | undefined; ; ) {
          const page = await store.list(prefix, cursor ? { after: cursor } : {});
          keys.push(...page.keys.map((k) => k.key));
          if (!page.next) return keys;
          cursor = page.next;
        }
      } finally {
        await store.close();
      }
    },
  };
});
