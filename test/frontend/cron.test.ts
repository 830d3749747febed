import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiClient } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { startTestFrontend, tempDir, type TestFrontend } from '../support/embedded.js';

const JOB = `
id: nightly
triggers: {cron: "*/5 * * * *"}
steps:
  - {name: test, type: execute-shell, params: {script: "true"}}
`;

describe('cron triggers with three frontends on one coordinator', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let frontends: TestFrontend[] = [];
  let api: BuildsApi;
  let client: ApiClient;
  let clock = Date.UTC(2026, 10, 28, 8, 1, 0);

  before(async () => {
    dir = await tempDir();
    for (let i = 0; i < 3; i++) frontends.push(await startTestFrontend({ dir: dir.path, now: () => clock }));
    client = new ApiClient({ servers: frontends.map((f) => f.url) });
    api = new BuildsApi(client);
  });
  after(async () => {
    await client.close();
    for (const f of frontends) await f.close();
    frontends = [];
    await dir.remove();
  });

  const tickAll = async (): Promise<string[]> => (await Promise.all(frontends.map((f) => f.frontend.cron.tick()))).flat();

  it('fires each tick exactly once however many frontends see it due', async () => {
    await api.applyJob('nightly', JOB, 'yaml');
    assert.deepEqual(await tickAll(), [], 'no tick is due yet at 08:01');
    const fired: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock += 5 * 60_000;
      fired.push(...(await tickAll()));
      fired.push(...(await tickAll()));
    }
    const builds = await api.listBuilds('nightly');
    assert.equal(builds.builds.length, fired.length);
    assert.equal(new Set(fired).size, fired.length);
    assert.equal(fired.length, 3, `one build per tick: ${fired.join(', ')}`);
    assert.deepEqual(
      builds.builds.map((b) => [b.trigger.kind, b.trigger.by]).reverse(),
      ['08:05', '08:10', '08:15'].map((t) => ['cron', `2026-11-28T${t}:00.000Z`]),
    );
  });

  it('fires only the latest tick after a long pause, not every missed one', async () => {
    const before = (await api.listBuilds('nightly')).builds.length;
    clock += 24 * 3600_000;
    const fired = await tickAll();
    assert.equal(fired.length, 1);
    assert.equal((await api.listBuilds('nightly')).builds.length, before + 1);
  });

  it('stops firing when the cron trigger is removed', async () => {
    await api.applyJob('nightly', JOB.replace('triggers: {cron: "*/5 * * * *"}\n', ''), 'yaml');
    clock += 3600_000;
    assert.deepEqual(await tickAll(), []);
  });
});
