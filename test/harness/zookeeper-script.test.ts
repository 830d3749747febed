/**
 * The ZooKeeper starter shared by tests and benches tries again after a failed start (a port
 * taken by another ensemble starting at the same moment), but not when ZooKeeper is not
 * installed. A stand-in script plays scripts/zookeeper.sh.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startZookeeper, ZookeeperStartError } from '../../src/harness/zookeeper-script.js';

describe('startZookeeper', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'distci-zk-start-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** A script that fails `failures` times with `message`, then prints what `start` prints. */
  async function standIn(name: string, failures: number, message: string): Promise<string> {
    const script = join(dir, `${name}.sh`);
    const count = join(dir, `${name}.count`);
    await writeFile(count, '0');
    await writeFile(
      script,
      `n=$(cat ${count}); echo $((n + 1)) > ${count}
if [ "$n" -lt ${failures} ]; then echo "zookeeper.sh: ${message}" >&2; exit 1; fi
echo "ZK_CONNECT=127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183"; echo "ZK_STATE=/tmp/state-${name}"\n`,
    );
    return script;
  }
  const tries = async (name: string) => Number((await readFile(join(dir, `${name}.count`), 'utf8')).trim());

  it('starts again after a failed start and reports why', async () => {
    const script = await standIn('race', 2, 'node 2 exited; see /tmp/x/node2/out.log');
    const reasons: string[] = [];
    const started = await startZookeeper(3, { script, onRetry: (reason) => reasons.push(reason) });
    assert.deepEqual(started, { servers: '127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183', state: '/tmp/state-race' });
    assert.equal(await tries('race'), 3);
    assert.equal(reasons.length, 2);
    assert.match(reasons[0]!, /node 2 exited/);
  });

  it('gives up after the last try with the script’s reason', async () => {
    const script = await standIn('broken', 5, 'node 1 does not serve on 127.0.0.1:2181 after 30 s');
    await assert.rejects(startZookeeper(3, { script, tries: 3 }), (err: unknown) => {
      assert.ok(err instanceof ZookeeperStartError);
      assert.match(err.message, /could not start a 3-node ZooKeeper.*does not serve/);
      return true;
    });
    assert.equal(await tries('broken'), 3);
  });

  it('does not try again when ZooKeeper is not installed', async () => {
    const script = await standIn('missing', 5, 'ZooKeeper (/usr/share/java/zookeeper.jar or java) is not installed. On Debian 12 run as root: …');
    await assert.rejects(startZookeeper(1, { script }), /not installed/);
    assert.equal(await tries('missing'), 1);
  });
});
