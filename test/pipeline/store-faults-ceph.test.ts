/**
 * Store faults under running builds, on a real Ceph RADOS Gateway (started by
 * scripts/ceph.sh): the gateway is stopped mid-build for several seconds. Meanwhile the
 * frontends answer every call that needs the store with 503 `unavailable`, the workers
 * retry their console appends, workspace uploads and downloads and artifact uploads
 * instead of failing the step, and no reader ever sees part of an artifact, workspace or
 * console chunk. Once the gateway is back the build succeeds, each step in one attempt.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { ApiClient, ApiError, type CallOptions } from '../../src/client/api-client.js';
import { BuildsApi } from '../../src/client/builds-api.js';
import { StepApi } from '../../src/client/step-api.js';
import { TicketsApi } from '../../src/client/tickets-api.js';
import { artifactKey, consoleStepPrefix, workspaceKey, type BuildRecord } from '../../src/core/builds/build.js';
import { LocalCluster } from '../support/cluster.js';
import { freshBucket, sharedCeph, type CephCluster } from '../support/ceph.js';
import { eventually } from '../support/wait.js';

const MiB = 1024 * 1024;
/**
 * The gateway stays down at least this long: well past a worker's first retries (its
 * client backs off 50 ms doubling up to 2 s), so a write that gives up after a few
 * refusals would fail its step.
 */
const OUTAGE_MS = 5000;
const ceph = sharedCeph();
const bucket = freshBucket('faults');
let bucketMade = false;
after(async () => {
  if (bucketMade) await (await ceph.get()).removeBucket(bucket).catch((err: Error) => assert.equal(err.name, 'NoSuchBucket', err.message));
  await ceph.stop();
});

/** One try only: a reader that wants to see the answer, not have it retried away. */
const ONCE: CallOptions = { retryUntil: 0 };

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Rejects unless `call` fails with HTTP 503 and the retryable code `unavailable`. */
async function assertUnavailable(what: string, call: () => Promise<unknown>): Promise<void> {
  await assert.rejects(call(), (err: unknown) => {
    assert.ok(err instanceof ApiError, `${what}: expected an error answer, got ${String(err)}`);
    assert.equal(err.status, 503, `${what}: ${err.message}`);
    assert.equal(err.code, 'unavailable', what);
    return true;
  });
}

/**
 * How many times the frontends answered 503 `unavailable` to a request that touched
 * store objects `<op> of '<keyPrefix>...'`: the refusals each frontend logs. Each one the
 * worker saw and retried.
 */
function refusals(cluster: LocalCluster, op: 'put' | 'get', keyPrefix: string): number {
  const needle = `${op} of '${keyPrefix}`;
  return cluster.frontends
    .flatMap((f) => f.stderr().split('\n'))
    .filter((line) => line.includes('"code":"unavailable"') && line.includes(needle)).length;
}

/** Keeps the gateway down until `OUTAGE_MS` after `stoppedAt`: the fault's length, not a wait for an event. */
async function holdOutage(stoppedAt: number): Promise<void> {
  const left = OUTAGE_MS - (Date.now() - stoppedAt);
  if (left > 0) await delay(left);
}

async function startStoreCluster(cluster: CephCluster, prefix: string, frontends: number, leaseTtlMs: number): Promise<LocalCluster> {
  bucketMade = true;
  // Fail fast while the gateway is down: one connect attempt of 1 s, one SDK retry.
  const url = cluster.storeUrl(bucket, prefix, { connectTimeoutMs: 1000, maxAttempts: 2 });
  return LocalCluster.start(frontends, ['--store', url, '--lease-ttl-ms', String(leaseTtlMs), '--sweep-ms', '100', '--log-level', 'warn'], cluster.env());
}

describe('a build through a store outage (Ceph RGW stopped mid-build)', () => {
  let ceph1: CephCluster;
  let cluster: LocalCluster;
  let client: ApiClient;
  let api: BuildsApi;
  let steps: StepApi;

  before(async () => {
    ceph1 = await ceph.get();
  });
  beforeEach(async () => {
    cluster = await startStoreCluster(ceph1, 'ci/outage', 2, 5000);
    client = new ApiClient({ servers: cluster.urls, baseBackoffMs: 20, maxBackoffMs: 500 });
    api = new BuildsApi(client);
    steps = new StepApi(client);
  });
  afterEach(async () => {
    await client.close();
    await cluster.stop();
  });

  async function finished(job: string, number: number): Promise<BuildRecord> {
    return eventually(async () => {
      const b = await api.getBuild(job, number);
      assert.ok(['success', 'failure', 'error', 'cancelled'].includes(b.status), `${job}#${number} is ${b.status}`);
      return b;
    }, 90_000, 100);
  }

  it('keeps the steps waiting while the gateway is down, and the build succeeds once it is back', { timeout: 180_000 }, async (t) => {
    const gate = join(cluster.dir, 'gate');
    // prep's 12 MiB workspace goes up in parts; talk prints while the gateway is down, then
    // uploads a workspace; publish (on a worker started during the outage) must download
    // prep's workspace first; verify checks the bytes after it all.
    await api.applyJob(
      'outage',
      `
id: outage
steps:
  - {name: prep, type: execute-shell, params: {script: 'mkdir -p out && head -c ${12 * MiB} /dev/urandom > out/blob.bin && sha256sum out/blob.bin > out/blob.sha'}}
  - {name: talk, type: execute-shell, needs: [prep], params: {script: 'touch ${gate}.started; while [ ! -e ${gate}.go ]; do sleep 0.05; done; for i in $(seq 1 40); do echo "line $i"; sleep 0.05; done; echo talked > talked.txt'}}
  - {name: publish, type: publish-artifacts, needs: [prep], params: {paths: ["out/*"]}}
  - {name: verify, type: execute-shell, needs: [talk, publish], params: {script: 'sha256sum -c out/blob.sha && cat talked.txt'}}
`,
      'yaml',
    );
    cluster.startWorker(['--kinds', 'build-control,execute-shell', '--concurrency', '4', '--worker-id', 'shell', '--log-level', 'warn']);
    const { build } = await api.trigger('outage');
    await eventually(() => assert.ok(existsSync(`${gate}.started`), 'talk started'), 60_000, 50);

    await ceph1.stopGateway();
    const stoppedAt = Date.now();
    try {
      await assertUnavailable('console', () => api.console('outage', build.number, ONCE));
      await assertUnavailable('artifact list', () => steps.listArtifacts('outage', build.number, ONCE));
      await assertUnavailable('workspace download', () => steps.getWorkspace('outage', build.number, 'prep', 1, ONCE));
      const ready = await fetch(`${cluster.urls[0]}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(((await ready.json()) as { store: { ok: boolean } }).store.ok, false);

      writeFileSync(`${gate}.go`, '');
      cluster.startWorker(['--kinds', 'publish-artifacts', '--worker-id', 'publisher', '--log-level', 'warn']);
      // Every kind of store write and read the steps make was refused, and retried, a few times.
      const expected: Array<['put' | 'get', string]> = [
        ['put', consoleStepPrefix('outage', build.number, 'talk')],
        ['put', workspaceKey('outage', build.number, 'talk', 1)],
        ['get', workspaceKey('outage', build.number, 'prep', 1)],
      ];
      await eventually(() => {
        for (const [op, key] of expected) assert.ok(refusals(cluster, op, key) >= 3, `${op} ${key} refused ${refusals(cluster, op, key)} times`);
      }, 60_000, 100);
      await holdOutage(stoppedAt);
      const during = await api.getBuild('outage', build.number);
      assert.equal(during.status, 'running');
      assert.deepEqual(during.steps.map((s) => [s.name, s.status]), [['prep', 'success'], ['talk', 'running'], ['publish', 'running'], ['verify', 'pending']]);
      t.diagnostic(`gateway down for ${Date.now() - stoppedAt} ms; refusals: ${expected.map(([op, key]) => `${op} ${key}: ${refusals(cluster, op, key)}`).join(', ')}`);
    } finally {
      await ceph1.startGateway();
    }

    const done = await finished('outage', build.number);
    assert.equal(done.status, 'success', JSON.stringify(done.steps.map((s) => [s.name, s.status, s.code, s.message])));
    for (const s of done.steps) assert.deepEqual(s.attempts.map((a) => a.outcome), ['success'], `${s.name} ran once`);
    const console = await api.console('outage', build.number);
    const printed = console.split('\n').filter((l) => /^line \d+$/.test(l));
    assert.deepEqual(printed, Array.from({ length: 40 }, (_, i) => `line ${i + 1}`), 'every line once, in order');
    assert.match(console, /out\/blob\.bin: OK/);
    assert.match(console, /talked/);
    const { artifacts } = await steps.listArtifacts('outage', build.number);
    assert.deepEqual(artifacts.map((a) => [a.path, a.size]).sort(), [['out/blob.bin', 12 * MiB], ['out/blob.sha', `${'0'.repeat(64)}  out/blob.bin\n`.length]]);
    const blob = await readAll(await steps.getArtifact('outage', build.number, 'out/blob.bin'));
    const sum = await readAll(await steps.getArtifact('outage', build.number, 'out/blob.sha'));
    assert.equal(sum.toString().split(' ')[0], sha256(blob));
  });

  it('retries an artifact upload the gateway cut off midway, while readers see 503 or the whole artifact', { timeout: 180_000 }, async (t) => {
    // The test is the step worker here: it claims the step and writes through a StepApi on
    // a client set up as the worker's (default backoff), making the calls (and retries) of
    // the worker's ConsoleWriter, uploadWorkspace and publish-artifacts.
    cluster.startWorker(['--kinds', 'build-control', '--worker-id', 'control', '--log-level', 'warn']);
    await api.applyJob('handmade', `id: handmade\nsteps:\n  - {name: upload, type: publish-artifacts, params: {paths: ["blob.bin"]}}\n`, 'yaml');
    const { build } = await api.trigger('handmade');
    const tickets = new TicketsApi(client);
    const grant = await tickets.claim({ workerId: 'test', kinds: ['publish-artifacts'], labels: [], waitMs: 20_000, claimId: `test-${build.number}` });
    assert.ok(grant, 'claimed the step');
    const { ticket, lease } = grant;
    const renewing = setInterval(() => void tickets.renew(ticket.id, lease.token, ONCE).catch(() => undefined), 1000);
    const workerClient = new ApiClient({ servers: cluster.urls });
    const worker = new StepApi(workerClient);
    t.after(async () => {
      clearInterval(renewing);
      await workerClient.close();
    });

    const data = randomBytes(20 * MiB);
    const tar = randomBytes(64 * 1024);
    const key = artifactKey('handmade', build.number, 'blob.bin');

    // A reader polls the artifact all along: it may find nothing (404) or an unavailable
    // store (503), or the whole artifact; never part of one.
    const seen = new Map<string, number>();
    let reading = true;
    const reader = (async () => {
      while (reading) {
        let outcome: string;
        try {
          const body = await readAll(await steps.getArtifact('handmade', build.number, 'blob.bin', ONCE));
          assert.equal(body.length, data.length, 'a reader got part of the artifact');
          assert.equal(sha256(body), sha256(data), 'a reader got other bytes');
          outcome = 'whole';
        } catch (err) {
          if (!(err instanceof ApiError) || ![404, 503].includes(err.status)) throw err;
          outcome = String(err.status);
        }
        seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
        await delay(50);
      }
    })();
    t.after(async () => {
      reading = false;
      await reader.catch(() => undefined);
    });

    await worker.appendConsole(ticket.id, lease.token, 0, 'before the outage\n');

    // First try: 17 MiB, enough for the frontend to begin a multipart upload; then the
    // gateway stops; then the rest. The client's retries send the whole body at once.
    let tries = 0;
    const held = new Readable({ read: () => undefined });
    const artifactUpload = worker.putArtifact(ticket.id, lease.token, 'blob.bin', () => {
      if (tries++ > 0) return Readable.from([data]);
      held.push(data.subarray(0, 17 * MiB));
      return held;
    });
    const settled = { artifact: false, console: false, workspace: false };
    void artifactUpload.finally(() => (settled.artifact = true)).catch(() => undefined);
    const s3 = ceph1.client();
    await eventually(async () => {
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: 'ci/outage/' }));
      assert.ok((uploads.Uploads ?? []).some((u) => u.Key === `ci/outage/${key}`), 'the multipart upload began');
    }, 30_000, 20);

    await ceph1.stopGateway();
    const stoppedAt = Date.now();
    held.push(data.subarray(17 * MiB));
    held.push(null);
    const consoleAppend = worker.appendConsole(ticket.id, lease.token, 1, 'during the outage\n');
    const workspaceUpload = worker.putWorkspace(ticket.id, lease.token, () => Readable.from([tar]));
    void consoleAppend.finally(() => (settled.console = true)).catch(() => undefined);
    void workspaceUpload.finally(() => (settled.workspace = true)).catch(() => undefined);
    try {
      await assertUnavailable('console', () => api.console('handmade', build.number, ONCE));
      await eventually(() => {
        for (const [what, op, prefix] of [
          ['artifact upload', 'put', key],
          ['console append', 'put', consoleStepPrefix('handmade', build.number, 'upload')],
          ['workspace upload', 'put', workspaceKey('handmade', build.number, 'upload', 1)],
        ] as const) {
          assert.ok(refusals(cluster, op, prefix) >= 3, `${what} refused ${refusals(cluster, op, prefix)} times`);
        }
      }, 60_000, 100);
      await holdOutage(stoppedAt);
      assert.deepEqual(settled, { artifact: false, console: false, workspace: false }, 'no write gave up');
      assert.ok((seen.get('503') ?? 0) > 0, 'the reader met the outage');
      assert.equal(seen.get('whole'), undefined, 'no artifact before its upload completed');
      t.diagnostic(`gateway down for ${Date.now() - stoppedAt} ms; artifact upload tried ${tries} times`);
    } finally {
      await ceph1.startGateway();
    }
    assert.deepEqual(await artifactUpload, { path: 'blob.bin', size: data.length });
    assert.equal((await workspaceUpload).size, tar.length);
    await consoleAppend;
    await eventually(() => assert.ok((seen.get('whole') ?? 0) >= 3, `reader outcomes ${JSON.stringify([...seen])}`), 30_000, 50);
    reading = false;
    await reader;
    t.diagnostic(`reader outcomes: ${JSON.stringify([...seen])}`);

    assert.equal(sha256(await readAll(await steps.getWorkspace('handmade', build.number, 'upload', 1))), sha256(tar));
    const done = await tickets.complete(ticket.id, lease.token, {
      outcome: 'success',
      data: { workspace: { step: 'upload', attempt: 1 }, artifacts: [{ path: 'blob.bin', size: data.length }] },
    });
    assert.equal(done.status, 'done');
    const record = await finished('handmade', build.number);
    assert.equal(record.status, 'success');
    assert.match(await api.console('handmade', build.number), /before the outage\nduring the outage\n/);
  });
});
