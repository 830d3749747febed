/**
 * Exactly once across three frontends sharing a real 3-node ZooKeeper ensemble, under
 * concurrent requests: build numbers, cron ticks, and job config updates with If-Match.
 * Build numbers and config updates go through three frontend processes; cron uses three
 * in-process frontends (each with its own ZooKeeper session) so the test owns the clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiClient, ApiError } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import { LocalCluster, tally } from '../support/cluster.js';
import { tempDir } from '../support/embedded.js';
import { startEnsemble, type Ensemble } from '../support/zookeeper.js';
import { startZkFrontend, type ZkTestFrontend } from './zk-frontend.js';

const job = (id: string, description = 'x', extra = ''): string =>
  `id: ${id}\ndescription: "${description}"\n${extra}steps:\n  - {name: s, type: execute-shell, params: {script: "true"}}\n`;

let ensemble: Ensemble;
const roots: string[] = [];
before(async () => {
  ensemble = await startEnsemble(3);
});
after(async () => {
  for (const root of roots) await ensemble?.removeRoot(root);
  await ensemble?.stop();
});

function freshRoot(): string {
  const root = ensemble.freshRoot();
  roots.push(root);
  return root;
}

describe('three frontend processes on one ZooKeeper ensemble', () => {
  let cluster: LocalCluster;
  /** One client per frontend, each talking to that frontend only. */
  let apis: BuildsApi[];
  const clients: ApiClient[] = [];

  before(async () => {
    cluster = await LocalCluster.start(3, ['--coordinator', ensemble.url(freshRoot()), '--log-level', 'warn']);
    apis = cluster.urls.map((url) => {
      const client = new ApiClient({ servers: [url] });
      clients.push(client);
      return new BuildsApi(client);
    });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await cluster?.stop();
  });

  it('numbers 60 concurrent triggers spread over three frontends 1..N, with no gap and no duplicate; a key sent to all three makes one build', async () => {
    await apis[0]!.applyJob('burst', job('burst'), 'yaml');
    const plain = Array.from({ length: 60 }, (_, i) => apis[i % 3]!.trigger('burst'));
    // The same idempotency key through every frontend at once: one build per key.
    const keyed = Array.from({ length: 10 }, (_, k) => apis.map((api) => api.trigger('burst', { idempotencyKey: `key-${k}` }))).flat();
    const plainMade = await Promise.all(plain);
    const keyedMade = await Promise.all(keyed);

    assert.ok(plainMade.every((m) => m.created));
    for (let k = 0; k < 10; k++) {
      const answers = keyedMade.slice(k * 3, k * 3 + 3);
      assert.equal(new Set(answers.map((a) => a.build.number)).size, 1, `key-${k}: all three frontends answer with the same build`);
      assert.equal(answers.filter((a) => a.created).length, 1, `key-${k}: exactly one of the three created it`);
    }
    const numbers = [...plainMade, ...keyedMade.filter((m) => m.created)].map((m) => m.build.number).sort((a, b) => a - b);
    assert.deepEqual(numbers, Array.from({ length: 70 }, (_, i) => i + 1));

    const listed: number[] = [];
    for (let before: number | undefined; ; ) {
      const page = await apis[1]!.listBuilds('burst', { limit: 25, ...(before ? { before } : {}) });
      listed.push(...page.builds.map((b) => b.number));
      if (page.next === null) break;
      before = page.next;
    }
    assert.deepEqual(listed, Array.from({ length: 70 }, (_, i) => 70 - i), 'every build is stored once');
    const tickets = new TicketsApi(apis[2]!.client);
    const controls = await tickets.list({ kind: 'build-control', job: 'burst', limit: 500 });
    assert.deepEqual([...tally(controls.tickets.map((t) => String(t.refs.build))).values()], Array(70).fill(1), 'one build-control ticket per build');
  });

  it('lets exactly one of six concurrent If-Match updates through per version; the others get 409 and the winner is what is stored', async () => {
    await apis[0]!.applyJob('contested', job('contested', 'start'), 'yaml');
    for (let round = 0; round < 8; round++) {
      const { version } = await apis[round % 3]!.getJob('contested');
      const contenders = Array.from({ length: 6 }, (_, i) =>
        apis[i % 3]!.applyJob('contested', job('contested', `round ${round} by ${i}`), 'yaml', { ifMatch: version }).then(
          (r) => ({ i, version: r.job.version }),
          (err: unknown) => ({ i, err }),
        ),
      );
      const results = await Promise.all(contenders);
      const won = results.filter((r) => 'version' in r);
      const lost = results.filter((r): r is { i: number; err: unknown } => 'err' in r);
      assert.equal(won.length, 1, `round ${round}: one winner, got ${JSON.stringify(results)}`);
      for (const { err } of lost) {
        assert.ok(err instanceof ApiError && err.status === 409 && err.code === 'conflict', `a loser gets 409 conflict, got ${String(err)}`);
      }
      const current = (await apis[(round + 1) % 3]!.getJob('contested')) as { version: number; config: { description: string } };
      assert.equal(current.version, version + 1);
      assert.equal(current.config.description, `round ${round} by ${won[0]!.i}`, 'the stored config is the winner’s');
    }
  });

  it('loses no update when nine writers on three frontends read, change and write back with If-Match, retrying on 409', async () => {
    await apis[0]!.applyJob('shared', job('shared', ''), 'yaml');
    const start = (await apis[0]!.getJob('shared')).version;
    const conflicts: number[] = [];
    const writer = async (name: string, api: BuildsApi): Promise<void> => {
      for (let tries = 0; ; tries++) {
        const current = (await api.getJob('shared')) as { version: number; config: { description?: string } };
        const names = (current.config.description ?? '').split(' ').filter(Boolean);
        try {
          await api.applyJob('shared', job('shared', [...names, name].join(' ')), 'yaml', { ifMatch: current.version });
          conflicts.push(tries);
          return;
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 409)) throw err;
          assert.ok(tries < 100, `${name} never got its write in`);
        }
      }
    };
    await Promise.all(Array.from({ length: 9 }, (_, i) => writer(`w${i}`, apis[i % 3]!)));
    const final = (await apis[1]!.getJob('shared')) as { version: number; config: { description: string } };
    assert.deepEqual(final.config.description.split(' ').sort(), Array.from({ length: 9 }, (_, i) => `w${i}`));
    assert.equal(final.version, start + 9, 'one version per write, none lost or doubled');
    assert.ok(conflicts.some((c) => c > 0), 'the writers did collide');
    for (let v = start + 1; v <= final.version; v++) assert.equal((await apis[v % 3]!.getJobVersion('shared', v)).version, v);
  });
});

describe('cron with three in-process frontends on one ZooKeeper ensemble', () => {
  let frontends: ZkTestFrontend[] = [];
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let api: BuildsApi;
  let clock = Date.UTC(2026, 10, 28, 8, 1, 0);

  before(async () => {
    dir = await tempDir();
    const url = ensemble.url(freshRoot(), { sessionTimeoutMs: 4000 });
    frontends = await Promise.all(Array.from({ length: 3 }, () => startZkFrontend(url, dir.path, () => clock)));
    api = new BuildsApi(frontends[0]!.client());
  });
  after(async () => {
    for (const f of frontends) await f.close();
    await dir?.remove();
  });

  /** Every frontend sees the tick due twice, all six passes at once. */
  const tickAll = async (): Promise<string[]> =>
    (await Promise.all(frontends.flatMap((f) => [f.frontend.cron.tick(), f.frontend.cron.tick()]))).flat();

  it('fires each tick of each job exactly once however many frontends see it due at the same moment', async () => {
    const jobs = ['nightly-a', 'nightly-b', 'nightly-c', 'nightly-d'];
    for (const [i, id] of jobs.entries()) await new BuildsApi(frontends[i % 3]!.client()).applyJob(id, job(id, 'cron', 'triggers: {cron: "*/5 * * * *"}\n'), 'yaml');
    assert.deepEqual(await tickAll(), [], 'no tick is due yet at 08:01');
    const fired: string[] = [];
    for (let i = 0; i < 4; i++) {
      clock += 5 * 60_000;
      fired.push(...(await tickAll()));
      fired.push(...(await tickAll()));
    }
    assert.equal(new Set(fired).size, fired.length, `no build reported twice: ${fired.join(' ')}`);
    assert.equal(fired.length, jobs.length * 4, `one build per job and tick: ${fired.join(' ')}`);
    for (const id of jobs) {
      const { builds } = await api.listBuilds(id);
      assert.deepEqual(
        builds.map((b) => [b.number, b.trigger.kind, b.trigger.by]).reverse(),
        ['08:05', '08:10', '08:15', '08:20'].map((t, i) => [i + 1, 'cron', `2026-11-28T${t}:00.000Z`]),
        `${id}: one build per tick, numbered without gaps`,
      );
    }
  });
});
