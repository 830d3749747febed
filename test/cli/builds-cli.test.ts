import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runDistci } from '../../src/harness/processes.js';
import { LocalCluster } from '../support/cluster.js';

describe('distci job and build commands', () => {
  let cluster: LocalCluster;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    cluster = await LocalCluster.start(1, ['--log-level', 'warn']);
    cluster.startWorker(['--concurrency', '4', '--log-level', 'warn']);
    env = { DISTCI_SERVER: cluster.urls.join(',') };
  });
  after(() => cluster.stop());

  it('applies a job file, then shows a typo as one line naming the field, sending nothing', async () => {
    const file = join(cluster.dir, 'greet.yaml');
    await writeFile(file, 'id: greet\nsteps:\n  - {name: hello, type: execute-shell, params: {script: "echo hello from the cli"}}\n');
    const applied = await runDistci(['job', 'apply', file], env);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /job greet created: version 1/);
    const bad = join(cluster.dir, 'bad.yaml');
    await writeFile(bad, 'id: bad\nsteps:\n  - {name: hello, type: execute-shell, params: {scrpt: "echo"}}\n');
    const refused = await runDistci(['job', 'apply', bad], env);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /steps\[0\]\.params/);
    const listed = await runDistci(['job', 'list'], env);
    assert.match(listed.stdout, /^greet\s+1\s/m);
    assert.doesNotMatch(listed.stdout, /^bad/m);
  });

  it('triggers with --follow: streams the console with step names and exits with the result', async () => {
    const ok = await runDistci(['build', 'trigger', 'greet', '--follow'], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /build greet#1 queued/);
    assert.match(ok.stdout, /── hello · attempt 1 ──/);
    assert.match(ok.stdout, /hello from the cli/);
    assert.match(ok.stdout, /── build success ──\s*$/);

    const file = join(cluster.dir, 'red.yaml');
    await writeFile(file, 'id: red\nsteps:\n  - {name: boom, type: execute-shell, params: {script: "exit 3"}}\n');
    await runDistci(['job', 'apply', file], env);
    const failed = await runDistci(['build', 'trigger', 'red', '--follow'], env);
    assert.equal(failed.code, 1);
    assert.match(failed.stdout, /── boom: failure \(exit_3/);
  });

  it('lists, shows and prints the logs of builds', async () => {
    const list = await runDistci(['build', 'list', 'greet'], env);
    assert.match(list.stdout, /^#1\s+success\s+cli:/m);
    const show = await runDistci(['build', 'show', 'greet', '1'], env);
    assert.match(show.stdout, /greet#1: success/);
    assert.match(show.stdout, /^hello\s+success\s+1\s/m);
    const logs = await runDistci(['build', 'logs', 'greet', '1'], env);
    assert.match(logs.stdout, /hello from the cli/);
    const missing = await runDistci(['build', 'show', 'greet', '99'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /not_found: build 'greet#99' does not exist/);
  });
});
